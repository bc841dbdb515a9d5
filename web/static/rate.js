// The rating pages: the player beside the transcript (click to seek, the line being played highlighted,
// keyboard shortcuts), the rating form (scores, comments, evidence from the transcript, a draft saved as
// you work and kept on this device until the server has it, submission), and the course lead's buttons
// (release, reopen). No framework and no build step: the pages are rendered by the server and this
// script only adds behaviour to what is there.
(function () {
  "use strict";

  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  let csrf = csrfMeta ? csrfMeta.content : "";
  const DEBOUNCE_MS = 700;
  const RETRY_MS = 8000;

  const { finder, timestamp, pad } = window.DitTranscript;

  function clock(date) {
    return pad(date.getHours()) + ":" + pad(date.getMinutes()) + ":" + pad(date.getSeconds());
  }

  async function refreshCsrf() {
    // After logging in again (in another tab) the session has a new CSRF token: read it from a page.
    try {
      const response = await fetch(window.location.pathname, { credentials: "same-origin" });
      const match = /<meta name="csrf-token" content="([^"]+)"/.exec(await response.text());
      if (match) csrf = match[1];
      return Boolean(match) && !response.url.includes("/login");
    } catch (e) {
      return false;
    }
  }

  async function callApi(method, url, body, retried) {
    const options = {
      method: method,
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRF-Token": csrf },
    };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(url, options);
    let data = {};
    try { data = await response.json(); } catch (e) { data = {}; }
    if (response.status === 403 && !retried && /CSRF/.test(data.error || "") && await refreshCsrf()) {
      return callApi(method, url, body, true);
    }
    return { ok: response.ok, status: response.status, data: data };
  }

  function isTextEntry(el) {
    if (!el || !el.tagName) return false;
    if (el.isContentEditable || el.tagName === "TEXTAREA" || el.tagName === "SELECT") return true;
    if (el.tagName !== "INPUT") return false;
    return !["radio", "checkbox", "button", "submit", "reset", "range", "file"].includes(el.type);
  }

  const announcer = document.getElementById("announce");
  let announceTimer = null;
  function announce(message) {
    if (!announcer) return;
    announcer.textContent = message;
    clearTimeout(announceTimer);
    announceTimer = setTimeout(() => { announcer.textContent = ""; }, 6000);
  }

  // ------------------------------------------------------------------ player and transcript
  const player = document.getElementById("player");
  const transcript = document.getElementById("transcript");
  const segments = Array.from(document.querySelectorAll("#segments .segment"));
  const segmentAt = finder(segments);
  let playing = null;   // the segment element being played
  let lastPlayed = null; // the last one played, for "attach the line being played" after a pause

  function reveal(el) {
    if (!transcript || transcript.scrollHeight <= transcript.clientHeight + 2) {
      el.scrollIntoView({ block: "nearest", behavior: "smooth" });
      return;
    }
    const box = transcript.getBoundingClientRect(), line = el.getBoundingClientRect();
    if (line.top < box.top + 8 || line.bottom > box.bottom - 8) {
      transcript.scrollTo({ top: transcript.scrollTop + (line.top - box.top) - box.height / 3, behavior: "smooth" });
    }
  }

  function highlight() {
    const el = segmentAt(player.currentTime);
    if (el === playing) return;
    if (playing) playing.classList.remove("playing");
    playing = el;
    if (el) {
      lastPlayed = el;
      el.classList.add("playing");
      reveal(el);
    }
  }

  function seek(seconds, play) {
    if (!player) return;
    const go = () => {
      player.currentTime = Math.max(0, seconds);
      if (play) player.play().catch(() => {});
      highlight();
    };
    if (player.readyState >= 1) go(); else player.addEventListener("loadedmetadata", go, { once: true });
  }

  function togglePlay() {
    if (!player) return;
    if (player.paused) player.play().catch(() => {}); else player.pause();
  }

  function jump(delta) {
    if (!player) return;
    const end = isFinite(player.duration) ? player.duration : Infinity;
    player.currentTime = Math.min(end, Math.max(0, player.currentTime + delta));
    highlight();
    announce((delta < 0 ? "Back " : "Forward ") + Math.abs(delta) + " s, at " + timestamp(player.currentTime));
  }

  if (player) {
    player.addEventListener("timeupdate", highlight);
    player.addEventListener("seeked", highlight);
    // #t=SECONDS (from an evidence link) opens the recording at that moment.
    const hash = /^#t=(\d+(?:\.\d+)?)$/.exec(window.location.hash);
    if (hash) {
      seek(parseFloat(hash[1]), false);
      const el = segmentAt(parseFloat(hash[1]) + 0.01);
      if (el) { el.classList.add("playing"); playing = lastPlayed = el; setTimeout(() => reveal(el), 50); }
    }
    // Evidence moments elsewhere on the page play in this player rather than leaving the page.
    document.addEventListener("click", (event) => {
      const link = event.target.closest("a.moment[data-t]");
      if (!link || event.ctrlKey || event.metaKey || event.shiftKey) return;
      event.preventDefault();
      seek(parseFloat(link.dataset.t), true);
    });
  }

  // Set up by the rating form below: where transcript clicks go while evidence is being attached.
  let attachHandler = null;

  segments.forEach((el) => {
    el.addEventListener("click", (event) => {
      if (attachHandler && !event.target.closest(".time")) {
        attachHandler(el);
        return;
      }
      seek(parseFloat(el.dataset.start), true);
    });
    el.addEventListener("keydown", (event) => {
      if (event.target !== el || (event.key !== "Enter" && event.key !== " ")) return;
      event.preventDefault();
      if (attachHandler) attachHandler(el); else seek(parseFloat(el.dataset.start), true);
    });
  });

  // ------------------------------------------------------------------ the rating form
  const form = document.getElementById("rating-form");
  let attachToLinePlayed = null;
  let stopAttaching = null;

  if (form) setUpForm(form);

  function setUpForm(form) {
    const readonly = form.hasAttribute("data-readonly");
    const saveUrl = form.dataset.saveUrl;
    const submitUrl = form.dataset.submitUrl;
    const storageKey = form.dataset.storageKey;
    let serverUpdated = form.dataset.updatedAt || "";
    const items = Array.from(form.querySelectorAll(".rate-item[data-item]"));
    const byId = new Map(items.map((s) => [s.dataset.item, s]));
    const evidence = new Map(items.map((s) => [s.dataset.item, new Set(JSON.parse(s.dataset.evidence || "[]"))]));
    const overall = form.querySelector('textarea[name="overall_comment"]');
    const status = document.getElementById("save-status");
    const errorBox = document.getElementById("form-errors");
    const progress = document.getElementById("scored-progress");
    const count = document.getElementById("scored-count");
    const banner = document.getElementById("attach-banner");
    const bannerTitle = document.getElementById("attach-title");
    let attaching = null; // the item id evidence is being attached to
    let current = null;   // the item last worked on
    let locked = readonly;

    // --- reading and writing the form
    function collect() {
      const body = { scores: {}, comments: {}, evidence: {}, overall_comment: overall ? overall.value : "" };
      items.forEach((section) => {
        const id = section.dataset.item;
        const checked = section.querySelector('input[type="radio"]:checked');
        body.scores[id] = checked ? parseInt(checked.value, 10) : null;
        const comment = section.querySelector('textarea[name^="comment:"]');
        if (comment && comment.value.trim()) body.comments[id] = comment.value;
        const cited = evidence.get(id);
        if (cited.size) body.evidence[id] = Array.from(cited).sort((a, b) => a - b);
      });
      return body;
    }

    function apply(body) {
      items.forEach((section) => {
        const id = section.dataset.item;
        const score = body.scores ? body.scores[id] : null;
        section.querySelectorAll('input[type="radio"]').forEach((radio) => {
          radio.checked = score !== null && score !== undefined && parseInt(radio.value, 10) === score;
        });
        const comment = section.querySelector('textarea[name^="comment:"]');
        if (comment) comment.value = (body.comments && body.comments[id]) || "";
        evidence.set(id, new Set((body.evidence && body.evidence[id]) || []));
        showScore(section);
        renderEvidence(id);
      });
      if (overall) overall.value = body.overall_comment || "";
      markCited();
      updateProgress();
    }

    // --- scores and their anchors
    function showScore(section) {
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

    function updateProgress() {
      const scored = items.filter((s) => s.querySelector('input[type="radio"]:checked')).length;
      if (progress) progress.value = scored;
      if (count) count.textContent = scored + " of " + items.length + " scored";
    }

    // --- evidence
    function segmentByIndex(index) {
      return segments.find((el) => parseInt(el.dataset.index, 10) === index) || null;
    }

    function renderEvidence(id) {
      const section = byId.get(id);
      const list = section.querySelector(".evidence-list");
      if (!list) return;
      list.textContent = "";
      Array.from(evidence.get(id)).sort((a, b) => a - b).forEach((index) => {
        const seg = segmentByIndex(index);
        const when = seg ? timestamp(parseFloat(seg.dataset.start)) : "line " + (index + 1);
        const li = document.createElement("li");
        li.dataset.seg = index;
        const link = document.createElement("a");
        link.className = "moment";
        link.href = "#t=" + (seg ? seg.dataset.start : 0);
        link.dataset.seg = index;
        link.textContent = when;
        if (seg) link.title = seg.querySelector(".text").textContent.trim();
        const remove = document.createElement("button");
        remove.type = "button";
        remove.className = "ev-remove";
        remove.setAttribute("aria-label", "Remove evidence at " + when);
        remove.textContent = "×";
        li.append(link, remove);
        list.appendChild(li);
      });
      const empty = section.querySelector(".evidence-empty");
      if (empty) empty.hidden = evidence.get(id).size > 0;
    }

    function markCited() {
      // Each line shows the numbers of the items it is evidence for; lines cited by the item being
      // attached to are marked.
      const citing = new Map();
      items.forEach((section) => {
        evidence.get(section.dataset.item).forEach((index) => {
          if (!citing.has(index)) citing.set(index, []);
          citing.get(index).push(section.dataset.no);
        });
      });
      segments.forEach((el) => {
        const index = parseInt(el.dataset.index, 10);
        const numbers = citing.get(index) || [];
        const chips = el.querySelector(".cites");
        if (chips) chips.textContent = numbers.join(" ");
        el.classList.toggle("has-evidence", numbers.length > 0);
        const mine = attaching !== null && evidence.get(attaching).has(index);
        el.classList.toggle("cited", mine);
        const toggle = el.querySelector(".cite-toggle");
        if (toggle) {
          toggle.setAttribute("aria-pressed", String(mine));
          toggle.textContent = mine ? "Attached ✓" : "Attach";
        }
      });
    }

    function cite(id, el, only_add) {
      const index = parseInt(el.dataset.index, 10);
      const cited = evidence.get(id);
      const title = byId.get(id).dataset.title;
      const when = timestamp(parseFloat(el.dataset.start));
      if (cited.has(index) && !only_add) {
        cited.delete(index);
        announce("Removed " + when + " from “" + title + "”");
      } else if (!cited.has(index)) {
        cited.add(index);
        announce("Attached " + when + " to “" + title + "”");
      } else {
        announce(when + " is already evidence for “" + title + "”");
        return;
      }
      renderEvidence(id);
      markCited();
      changed();
    }

    function setAttaching(id) {
      attaching = id;
      items.forEach((section) => {
        const on = section.dataset.item === id;
        section.classList.toggle("attaching", on);
        const button = section.querySelector(".attach");
        if (button) {
          button.setAttribute("aria-pressed", String(on));
          button.textContent = on ? "Done attaching" : "Attach lines";
        }
      });
      if (transcript) transcript.classList.toggle("attach-mode", id !== null);
      if (banner) banner.hidden = id === null;
      if (bannerTitle && id !== null) bannerTitle.textContent = byId.get(id).dataset.title;
      attachHandler = id === null ? null : (el) => cite(id, el, false);
      if (id !== null) {
        current = id;
        announce("Click lines in the transcript to attach them to “" + byId.get(id).dataset.title + "”; Esc when done.");
      }
      markCited();
    }
    stopAttaching = () => { if (attaching !== null) setAttaching(null); };
    attachToLinePlayed = () => {
      const id = attaching || current;
      if (!id) { announce("Click into an item first: “a” attaches the line being played to it."); return; }
      const el = playing || lastPlayed;
      if (!el) { announce("Play the recording first: “a” attaches the line being played."); return; }
      cite(id, el, true);
    };

    const doneButton = document.getElementById("attach-done");
    if (doneButton) doneButton.addEventListener("click", () => {
      const id = attaching;
      setAttaching(null);
      if (id) byId.get(id).querySelector(".attach").focus();
    });

    // --- item errors (from the server's 422, or from checking before submitting)
    function setItemError(id, message) {
      const section = byId.get(id);
      if (!section) return false;
      const box = section.querySelector(".item-error");
      box.textContent = message;
      box.hidden = !message;
      section.classList.toggle("has-error", Boolean(message));
      if (!message) delete section.dataset.errorKind;
      if (!message && errorBox && !errorBox.hidden) {
        // Fixed: off the summary too, and the summary goes once nothing is left to fix.
        const listed = errorBox.querySelector('li[data-item="' + CSS.escape(id) + '"]');
        if (listed) listed.remove();
        if (!errorBox.querySelector("li") && !items.some((s) => s.classList.contains("has-error"))) {
          errorBox.hidden = true;
          errorBox.textContent = "";
        }
      }
      return true;
    }

    function clearErrors() {
      items.forEach((s) => setItemError(s.dataset.item, ""));
      if (errorBox) { errorBox.hidden = true; errorBox.textContent = ""; }
    }

    const onlyDiffering = document.getElementById("only-differing");
    if (onlyDiffering) {
      onlyDiffering.addEventListener("change", () => form.classList.toggle("only-differing", onlyDiffering.checked));
    }

    function showErrors(errors, message) {
      clearErrors();
      if (onlyDiffering && onlyDiffering.checked) { // nothing the lead must fix may stay hidden
        onlyDiffering.checked = false;
        form.classList.remove("only-differing");
      }
      const listed = [];
      Object.keys(errors || {}).forEach((id) => {
        const shown = setItemError(id, errors[id]);
        listed.push({ id: id, message: errors[id], shown: shown });
      });
      if (!errorBox) return;
      errorBox.textContent = "";
      const p = document.createElement("p");
      p.textContent = message || "Some items need attention.";
      errorBox.appendChild(p);
      // One problem for every item ("Not scored."): the titles say enough.
      const same = listed.length > 1 && listed.every((e) => e.message === listed[0].message);
      if (listed.length) {
        const ul = document.createElement("ul");
        listed.forEach((e) => {
          const li = document.createElement("li");
          li.dataset.item = e.id;
          if (e.shown) {
            const a = document.createElement("a");
            a.href = "#item-" + e.id;
            a.textContent = byId.get(e.id).dataset.title;
            li.append(a);
            if (!same) li.append(document.createTextNode(": " + e.message));
          } else {
            li.textContent = e.id + ": " + e.message;
          }
          ul.appendChild(li);
        });
        errorBox.appendChild(ul);
      }
      errorBox.hidden = false;
    }

    // --- saving: debounced, one request at a time, kept on this device until the server has it
    function setStatus(kind, text) {
      if (!status) return;
      status.className = "save-status " + kind;
      status.textContent = text;
    }

    function readLocal() {
      try { return JSON.parse(localStorage.getItem(storageKey) || "null"); } catch (e) { return null; }
    }
    function storeLocal() {
      try {
        localStorage.setItem(storageKey, JSON.stringify({ data: collect(), changedAt: Date.now(), base: serverUpdated }));
      } catch (e) { /* private mode or full: the server copy still works */ }
    }
    function clearLocal() {
      try { localStorage.removeItem(storageKey); } catch (e) { /* nothing to do */ }
    }

    // A form the server has no draft of yet (a consensus not yet started) is saved before submitting.
    let lastSaved = form.hasAttribute("data-new") ? null : JSON.stringify(collect());
    let timer = null, retryTimer = null;
    let chain = Promise.resolve(true);

    function changed() {
      if (locked) return;
      storeLocal();
      updateProgress();
      setStatus("dirty", "Unsaved changes…");
      clearTimeout(timer);
      timer = setTimeout(save, DEBOUNCE_MS);
    }

    function save() {
      clearTimeout(timer);
      chain = chain.then(doSave, doSave);
      return chain;
    }

    function retryLater(ms) {
      clearTimeout(retryTimer);
      retryTimer = setTimeout(save, ms || RETRY_MS);
    }

    async function doSave() {
      if (locked) return false;
      const body = collect();
      const json = JSON.stringify(body);
      if (json === lastSaved) return true;
      setStatus("saving", "Saving…");
      let r;
      try {
        r = await callApi("PUT", saveUrl, body);
      } catch (e) {
        setStatus("error", "Not saved: the server cannot be reached. Your changes are kept on this device and saving is retried.");
        retryLater();
        return false;
      }
      if (r.ok) {
        lastSaved = json;
        serverUpdated = r.data.updated_at || serverUpdated;
        clearTimeout(retryTimer);
        if (errorBox && !errorBox.hidden && errorBox.dataset.kind === "save") clearErrors();
        items.forEach((s) => { if (s.classList.contains("has-error") && s.dataset.errorKind === "save") setItemError(s.dataset.item, ""); });
        if (JSON.stringify(collect()) === json) {
          clearLocal();
          setStatus("saved", "Saved " + clock(new Date()));
        } else {
          storeLocal();
        }
        return true;
      }
      if (r.status === 401) {
        setStatus("error", "Your session has expired. Log in again in another tab, then come back: your draft is kept here and is saved as soon as you are logged in.");
        retryLater();
        return false;
      }
      if (r.status === 422) {
        showErrors(r.data.errors || {}, "Not saved: " + (r.data.error || "some items need attention."));
        if (errorBox) errorBox.dataset.kind = "save";
        Object.keys(r.data.errors || {}).forEach((id) => { if (byId.get(id)) byId.get(id).dataset.errorKind = "save"; });
        setStatus("error", "Not saved: see the items marked.");
        return false;
      }
      if (r.status === 409) {
        locked = true;
        setStatus("error", (r.data.error || "This rating is locked.") + " Reload the page to see it; your unsaved changes are kept on this device.");
        return false;
      }
      setStatus("error", "Not saved: " + (r.data.error || "the server answered " + r.status) + " Your changes are kept on this device.");
      if (r.status >= 500 || r.status === 403) retryLater(); // passing trouble, or a session changed in another tab
      return false;
    }

    function flushOnExit() {
      // The tab is closing or going away: send what is unsaved in a request that outlives the page.
      if (locked) return;
      const json = JSON.stringify(collect());
      if (json === lastSaved) return;
      storeLocal();
      try {
        fetch(saveUrl, {
          method: "PUT", keepalive: true, credentials: "same-origin", body: json,
          headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrf },
        }).catch(() => { /* the local copy is kept */ });
      } catch (e) { /* the local copy is kept */ }
    }

    if (!readonly) {
      document.addEventListener("visibilitychange", () => {
        if (document.visibilityState === "hidden") { if (JSON.stringify(collect()) !== lastSaved) save(); }
        else if (status && status.classList.contains("error")) save();
      });
      window.addEventListener("pagehide", flushOnExit);
      window.addEventListener("focus", () => { if (status && status.classList.contains("error")) save(); });
      window.addEventListener("online", () => save());
    }

    // --- what the server has against what this device kept
    if (!readonly) {
      const local = readLocal();
      if (local && local.data) {
        const serverTime = Date.parse(serverUpdated) || 0;
        if (JSON.stringify(local.data) === lastSaved) {
          clearLocal();
        } else if (local.base === serverUpdated || local.changedAt > serverTime) {
          const restoreBanner = document.getElementById("restore-banner");
          document.getElementById("restore-time").textContent = new Date(local.changedAt).toLocaleString();
          restoreBanner.hidden = false;
          document.getElementById("restore-yes").addEventListener("click", () => {
            apply(local.data);
            restoreBanner.hidden = true;
            changed();
            save();
          });
          document.getElementById("restore-no").addEventListener("click", () => {
            clearLocal();
            restoreBanner.hidden = true;
          });
        } else {
          clearLocal(); // the server's draft was saved after this copy, from elsewhere
        }
      }
      if (serverUpdated && status && status.textContent.trim() === "Draft") {
        setStatus("saved", "Draft saved " + new Date(serverUpdated).toLocaleString());
      }
    }

    // --- events
    form.addEventListener("submit", (event) => event.preventDefault());
    form.addEventListener("change", (event) => {
      const radio = event.target;
      if (radio.type === "radio") {
        const section = radio.closest(".rate-item");
        showScore(section);
        if (section.classList.contains("has-error")) setItemError(section.dataset.item, "");
        changed();
      }
    });
    form.addEventListener("input", (event) => {
      if (event.target.tagName === "TEXTAREA") changed();
    });
    form.addEventListener("focusin", (event) => {
      const section = event.target.closest(".rate-item[data-item]");
      if (!section || section.dataset.item === current) return;
      if (current && byId.get(current)) byId.get(current).classList.remove("current");
      current = section.dataset.item;
      section.classList.add("current");
    });
    form.addEventListener("click", (event) => {
      const section = event.target.closest(".rate-item[data-item]");
      if (!section) return;
      const id = section.dataset.item;
      if (event.target.closest(".clear-score")) {
        section.querySelectorAll('input[type="radio"]').forEach((r) => { r.checked = false; });
        showScore(section);
        changed();
        section.querySelector('input[type="radio"]').focus();
      } else if (event.target.closest(".attach")) {
        setAttaching(attaching === id ? null : id);
      } else if (event.target.closest(".ev-remove")) {
        const index = parseInt(event.target.closest("li").dataset.seg, 10);
        evidence.get(id).delete(index);
        renderEvidence(id);
        markCited();
        changed();
        announce("Removed evidence from “" + section.dataset.title + "”");
        const next = section.querySelector(".ev-remove") || section.querySelector(".attach");
        if (next) next.focus();
      } else if (event.target.closest("a.moment")) {
        event.preventDefault();
        const seg = segmentByIndex(parseInt(event.target.closest("a.moment").dataset.seg, 10));
        if (seg) { seek(parseFloat(seg.dataset.start), true); reveal(seg); }
      }
    });

    // --- submitting
    const submitStart = document.getElementById("submit-start");
    const confirmBox = document.getElementById("submit-confirm");
    const submitGo = document.getElementById("submit-go");
    const submitCancel = document.getElementById("submit-cancel");
    const saveNow = document.getElementById("save-now");

    if (saveNow) saveNow.addEventListener("click", () => { save(); });

    if (submitStart) submitStart.addEventListener("click", () => {
      clearErrors();
      const body = collect();
      const missing = items.filter((s) => body.scores[s.dataset.item] === null);
      if (missing.length) {
        const errors = {};
        missing.forEach((s) => { errors[s.dataset.item] = "Not scored."; });
        showErrors(errors, "Score every item before submitting: " + missing.length + " not scored.");
        if (errorBox) errorBox.dataset.kind = "submit";
        setStatus("error", "Not submitted.");
        missing[0].scrollIntoView({ block: "center", behavior: "smooth" });
        missing[0].querySelector('input[type="radio"]').focus({ preventScroll: true });
        return;
      }
      submitStart.hidden = true;
      confirmBox.hidden = false;
      submitGo.focus();
    });

    if (submitCancel) submitCancel.addEventListener("click", () => {
      confirmBox.hidden = true;
      submitStart.hidden = false;
      submitStart.focus();
    });

    if (submitGo) submitGo.addEventListener("click", async () => {
      submitGo.disabled = true;
      const saved = await save();
      if (!saved || JSON.stringify(collect()) !== lastSaved) {
        submitGo.disabled = false;
        confirmBox.hidden = true;
        submitStart.hidden = false;
        return; // the status says why
      }
      setStatus("saving", "Submitting…");
      let r;
      try {
        r = await callApi("POST", submitUrl);
      } catch (e) {
        r = { ok: false, status: 0, data: { error: "The server cannot be reached." } };
      }
      if (r.ok) {
        locked = true;
        clearLocal();
        setStatus("saved", "Submitted");
        window.location.replace(form.dataset.afterSubmit || window.location.pathname);
        return;
      }
      submitGo.disabled = false;
      confirmBox.hidden = true;
      submitStart.hidden = false;
      if (r.status === 422) {
        showErrors(r.data.errors || {}, r.data.error);
        if (errorBox) errorBox.dataset.kind = "submit";
        setStatus("error", "Not submitted: see the items marked.");
      } else if (r.status === 401) {
        setStatus("error", "Your session has expired. Log in again in another tab, then submit again: your draft is kept here.");
      } else {
        setStatus("error", "Not submitted: " + (r.data.error || "the server answered " + r.status));
      }
    });

    // --- the transcript, once it is ready, without losing anything typed meanwhile
    const waiting = document.getElementById("waiting");
    if (waiting && ["queued", "running"].includes(waiting.dataset.status)) {
      const recordingId = parseInt(waiting.dataset.recording, 10);
      const poll = async () => {
        let entry = null;
        try {
          const response = await fetch("/api/queue", { credentials: "same-origin", headers: { Accept: "application/json" } });
          if (response.ok) entry = ((await response.json()).queue || []).find((q) => q.id === recordingId) || null;
        } catch (e) { /* try again */ }
        if (entry && (entry.status === "done" || entry.status === "failed")) {
          waiting.textContent = entry.status === "done" ? "The transcript is ready; loading it…" : "Transcription failed.";
          if (await save()) window.location.reload();
          return;
        }
        if (entry && entry.status === "running") {
          waiting.textContent = "The transcript will appear here when transcription is done (running, " +
            Math.round(entry.progress) + "%). You can start scoring meanwhile.";
        }
        setTimeout(poll, 3000);
      };
      setTimeout(poll, 3000);
    }

    // First paint of the evidence lists with the transcript's times (the server rendered them already).
    markCited();
    updateProgress();
  }

  // ------------------------------------------------------------------ keyboard shortcuts
  if (player) {
    document.addEventListener("keydown", (event) => {
      if (event.ctrlKey || event.metaKey || event.defaultPrevented) return;
      const typing = isTextEntry(event.target);
      // With Alt the shortcuts work anywhere, even while typing a comment (by key position, so that
      // Option+K on a Mac, which types a character, works too).
      if (event.altKey) {
        const action = { KeyK: togglePlay, KeyJ: () => jump(-5), KeyL: () => jump(5) }[event.code];
        if (action) { event.preventDefault(); action(); }
        return;
      }
      if (typing) return;
      if (event.key === "Escape" && stopAttaching) { stopAttaching(); return; }
      const onInput = event.target.tagName === "INPUT";
      if (event.shiftKey && event.key === "ArrowLeft" && !onInput) { event.preventDefault(); jump(-5); return; }
      if (event.shiftKey && event.key === "ArrowRight" && !onInput) { event.preventDefault(); jump(5); return; }
      if (event.shiftKey) return;
      switch (event.key) {
        case "k": event.preventDefault(); togglePlay(); break;
        case "j": event.preventDefault(); jump(-5); break;
        case "l": event.preventDefault(); jump(5); break;
        case "a": if (attachToLinePlayed) { event.preventDefault(); attachToLinePlayed(); } break;
        default: break;
      }
    });
  }

  // ------------------------------------------------------------------ the course lead's buttons
  document.querySelectorAll("form.api-form[data-api]").forEach((apiForm) => {
    apiForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = {};
      new FormData(apiForm).forEach((value, name) => { body[name] = value; });
      const button = apiForm.querySelector("button");
      const error = apiForm.querySelector(".form-error");
      button.disabled = true;
      if (error) error.textContent = "";
      let r;
      try {
        r = await callApi("POST", apiForm.dataset.api, body);
      } catch (e) {
        r = { ok: false, status: 0, data: { error: "The server cannot be reached." } };
      }
      if (r.ok) { window.location.reload(); return; }
      button.disabled = false;
      if (error) error.textContent = r.status === 401 ? "Your session has expired: log in again." : (r.data.error || "Refused (" + r.status + ").");
    });
  });
})();
