// The recording and its transcript, the same on every page that plays one: a click on a line (or Enter
// or Space on it) plays from there, the line being played is highlighted and kept in view, evidence
// moments elsewhere on the page play here, #t=SECONDS opens the recording at that moment, and the
// keyboard drives the player.

const SKIP_SECONDS = 5;

export function pad(n) {
  return String(n).padStart(2, "0");
}

// 75.4 -> "1:15", 3725 -> "1:02:05": as the server's duration filter prints them.
export function timestamp(seconds) {
  const total = Math.max(0, Math.floor(seconds));
  const h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
  return h ? h + ":" + pad(m) + ":" + pad(s) : m + ":" + pad(s);
}

// A function from a time in seconds to the line (an element with data-start and data-end, in time
// order) spoken then, or null between lines. Binary search: a 50-minute session has several hundred
// lines and the player's timeupdate fires often.
function lineFinder(lines) {
  const starts = lines.map((el) => parseFloat(el.dataset.start));
  return function lineAt(time) {
    let lo = 0, hi = starts.length - 1, found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (starts[mid] <= time) { found = mid; lo = mid + 1; } else { hi = mid - 1; }
    }
    if (found < 0) return null;
    return time <= parseFloat(lines[found].dataset.end) ? lines[found] : null;
  };
}

// Keys typed into a field are text, not shortcuts.
function isTextEntry(el) {
  if (!el || !el.tagName) return false;
  if (el.isContentEditable || el.tagName === "TEXTAREA" || el.tagName === "SELECT") return true;
  if (el.tagName !== "INPUT") return false;
  return !["radio", "checkbox", "button", "submit", "reset", "range", "file"].includes(el.type);
}

export class Player {
  // `media` is the <audio> or <video>; `list` the transcript's #segments, or null on a page without one.
  constructor(media, list, announce = () => {}) {
    this.media = media;
    this.lines = list ? Array.from(list.querySelectorAll(".segment")) : [];
    this.transcript = list ? list.closest(".transcript") : null;
    this.announce = announce;
    this.lineAt = lineFinder(this.lines);
    this.playing = null;    // the line being played
    this.lastPlayed = null; // the last one played, still known after a pause
    // A page's own use of a chosen line (attaching evidence, correcting speakers): returns true when
    // it took the click or key, and the line is then not played.
    this.chooseLine = () => false;
  }

  highlight() {
    const el = this.lineAt(this.media.currentTime);
    if (el === this.playing) return;
    if (this.playing) this.playing.classList.remove("playing");
    this.playing = el;
    if (el) {
      this.lastPlayed = el;
      el.classList.add("playing");
      this.reveal(el);
    }
  }

  // Scrolls the transcript box rather than the page when the box scrolls, and leaves a third of it
  // above the line so that what was just said stays readable.
  reveal(el) {
    const box = this.transcript;
    if (!box || box.scrollHeight <= box.clientHeight + 2) {
      el.scrollIntoView({ block: "nearest", behavior: "smooth" });
      return;
    }
    const frame = box.getBoundingClientRect(), line = el.getBoundingClientRect();
    if (line.top < frame.top + 8 || line.bottom > frame.bottom - 8) {
      box.scrollTo({ top: box.scrollTop + (line.top - frame.top) - frame.height / 3, behavior: "smooth" });
    }
  }

  seek(seconds, play) {
    const go = () => {
      this.media.currentTime = Math.max(0, seconds);
      if (play) this.media.play().catch(() => {});
      this.highlight();
    };
    if (this.media.readyState >= 1) go(); else this.media.addEventListener("loadedmetadata", go, { once: true });
  }

  togglePlay() {
    if (this.media.paused) this.media.play().catch(() => {}); else this.media.pause();
  }

  jump(delta) {
    const media = this.media;
    const end = isFinite(media.duration) ? media.duration : Infinity;
    media.currentTime = Math.min(end, Math.max(0, media.currentTime + delta));
    this.highlight();
    this.announce((delta < 0 ? "Back " : "Forward ") + Math.abs(delta) + " s, at " + timestamp(media.currentTime));
  }

  // #t=SECONDS, as evidence links elsewhere write it.
  openAt(hash) {
    const moment = /^#t=(\d+(?:\.\d+)?)$/.exec(hash);
    if (!moment) return;
    const seconds = parseFloat(moment[1]);
    this.seek(seconds, false);
    const el = this.lineAt(seconds + 0.01);
    if (el) {
      el.classList.add("playing");
      this.playing = this.lastPlayed = el;
      setTimeout(() => this.reveal(el), 50);
    }
  }

  listen() {
    this.media.addEventListener("timeupdate", () => this.highlight());
    this.media.addEventListener("seeked", () => this.highlight());
    this.lines.forEach((line) => {
      const playFrom = () => this.seek(parseFloat(line.dataset.start), true);
      line.addEventListener("click", (event) => {
        if (!this.chooseLine(line, event)) playFrom();
      });
      line.addEventListener("keydown", (event) => {
        if (event.target !== line || (event.key !== "Enter" && event.key !== " ")) return;
        event.preventDefault();
        if (!this.chooseLine(line, event)) playFrom();
      });
    });
    // Evidence moments elsewhere on the page play in this player rather than leaving the page.
    document.addEventListener("click", (event) => {
      const link = event.target.closest("a.moment[data-t]");
      if (!link || event.ctrlKey || event.metaKey || event.shiftKey) return;
      event.preventDefault();
      this.seek(parseFloat(link.dataset.t), true);
    });
    this.openAt(window.location.hash);
    return this;
  }

  // k, j and l (or Shift+arrows) play or pause, go back and forward; with Alt they work while typing
  // too. `extra` adds a page's own keys: Escape, and unshifted letters.
  bindShortcuts(extra = {}) {
    const back = () => this.jump(-SKIP_SECONDS), forward = () => this.jump(SKIP_SECONDS);
    document.addEventListener("keydown", (event) => {
      if (event.ctrlKey || event.metaKey || event.defaultPrevented) return;
      // By key position with Alt, so that Option+K on a Mac, which types a character, works too.
      if (event.altKey) {
        const action = { KeyK: () => this.togglePlay(), KeyJ: back, KeyL: forward }[event.code];
        if (action) { event.preventDefault(); action(); }
        return;
      }
      if (isTextEntry(event.target)) return;
      if (event.key === "Escape") { if (extra.Escape) extra.Escape(); return; }
      // On a radio button or a checkbox the arrows keep their own meaning.
      const onInput = event.target.tagName === "INPUT";
      if (event.shiftKey && event.key === "ArrowLeft" && !onInput) { event.preventDefault(); back(); return; }
      if (event.shiftKey && event.key === "ArrowRight" && !onInput) { event.preventDefault(); forward(); return; }
      if (event.shiftKey) return;
      const action = { ...extra, k: () => this.togglePlay(), j: back, l: forward }[event.key];
      if (action) { event.preventDefault(); action(); }
    });
  }
}
