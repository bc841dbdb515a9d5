// Evidence on the rating form: the transcript lines cited for each item. Each item lists its lines as
// moments; each line shows the numbers of the items citing it; and while lines are being attached to
// an item, a click on a line cites it or takes it back.

import { timestamp } from "./player.js";

export class Evidence {
  // `sections` are the form's items; `lines` the transcript's; `changed` is called after every change.
  constructor(sections, lines, { announce, changed }) {
    this.sections = sections;
    this.lines = lines;
    this.announce = announce;
    this.changed = changed;
    this.byId = new Map(sections.map((s) => [s.dataset.item, s]));
    this.cited = new Map(sections.map((s) => [s.dataset.item, new Set(JSON.parse(s.dataset.evidence || "[]"))]));
    this.attaching = null; // the item lines are being attached to
    this.transcript = document.getElementById("transcript");
    this.banner = document.getElementById("attach-banner");
    this.bannerTitle = document.getElementById("attach-title");
  }

  // The form's body: { item: [line indexes, in order] } for the items that cite any.
  toBody() {
    const body = {};
    this.cited.forEach((lines, id) => { if (lines.size) body[id] = Array.from(lines).sort((a, b) => a - b); });
    return body;
  }

  load(body) {
    this.sections.forEach((section) => {
      const id = section.dataset.item;
      this.cited.set(id, new Set((body && body[id]) || []));
      this.render(id);
    });
    this.mark();
  }

  line(index) {
    return this.lines.find((el) => parseInt(el.dataset.index, 10) === index) || null;
  }

  render(id) {
    const section = this.byId.get(id);
    const list = section.querySelector(".evidence-list");
    if (!list) return;
    list.textContent = "";
    Array.from(this.cited.get(id)).sort((a, b) => a - b).forEach((index) => {
      const seg = this.line(index);
      const when = seg ? timestamp(parseFloat(seg.dataset.start)) : "line " + (index + 1);
      const li = document.createElement("li");
      li.dataset.seg = index;
      const link = document.createElement("a");
      link.className = "moment";
      link.href = "#t=" + (seg ? seg.dataset.start : 0);
      link.dataset.seg = index;
      link.textContent = when;
      if (seg) link.title = seg.querySelector(".text").textContent.trim();
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "ev-remove";
      remove.setAttribute("aria-label", "Remove evidence at " + when);
      remove.textContent = "×";
      li.append(link, remove);
      list.appendChild(li);
    });
    const empty = section.querySelector(".evidence-empty");
    if (empty) empty.hidden = this.cited.get(id).size > 0;
  }

  // Each line shows the numbers of the items it is evidence for; lines cited by the item being
  // attached to are marked.
  mark() {
    const citing = new Map();
    this.sections.forEach((section) => {
      this.cited.get(section.dataset.item).forEach((index) => {
        if (!citing.has(index)) citing.set(index, []);
        citing.get(index).push(section.dataset.no);
      });
    });
    this.lines.forEach((el) => {
      const index = parseInt(el.dataset.index, 10);
      const numbers = citing.get(index) || [];
      const chips = el.querySelector(".cites");
      if (chips) chips.textContent = numbers.join(" ");
      el.classList.toggle("has-evidence", numbers.length > 0);
      const mine = this.attaching !== null && this.cited.get(this.attaching).has(index);
      el.classList.toggle("cited", mine);
      const toggle = el.querySelector(".cite-toggle");
      if (toggle) {
        toggle.setAttribute("aria-pressed", String(mine));
        toggle.textContent = mine ? "Attached ✓" : "Attach";
      }
    });
  }

  // Cites the line for the item, or takes it back unless `onlyAdd` (the "a" key only ever adds).
  cite(id, line, onlyAdd) {
    const index = parseInt(line.dataset.index, 10);
    const cited = this.cited.get(id);
    const title = this.byId.get(id).dataset.title;
    const when = timestamp(parseFloat(line.dataset.start));
    if (cited.has(index) && !onlyAdd) {
      cited.delete(index);
      this.announce("Removed " + when + " from “" + title + "”");
    } else if (!cited.has(index)) {
      cited.add(index);
      this.announce("Attached " + when + " to “" + title + "”");
    } else {
      this.announce(when + " is already evidence for “" + title + "”");
      return;
    }
    this.render(id);
    this.mark();
    this.changed();
  }

  remove(id, index) {
    this.cited.get(id).delete(index);
    this.render(id);
    this.mark();
    this.changed();
    this.announce("Removed evidence from “" + this.byId.get(id).dataset.title + "”");
  }

  // `id` null ends attaching.
  setAttaching(id) {
    this.attaching = id;
    this.sections.forEach((section) => {
      const on = section.dataset.item === id;
      section.classList.toggle("attaching", on);
      const button = section.querySelector(".attach");
      if (button) {
        button.setAttribute("aria-pressed", String(on));
        button.textContent = on ? "Done attaching" : "Attach lines";
      }
    });
    if (this.transcript) this.transcript.classList.toggle("attach-mode", id !== null);
    if (this.banner) this.banner.hidden = id === null;
    if (this.bannerTitle && id !== null) this.bannerTitle.textContent = this.byId.get(id).dataset.title;
    if (id !== null) {
      this.announce("Click lines in the transcript to attach them to “" + this.byId.get(id).dataset.title + "”; Esc when done.");
    }
    this.mark();
  }
}
