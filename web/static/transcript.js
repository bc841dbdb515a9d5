// Shared by the transcript page and the rating pages: which line is being played, and times as
// the pages print them.
window.DitTranscript = (function () {
  "use strict";

  // A function from a time in seconds to the line (an element with data-start and data-end, in
  // time order) spoken then, or null between lines. Binary search: a 50-minute session has several
  // hundred lines and the player's timeupdate fires often.
  function finder(segments) {
    const starts = segments.map((el) => parseFloat(el.dataset.start));
    return function segmentAt(time) {
      let lo = 0, hi = starts.length - 1, found = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (starts[mid] <= time) { found = mid; lo = mid + 1; } else { hi = mid - 1; }
      }
      if (found < 0) return null;
      return time <= parseFloat(segments[found].dataset.end) ? segments[found] : null;
    };
  }

  function pad(n) { return String(n).padStart(2, "0"); }

  // 75.4 -> "1:15", 3725 -> "1:02:05": as the server's duration filter prints them.
  function timestamp(seconds) {
    const total = Math.max(0, Math.floor(seconds));
    const h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
    return h ? h + ":" + pad(m) + ":" + pad(s) : m + ":" + pad(s);
  }

  return { finder: finder, timestamp: timestamp, pad: pad };
})();
