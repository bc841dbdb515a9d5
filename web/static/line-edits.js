// Correcting a transcript's words on its page, keyboard first as in oTranscribe: e (or a double click)
// opens the line you are on for typing, Enter saves, Esc cancels, Shift+Enter splits the line at the
// cursor; m merges the line with the next. Alt+k, Alt+j and Alt+l drive the player while typing
// (player.js). A saved line changes in place; a merge or a split renumbers the lines, so the page is
// loaded again at the same moment.

function lineText(line) {
  const said = line.querySelector(".said");
  return said ? said.textContent : "";
}

// The words wholly before the cursor: the new line begins with the next one.
function wordAt(text, caret) {
  return text.slice(0, caret).trim().split(/\s+/).filter(Boolean).length;
}

export class LineEditor {
  constructor(list, api, announce) {
    this.list = list;
    this.url = list.dataset.editUrl;
    this.api = api;
    this.announce = announce;
    this.open = null; // { line, box, original }
  }

  // The line a key acts on: the one with the focus, or else the one last played.
  lineOn(player) {
    const focused = document.activeElement && document.activeElement.closest(".segment");
    return focused && this.list.contains(focused) ? focused : player.lastPlayed;
  }

  begin(line) {
    if (!line) { this.announce("Go to a line first: Tab to it, or play it."); return; }
    if (this.open) this.cancel();
    const said = line.querySelector(".said");
    const box = document.createElement("textarea");
    box.className = "line-editor";
    // An inaudible line is opened empty, for what a person makes out by ear.
    box.value = line.classList.contains("inaudible") ? "" : lineText(line);
    box.rows = Math.max(2, Math.ceil(box.value.length / 70));
    box.setAttribute("aria-label", "Words of the line at " + line.querySelector(".time").textContent +
      ": Enter saves, Escape cancels, Shift+Enter splits at the cursor");
    said.hidden = true;
    said.after(box);
    this.open = { line: line, box: box, original: box.value };
    box.addEventListener("keydown", (event) => this.onKey(event));
    box.focus();
    box.setSelectionRange(box.value.length, box.value.length);
  }

  close(refocus = true) {
    if (!this.open) return;
    const { line, box } = this.open;
    box.remove();
    line.querySelector(".said").hidden = false;
    this.open = null;
    if (refocus) line.focus();
  }

  cancel() {
    this.close();
    this.announce("Not changed.");
  }

  onKey(event) {
    if (event.altKey || event.ctrlKey || event.metaKey) return; // the player's keys
    if (event.key === "Escape") { event.preventDefault(); this.cancel(); }
    else if (event.key === "Enter" && event.shiftKey) { event.preventDefault(); this.split(); }
    else if (event.key === "Enter") { event.preventDefault(); this.save(); }
  }

  span(line) {
    return { start: parseFloat(line.dataset.start), end: parseFloat(line.dataset.end) };
  }

  async send(body) {
    let answer;
    try {
      answer = await this.api.call("POST", this.url, body);
    } catch (e) {
      this.announce("Not saved: the server could not be reached. Your words are still in the box.");
      return null;
    }
    if (!answer.ok) {
      this.announce("Not saved: " + (answer.data.error || "the server refused it (" + answer.status + ")."));
      return null;
    }
    return answer.data;
  }

  async save() {
    const { line, box, original } = this.open;
    const text = box.value.replace(/\s+/g, " ").trim();
    if (text === original.trim()) { this.cancel(); return; }
    if (!text) { this.announce("A line needs words: press Esc to leave it as it was."); return; }
    const data = await this.send({ kind: "text", ...this.span(line), text: text });
    if (!data) return;
    const index = Array.from(this.list.querySelectorAll(".segment")).indexOf(line);
    const segment = data.segments[index];
    this.close();
    line.querySelector(".said").textContent = segment.text;
    line.classList.remove("inaudible");
    this.mark(line, segment.edited);
    this.announce("Saved.");
  }

  mark(line, edited) {
    let marker = line.querySelector(".edited");
    if (!marker) {
      marker = document.createElement("abbr");
      marker.className = "edited";
      marker.textContent = "edited";
      line.querySelector(".said").after(" ", marker);
    }
    marker.title = "Corrected by " + edited.by + " on " + edited.at.slice(0, 10) + ". Recognised as: " + edited.recognised;
  }

  async split() {
    const { line, box, original } = this.open;
    if (box.value !== original) {
      this.announce("Save the words first (Enter), then split the line.");
      return;
    }
    const word = wordAt(box.value, box.selectionStart);
    if (word === 0 || word >= box.value.trim().split(/\s+/).length) {
      this.announce("Put the cursor before the word that begins the new line.");
      return;
    }
    if (await this.send({ kind: "split", ...this.span(line), word: word })) this.reload(line);
  }

  async merge(line) {
    const next = line && line.nextElementSibling;
    if (!next) { this.announce("There is no next line to merge with."); return; }
    const body = { kind: "merge", start: this.span(line).start, end: this.span(next).end };
    if (await this.send(body)) this.reload(line);
  }

  reload(line) {
    window.location.hash = "t=" + line.dataset.start;
    window.location.reload();
  }
}

// Wires the editor to the page; `player` is the page's Player. Returns the editor, or null where the
// person may not correct the text.
export function editLines(list, player, api, announce) {
  if (!list || !list.dataset.editUrl) return null;
  const editor = new LineEditor(list, api, announce);
  list.addEventListener("dblclick", (event) => {
    const line = event.target.closest(".segment");
    if (line && !event.target.closest(".line-editor")) { event.preventDefault(); editor.begin(line); }
  });
  return editor;
}

// A click inside the box being typed in belongs to the typing, not to the player.
export function isTyping(event) {
  return event.target.closest(".line-editor") !== null;
}
