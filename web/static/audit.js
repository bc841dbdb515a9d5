// The agreement audit's pictures: a quick tooltip for every mark that carries one (cells, points), shown
// on hover and on keyboard focus, as the SVG <title> is slow to appear and never shows on focus.
(function () {
  "use strict";
  // Choosing the same rater twice cannot be compared: say so before the page is asked.
  const form = document.querySelector(".ba-form");
  if (form) {
    form.addEventListener("submit", (e) => {
      if (form.elements.a.value === form.elements.b.value) {
        e.preventDefault();
        form.elements.b.setCustomValidity("Choose a different rater from rater A.");
        form.elements.b.reportValidity();
      }
    });
    form.elements.b.addEventListener("change", () => form.elements.b.setCustomValidity(""));
    form.elements.a.addEventListener("change", () => form.elements.b.setCustomValidity(""));
  }

  const marks = document.querySelectorAll(".audit-page svg.chart [data-tip]");
  if (!marks.length) return;
  const tip = document.createElement("div");
  tip.className = "chart-tip";
  tip.setAttribute("role", "tooltip");
  tip.hidden = true;
  document.body.appendChild(tip);

  function show(mark, x, y) {
    tip.textContent = mark.dataset.tip;
    tip.hidden = false;
    const box = tip.getBoundingClientRect();
    const left = Math.min(x + 14, window.innerWidth - box.width - 8);
    const top = y + 16 + box.height > window.innerHeight ? y - box.height - 12 : y + 16;
    tip.style.left = Math.max(8, left) + "px";
    tip.style.top = Math.max(8, top) + "px";
  }
  function hide() { tip.hidden = true; }

  marks.forEach((mark) => {
    // The browser's own tooltip (from <title>) would show beside ours: its text moves to aria-label.
    const title = mark.querySelector(":scope > title");
    if (title) {
      if (!mark.hasAttribute("aria-label")) mark.setAttribute("aria-label", title.textContent);
      title.remove();
    }
    mark.addEventListener("mouseenter", (e) => show(mark, e.clientX, e.clientY));
    mark.addEventListener("mousemove", (e) => show(mark, e.clientX, e.clientY));
    mark.addEventListener("mouseleave", hide);
    mark.addEventListener("focus", () => {
      const box = mark.getBoundingClientRect();
      show(mark, box.left + box.width / 2, box.top + box.height / 2);
    });
    mark.addEventListener("blur", hide);
  });
  document.addEventListener("keydown", (e) => { if (e.key === "Escape") hide(); });
  window.addEventListener("scroll", hide, { passive: true });

})();
