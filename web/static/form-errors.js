// What is wrong with a rating, item by item: the server's answer to a save or a submission (422), or
// the check before submitting. Each item says it under its score, and a summary above the submit
// button links to the items. An error is marked with the kind of request that found it, so that a
// later save that goes through clears only what saving had found.

export class FormErrors {
  constructor(form, sections) {
    this.form = form;
    this.sections = sections;
    this.byId = new Map(sections.map((s) => [s.dataset.item, s]));
    this.box = document.getElementById("form-errors");
    this.onlyDiffering = document.getElementById("only-differing");
  }

  // Sets (or, with an empty message, clears) one item's error; false when the form has no such item.
  setItem(id, message) {
    const section = this.byId.get(id);
    if (!section) return false;
    const line = section.querySelector(".item-error");
    line.textContent = message;
    line.hidden = !message;
    section.classList.toggle("has-error", Boolean(message));
    if (!message) delete section.dataset.errorKind;
    const box = this.box;
    if (!message && box && !box.hidden) {
      // Fixed: off the summary too, and the summary goes once nothing is left to fix.
      const listed = box.querySelector('li[data-item="' + CSS.escape(id) + '"]');
      if (listed) listed.remove();
      if (!box.querySelector("li") && !this.sections.some((s) => s.classList.contains("has-error"))) {
        box.hidden = true;
        box.textContent = "";
      }
    }
    return true;
  }

  clear() {
    this.sections.forEach((s) => this.setItem(s.dataset.item, ""));
    if (this.box) { this.box.hidden = true; this.box.textContent = ""; }
  }

  // The errors a save had found, once a save goes through.
  clearSaveErrors() {
    if (this.box && !this.box.hidden && this.box.dataset.kind === "save") this.clear();
    this.sections.forEach((s) => {
      if (s.classList.contains("has-error") && s.dataset.errorKind === "save") this.setItem(s.dataset.item, "");
    });
  }

  // `errors` is { item: message }; `kind` is "save" or "submit".
  show(errors, message, kind) {
    this.clear();
    if (this.onlyDiffering && this.onlyDiffering.checked) { // nothing the lead must fix may stay hidden
      this.onlyDiffering.checked = false;
      this.form.classList.remove("only-differing");
    }
    const listed = Object.keys(errors || {}).map((id) => ({ id: id, message: errors[id], shown: this.setItem(id, errors[id]) }));
    if (kind === "save") listed.forEach((e) => { if (e.shown) this.byId.get(e.id).dataset.errorKind = "save"; });
    if (!this.box) return;
    this.box.textContent = "";
    const p = document.createElement("p");
    p.textContent = message || "Some items need attention.";
    this.box.appendChild(p);
    if (listed.length) this.box.appendChild(this.summary(listed));
    this.box.dataset.kind = kind;
    this.box.hidden = false;
  }

  summary(listed) {
    // One problem for every item ("Not scored."): the titles say enough.
    const same = listed.length > 1 && listed.every((e) => e.message === listed[0].message);
    const ul = document.createElement("ul");
    listed.forEach((e) => {
      const li = document.createElement("li");
      li.dataset.item = e.id;
      if (e.shown) {
        const a = document.createElement("a");
        a.href = "#item-" + e.id;
        a.textContent = this.byId.get(e.id).dataset.title;
        li.append(a);
        if (!same) li.append(document.createTextNode(": " + e.message));
      } else {
        li.textContent = e.id + ": " + e.message;
      }
      ul.appendChild(li);
    });
    return ul;
  }
}
