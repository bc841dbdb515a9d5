// The course lead's buttons on the ratings page (release the feedback, reopen a rating): small forms
// whose data-api names the API call their fields are sent to; the page reloads to show the result.

export function sendFormsToTheApi(forms, api) {
  forms.forEach((form) => {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
      const body = {};
      new FormData(form).forEach((value, name) => { body[name] = value; });
      const button = form.querySelector("button");
      const error = form.querySelector(".form-error");
      button.disabled = true;
      if (error) error.textContent = "";
      let r;
      try {
        r = await api.call("POST", form.dataset.api, body);
      } catch (e) {
        r = { ok: false, status: 0, data: { error: "The server cannot be reached." } };
      }
      if (r.ok) { window.location.reload(); return; }
      button.disabled = false;
      if (error) error.textContent = r.status === 401 ? "Your session has expired: log in again." : (r.data.error || "Refused (" + r.status + ").");
    });
  });
}
