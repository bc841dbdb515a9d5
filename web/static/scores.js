// An item's score on the rating form: its radio buttons, the chosen score's anchor written out under
// them, the chip in the item's heading and the "Clear score" button.

export function chosenScore(section) {
  const checked = section.querySelector('input[type="radio"]:checked');
  return checked ? parseInt(checked.value, 10) : null;
}

export function setScore(section, score) {
  section.querySelectorAll('input[type="radio"]').forEach((radio) => {
    radio.checked = score !== null && score !== undefined && parseInt(radio.value, 10) === score;
  });
}

export function showScore(section) {
  const checked = section.querySelector('input[type="radio"]:checked');
  const shown = section.querySelector(".anchor-current");
  const chip = section.querySelector(".item-chip");
  const clear = section.querySelector(".clear-score");
  section.querySelectorAll(".anchor").forEach((a) => a.classList.toggle("chosen", Boolean(checked) && a.dataset.score === checked.value));
  section.classList.toggle("scored", Boolean(checked));
  if (chip) chip.textContent = checked ? checked.value : "";
  if (clear) clear.hidden = !checked;
  if (!shown) return;
  shown.textContent = "";
  if (!checked) {
    const hint = document.createElement("span");
    hint.className = "muted";
    hint.textContent = "Choose a score to see its anchor.";
    shown.appendChild(hint);
    return;
  }
  const anchor = section.querySelector('.anchor[data-score="' + checked.value + '"]');
  const strong = document.createElement("strong");
  strong.textContent = checked.value + " · " + (anchor ? anchor.dataset.label : "") + ".";
  shown.appendChild(strong);
  const text = anchor ? anchor.querySelector("dd").textContent.trim() : "";
  if (text) shown.appendChild(document.createTextNode(" " + text));
}
