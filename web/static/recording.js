// The transcript page: clicking a segment seeks the player; the segment being played is highlighted;
// while transcription is under way the status is polled and the page reloads when it is done; in
// ?speakers=edit, words selected can be given to one speaker.
(function () {
  "use strict";
  const player = document.getElementById("player");
  const segments = Array.from(document.querySelectorAll("#segments .segment"));
  const segmentAt = window.DitTranscript.finder(segments);
  let current = null;

  function seek(el) {
    player.currentTime = parseFloat(el.dataset.start);
    player.play().catch(() => {});
  }

  segments.forEach((el) => {
    el.addEventListener("click", (event) => {
      // While speakers are corrected, a click may be a button press or the end of a selection.
      if (event.target.closest(".speaker-fix") || !window.getSelection().isCollapsed) return;
      seek(el);
    });
    el.addEventListener("keydown", (event) => {
      if (event.key === "Enter") seek(el);
    });
  });

  if (player && segments.length) {
    player.addEventListener("timeupdate", () => {
      const el = segmentAt(player.currentTime);
      if (el === current) return;
      if (current) current.classList.remove("playing");
      current = el;
      if (el) {
        el.classList.add("playing");
        el.scrollIntoView({ block: "nearest", behavior: "smooth" });
      }
    });
  }

  // Correcting speakers: the words selected (within one line or across several) can be given to
  // one speaker; the buttons carry "START END ROLE" for the server.
  const list = document.getElementById("segments");
  const summary = document.getElementById("selection-summary");
  const roleButtons = Array.from(document.querySelectorAll(".selection-role"));
  const timestamp = window.DitTranscript.timestamp;

  function selectedWords() {
    const selection = window.getSelection();
    if (selection.isCollapsed) return [];
    return Array.from(list.querySelectorAll(".word")).filter((word) => selection.containsNode(word, true));
  }

  function showSelection() {
    const words = selectedWords();
    roleButtons.forEach((button) => { button.disabled = words.length === 0; });
    if (!words.length) {
      summary.textContent = "no words selected";
      return;
    }
    const start = parseFloat(words[0].dataset.start);
    const end = parseFloat(words[words.length - 1].dataset.end);
    summary.textContent = words.length + (words.length === 1 ? " word" : " words") + " selected, " + timestamp(start) + " to " + timestamp(end);
    roleButtons.forEach((button) => { button.value = start + " " + end + " " + button.dataset.role; });
  }

  if (list && list.classList.contains("correcting") && summary) {
    // Read on mouseup and keyup in the transcript rather than on selectionchange, so that pressing
    // a button (which may clear the selection) keeps what was chosen.
    list.addEventListener("mouseup", showSelection);
    list.addEventListener("keyup", showSelection);
  }

  // Evidence links elsewhere point here as #t=SECONDS.
  const moment = /^#t=(\d+(?:\.\d+)?)$/.exec(window.location.hash);
  if (player && moment) {
    const seekTo = () => { player.currentTime = parseFloat(moment[1]); };
    if (player.readyState >= 1) seekTo(); else player.addEventListener("loadedmetadata", seekTo, { once: true });
  }

  const status = document.getElementById("job-status");
  if (status && (status.textContent.startsWith("queued") || status.textContent.startsWith("running"))) {
    const poll = async () => {
      const response = await fetch(status.dataset.url, { headers: { Accept: "application/json" } });
      if (!response.ok) return;
      const info = await response.json();
      if (info.status === "done" || info.status === "failed") {
        window.location.reload();
        return;
      }
      status.textContent = info.status + (info.status === "running" ? " " + Math.round(info.progress) + "%" : "");
      status.className = "status status-" + info.status;
      setTimeout(poll, 2000);
    };
    setTimeout(poll, 2000);
  }
})();
