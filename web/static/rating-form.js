// The rating form (a rater's own, or the adjudicator's consensus): scores, comments, evidence from the
// transcript and the overall comment, read into the body the API takes and written back from one;
// the draft saved as the rater works; submission.

import { Draft } from "./draft.js";
import { Evidence } from "./evidence.js";
import { FormErrors } from "./form-errors.js";
import { chosenScore, setScore, showScore } from "./scores.js";
import { Submission } from "./submission.js";

export class RatingForm {
  // `player` is the page's Player, or null on a page without the recording.
  constructor(form, { api, player, announce }) {
    this.form = form;
    this.player = player;
    this.announce = announce;
    this.readonly = form.hasAttribute("data-readonly");
    this.sections = Array.from(form.querySelectorAll(".rate-item[data-item]"));
    this.byId = new Map(this.sections.map((s) => [s.dataset.item, s]));
    this.overall = form.querySelector('textarea[name="overall_comment"]');
    this.progress = document.getElementById("scored-progress");
    this.count = document.getElementById("scored-count");
    this.current = null; // the item last worked on
    this.evidence = new Evidence(this.sections, player ? player.lines : [], { announce: announce, changed: () => this.changed() });
    this.errors = new FormErrors(form, this.sections);
    this.draft = new Draft(form, api, {
      collect: () => this.collect(),
      saveErrorsFixed: () => this.errors.clearSaveErrors(),
      saveRefused: (errors, message) => this.errors.show(errors, message, "save"),
    });
    this.submission = new Submission(this, api);
  }

  collect() {
    const body = { scores: {}, comments: {}, evidence: {}, overall_comment: this.overall ? this.overall.value : "" };
    this.sections.forEach((section) => {
      const id = section.dataset.item;
      body.scores[id] = chosenScore(section);
      const comment = section.querySelector('textarea[name^="comment:"]');
      if (comment && comment.value.trim()) body.comments[id] = comment.value;
    });
    body.evidence = this.evidence.toBody();
    return body;
  }

  apply(body) {
    this.sections.forEach((section) => {
      const id = section.dataset.item;
      setScore(section, body.scores ? body.scores[id] : null);
      const comment = section.querySelector('textarea[name^="comment:"]');
      if (comment) comment.value = (body.comments && body.comments[id]) || "";
      showScore(section);
    });
    this.evidence.load(body.evidence);
    if (this.overall) this.overall.value = body.overall_comment || "";
    this.updateProgress();
  }

  unscored() {
    return this.sections.filter((s) => chosenScore(s) === null);
  }

  updateProgress() {
    const scored = this.sections.length - this.unscored().length;
    if (this.progress) this.progress.value = scored;
    if (this.count) this.count.textContent = scored + " of " + this.sections.length + " scored";
  }

  changed() {
    if (this.draft.locked) return;
    this.updateProgress();
    this.draft.changed();
  }

  setCurrent(id) {
    if (id === this.current) return;
    if (this.current && this.byId.get(this.current)) this.byId.get(this.current).classList.remove("current");
    this.current = id;
    this.byId.get(id).classList.add("current");
  }

  // `id` null ends attaching; the item attached to becomes the one worked on.
  setAttaching(id) {
    if (id !== null) this.current = id;
    this.evidence.setAttaching(id);
  }

  stopAttaching() {
    if (this.evidence.attaching !== null) this.setAttaching(null);
  }

  // The player's hook for a chosen transcript line: cited while attaching, except a click on its time,
  // which still plays it.
  chooseLine(line, event) {
    if (this.evidence.attaching === null || event.target.closest(".time")) return false;
    this.evidence.cite(this.evidence.attaching, line, false);
    return true;
  }

  // The "a" key: the line being played (or last played) becomes evidence for the item worked on.
  attachLinePlayed() {
    const id = this.evidence.attaching || this.current;
    if (!id) { this.announce("Click into an item first: “a” attaches the line being played to it."); return; }
    const line = this.player.playing || this.player.lastPlayed;
    if (!line) { this.announce("Play the recording first: “a” attaches the line being played."); return; }
    this.evidence.cite(id, line, true);
  }

  clearScore(section) {
    setScore(section, null);
    showScore(section);
    this.changed();
    section.querySelector('input[type="radio"]').focus();
  }

  removeEvidence(section, button) {
    this.evidence.remove(section.dataset.item, parseInt(button.closest("li").dataset.seg, 10));
    const next = section.querySelector(".ev-remove") || section.querySelector(".attach");
    if (next) next.focus();
  }

  // A moment of the transcript beside the form plays there; elsewhere (the adjudication page, which has
  // no player) the link opens the transcript page at that moment.
  playEvidence(link, event) {
    const line = this.evidence.line(parseInt(link.dataset.seg, 10));
    if (!line || !this.player) return;
    event.preventDefault();
    this.player.seek(parseFloat(line.dataset.start), true);
    this.player.reveal(line);
  }

  onClick(event) {
    const section = event.target.closest(".rate-item[data-item]");
    if (!section) return;
    const id = section.dataset.item;
    if (event.target.closest(".clear-score")) {
      this.clearScore(section);
    } else if (event.target.closest(".attach")) {
      this.setAttaching(this.evidence.attaching === id ? null : id);
    } else if (event.target.closest(".ev-remove")) {
      this.removeEvidence(section, event.target.closest(".ev-remove"));
    } else if (event.target.closest("a.moment")) {
      this.playEvidence(event.target.closest("a.moment"), event);
    }
  }

  listen() {
    const form = this.form;
    form.addEventListener("submit", (event) => event.preventDefault());
    form.addEventListener("change", (event) => {
      if (event.target.type !== "radio") return;
      const section = event.target.closest(".rate-item");
      showScore(section);
      if (section.classList.contains("has-error")) this.errors.setItem(section.dataset.item, "");
      this.changed();
    });
    form.addEventListener("input", (event) => {
      if (event.target.tagName === "TEXTAREA") this.changed();
    });
    form.addEventListener("focusin", (event) => {
      const section = event.target.closest(".rate-item[data-item]");
      if (section) this.setCurrent(section.dataset.item);
    });
    form.addEventListener("click", (event) => this.onClick(event));
    const done = document.getElementById("attach-done");
    if (done) done.addEventListener("click", () => {
      const id = this.evidence.attaching;
      this.setAttaching(null);
      if (id) this.byId.get(id).querySelector(".attach").focus();
    });
    const onlyDiffering = document.getElementById("only-differing");
    if (onlyDiffering) {
      onlyDiffering.addEventListener("change", () => form.classList.toggle("only-differing", onlyDiffering.checked));
    }
    if (!this.readonly) {
      this.draft.keepAcrossVisits();
      this.draft.offerLocalCopy((data) => { this.apply(data); this.changed(); });
    }
    this.submission.listen();
    // First paint of the evidence lists with the transcript's times (the server rendered them already).
    this.evidence.mark();
    this.updateProgress();
    return this;
  }
}
