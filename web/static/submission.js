// Submitting a rating, in two steps: a check that every item is scored, then a confirmation, a last
// save and the submission itself, which locks the rating.

export class Submission {
  constructor(ratingForm, api) {
    this.ratingForm = ratingForm;
    this.api = api;
    this.submitUrl = ratingForm.form.dataset.submitUrl;
    this.afterSubmit = ratingForm.form.dataset.afterSubmit || window.location.pathname;
    this.start = document.getElementById("submit-start");
    this.confirmBox = document.getElementById("submit-confirm");
    this.go = document.getElementById("submit-go");
    this.cancel = document.getElementById("submit-cancel");
  }

  listen() {
    const saveNow = document.getElementById("save-now");
    if (saveNow) saveNow.addEventListener("click", () => { this.ratingForm.draft.save(); });
    if (this.start) this.start.addEventListener("click", () => this.check());
    if (this.cancel) this.cancel.addEventListener("click", () => {
      this.confirmBox.hidden = true;
      this.start.hidden = false;
      this.start.focus();
    });
    if (this.go) this.go.addEventListener("click", () => this.submit());
  }

  // Every item scored: ask to confirm; otherwise say which are not and go to the first.
  check() {
    const { errors, draft } = this.ratingForm;
    errors.clear();
    const missing = this.ratingForm.unscored();
    if (missing.length) {
      const notScored = {};
      missing.forEach((s) => { notScored[s.dataset.item] = "Not scored."; });
      errors.show(notScored, "Score every item before submitting: " + missing.length + " not scored.", "submit");
      draft.status("error", "Not submitted.");
      missing[0].scrollIntoView({ block: "center", behavior: "smooth" });
      missing[0].querySelector('input[type="radio"]').focus({ preventScroll: true });
      return;
    }
    this.start.hidden = true;
    this.confirmBox.hidden = false;
    this.go.focus();
  }

  backToStart() {
    this.go.disabled = false;
    this.confirmBox.hidden = true;
    this.start.hidden = false;
  }

  async submit() {
    const { errors, draft } = this.ratingForm;
    this.go.disabled = true;
    const saved = await draft.save();
    if (!saved || !draft.isSaved()) {
      this.backToStart();
      return; // the status says why
    }
    draft.status("saving", "Submitting…");
    let r;
    try {
      r = await this.api.call("POST", this.submitUrl);
    } catch (e) {
      r = { ok: false, status: 0, data: { error: "The server cannot be reached." } };
    }
    if (r.ok) {
      draft.locked = true;
      draft.clearLocal();
      draft.status("saved", "Submitted");
      window.location.replace(this.afterSubmit);
      return;
    }
    this.backToStart();
    if (r.status === 422) {
      errors.show(r.data.errors || {}, r.data.error, "submit");
      draft.status("error", "Not submitted: see the items marked.");
    } else if (r.status === 401) {
      draft.status("error", "Your session has expired. Log in again in another tab, then submit again: your draft is kept here.");
    } else {
      draft.status("error", "Not submitted: " + (r.data.error || "the server answered " + r.status));
    }
  }
}
