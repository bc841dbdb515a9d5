// The agreement audit page: the Bland-Altman form refuses the same rater twice, and every mark of the
// charts that carries a tooltip (cells, points) shows it quickly, on hover and on keyboard focus, as
// the SVG <title> is slow to appear and never shows on focus.

// Choosing the same rater twice cannot be compared: say so before the page is asked.
function checkRaterPair(form) {
  if (!form) return;
  const { a, b } = form.elements;
  form.addEventListener("submit", (e) => {
    if (a.value === b.value) {
      e.preventDefault();
      b.setCustomValidity("Choose a different rater from rater A.");
      b.reportValidity();
    }
  });
  b.addEventListener("change", () => b.setCustomValidity(""));
  a.addEventListener("change", () => b.setCustomValidity(""));
}

function showTips(marks) {
  if (!marks.length) return;
  const tip = document.createElement("div");
  tip.className = "chart-tip";
  tip.setAttribute("role", "tooltip");
  tip.hidden = true;
  document.body.appendChild(tip);

  const show = (mark, x, y) => {
    tip.textContent = mark.dataset.tip;
    tip.hidden = false;
    const box = tip.getBoundingClientRect();
    const left = Math.min(x + 14, window.innerWidth - box.width - 8);
    const top = y + 16 + box.height > window.innerHeight ? y - box.height - 12 : y + 16;
    tip.style.left = Math.max(8, left) + "px";
    tip.style.top = Math.max(8, top) + "px";
  };
  const hide = () => { tip.hidden = true; };

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
}

checkRaterPair(document.querySelector(".ba-form"));
showTips(document.querySelectorAll(".audit-page svg.chart [data-tip]"));
