// Forms whose action is hard to undo (put forward a flagged tape, assign it, release, reopen, unassign)
// carry data-confirm: the browser asks before sending. Forms sent through the API (lead-actions.js)
// ask there, before their own call.

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!form.dataset || !form.dataset.confirm || form.classList.contains("api-form")) return;
  if (!window.confirm(form.dataset.confirm)) event.preventDefault();
}, true);
