// Uploads on the case page with their progress: the file's name and size, a bar, and the time left.
// The form is sent as it would be without this script (same fields, same address), through
// XMLHttpRequest because fetch reports no upload progress; the page then goes where the server sent
// it, or shows the server's refusal under the form.

function size(bytes) {
  const units = ["bytes", "KB", "MB", "GB"];
  let i = 0;
  while (bytes >= 1000 && i < units.length - 1) { bytes /= 1000; i += 1; }
  return (i ? bytes.toFixed(1) : bytes) + " " + units[i];
}

function timeLeft(seconds) {
  if (!isFinite(seconds)) return "";
  if (seconds < 60) return Math.ceil(seconds) + " s left";
  return Math.ceil(seconds / 60) + " min left";
}

function statusBox(form) {
  let box = form.querySelector(".upload-status");
  if (!box) {
    box = document.createElement("div");
    box.className = "upload-status";
    box.setAttribute("role", "status");
    box.innerHTML = '<span class="upload-name"></span> <progress max="100" value="0"></progress> <span class="upload-done"></span><p class="form-error" role="alert"></p>';
    form.append(box);
  }
  return box;
}

// The refusal the server's page shows (its .alert), or a plain message.
function refusal(xhr) {
  const page = new DOMParser().parseFromString(xhr.responseText || "", "text/html");
  const alert = page.querySelector("main .alert");
  return alert ? alert.textContent.trim() : "The upload was refused (" + xhr.status + ").";
}

function send(form) {
  const file = form.querySelector("input[type=file]").files[0];
  const box = statusBox(form);
  const bar = box.querySelector("progress");
  const done = box.querySelector(".upload-done");
  const error = box.querySelector(".form-error");
  const button = form.querySelector("button");
  box.querySelector(".upload-name").textContent = file.name + " (" + size(file.size) + ")";
  error.textContent = "";
  button.disabled = true;
  const started = performance.now();
  const xhr = new XMLHttpRequest();
  xhr.open("POST", form.action);
  xhr.upload.addEventListener("progress", (event) => {
    if (!event.lengthComputable) return;
    const share = event.loaded / event.total;
    const elapsed = (performance.now() - started) / 1000;
    bar.value = Math.round(share * 100);
    done.textContent = Math.round(share * 100) + "%" + (share > 0.02 && share < 1 ? ", " + timeLeft(elapsed * (1 - share) / share) : "");
  });
  xhr.upload.addEventListener("load", () => { done.textContent = "100%, checking the recording…"; });
  xhr.addEventListener("load", () => {
    if (xhr.status < 400) { window.location.assign(xhr.responseURL); return; }
    button.disabled = false;
    done.textContent = "";
    error.textContent = refusal(xhr);
  });
  xhr.addEventListener("error", () => {
    button.disabled = false;
    error.textContent = "The upload did not reach the server: check the connection and try again.";
  });
  xhr.send(new FormData(form));
}

document.querySelectorAll("form.upload").forEach((form) => {
  form.addEventListener("submit", (event) => {
    if (event.defaultPrevented || !form.checkValidity()) return;
    event.preventDefault();
    send(form);
  });
});
