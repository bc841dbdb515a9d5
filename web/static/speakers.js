// Correcting speakers on the transcript page (?speakers=edit): the words selected, within one line or
// across several, can be given to one speaker; the role buttons then carry "START END ROLE" for the
// server.

import { timestamp } from "./player.js";

// A click that belongs to the correction rather than to the player: a press of a line's speaker button,
// or the end of a selection of words.
export function isCorrecting(event) {
  return event.type === "click" && (event.target.closest(".speaker-fix") !== null || !window.getSelection().isCollapsed);
}

function selectedWords(list) {
  const selection = window.getSelection();
  if (selection.isCollapsed) return [];
  return Array.from(list.querySelectorAll(".word")).filter((word) => selection.containsNode(word, true));
}

export function correctSpeakers(list, summary, roleButtons) {
  if (!list || !list.classList.contains("correcting") || !summary) return;
  const showSelection = () => {
    const words = selectedWords(list);
    roleButtons.forEach((button) => { button.disabled = words.length === 0; });
    if (!words.length) {
      summary.textContent = "no words selected";
      return;
    }
    const start = parseFloat(words[0].dataset.start);
    const end = parseFloat(words[words.length - 1].dataset.end);
    summary.textContent = words.length + (words.length === 1 ? " word" : " words") + " selected, " + timestamp(start) + " to " + timestamp(end);
    roleButtons.forEach((button) => { button.value = start + " " + end + " " + button.dataset.role; });
  };
  // Read on mouseup and keyup in the transcript rather than on selectionchange, so that pressing a
  // button (which may clear the selection) keeps what was chosen.
  list.addEventListener("mouseup", showSelection);
  list.addEventListener("keyup", showSelection);
}
