// A page opened before its transcript was ready asks the service how transcription is going, shows
// it, and reloads itself once the transcript is there.

const JOB_POLL_MS = 2000;
const QUEUE_POLL_MS = 3000;

// The transcript page: `status` is the job's status badge, whose data-url answers with the job.
export function reloadWhenTranscribed(status, api) {
  if (!status || !(status.textContent.startsWith("queued") || status.textContent.startsWith("running"))) return;
  const poll = async () => {
    const r = await api.call("GET", status.dataset.url);
    if (!r.ok) return;
    const info = r.data;
    if (info.status === "done" || info.status === "failed") {
      window.location.reload();
      return;
    }
    status.textContent = info.status + (info.status === "running" ? " " + Math.round(info.progress) + "%" : "");
    status.className = "status status-" + info.status;
    setTimeout(poll, JOB_POLL_MS);
  };
  setTimeout(poll, JOB_POLL_MS);
}

// The rating pages: `waiting` stands where the transcript will be; the rater may be scoring meanwhile,
// so `beforeReload` (saving the draft) must resolve to true before the page reloads.
export function loadTranscriptWhenReady(waiting, api, beforeReload) {
  if (!waiting || !["queued", "running"].includes(waiting.dataset.status)) return;
  const recordingId = parseInt(waiting.dataset.recording, 10);
  const poll = async () => {
    let entry = null;
    try {
      const r = await api.call("GET", waiting.dataset.queueUrl);
      if (r.ok) entry = (r.data.queue || []).find((q) => q.id === recordingId) || null;
    } catch (e) { /* tried again below */ }
    if (entry && (entry.status === "done" || entry.status === "failed")) {
      waiting.textContent = entry.status === "done" ? "The transcript is ready; loading it…" : "Transcription failed.";
      if (await beforeReload()) window.location.reload();
      return;
    }
    if (entry && entry.status === "running") {
      waiting.textContent = "The transcript will appear here when transcription is done (running, " +
        Math.round(entry.progress) + "%). You can start scoring meanwhile.";
    }
    setTimeout(poll, QUEUE_POLL_MS);
  };
  setTimeout(poll, QUEUE_POLL_MS);
}
