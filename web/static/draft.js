// A rating's draft, saved as the rater works: a moment after each change, one request at a time, and
// kept on this device (localStorage) until the server has it, so that nothing is lost to a closed tab,
// a dropped connection or an expired session. The status line under the form says where it stands.

import { pad } from "./player.js";

const DEBOUNCE_MS = 700;
const RETRY_MS = 8000;

function clock(date) {
  return pad(date.getHours()) + ":" + pad(date.getMinutes()) + ":" + pad(date.getSeconds());
}

export class Draft {
  // `collect` reads the form into the body the server takes; `saveErrorsFixed` and `saveRefused`
  // (errors, message) show what the server said about it.
  constructor(form, api, { collect, saveErrorsFixed, saveRefused }) {
    this.api = api;
    this.collect = collect;
    this.saveErrorsFixed = saveErrorsFixed;
    this.saveRefused = saveRefused;
    this.saveUrl = form.dataset.saveUrl;
    this.storageKey = form.dataset.storageKey;
    this.serverUpdated = form.dataset.updatedAt || "";
    this.locked = form.hasAttribute("data-readonly");
    this.line = document.getElementById("save-status");
    // A form the server has no draft of yet (a consensus not yet started) is saved before submitting.
    this.lastSaved = form.hasAttribute("data-new") ? null : this.json();
    this.timer = null;
    this.retryTimer = null;
    this.chain = Promise.resolve(true);
  }

  json() {
    return JSON.stringify(this.collect());
  }

  isSaved() {
    return this.json() === this.lastSaved;
  }

  status(kind, text) {
    if (!this.line) return;
    this.line.className = "save-status " + kind;
    this.line.textContent = text;
  }

  failed() {
    return Boolean(this.line) && this.line.classList.contains("error");
  }

  readLocal() {
    try { return JSON.parse(localStorage.getItem(this.storageKey) || "null"); } catch (e) { return null; }
  }

  storeLocal() {
    try {
      localStorage.setItem(this.storageKey, JSON.stringify({ data: this.collect(), changedAt: Date.now(), base: this.serverUpdated }));
    } catch (e) { /* private mode or full: the server copy still works */ }
  }

  clearLocal() {
    try { localStorage.removeItem(this.storageKey); } catch (e) { /* nothing to do */ }
  }

  changed() {
    this.storeLocal();
    this.status("dirty", "Unsaved changes…");
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.save(), DEBOUNCE_MS);
  }

  // Resolves to true once the server has what the form holds now.
  save() {
    clearTimeout(this.timer);
    const attempt = () => this.attempt();
    this.chain = this.chain.then(attempt, attempt);
    return this.chain;
  }

  retryLater() {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.save(), RETRY_MS);
  }

  async attempt() {
    if (this.locked) return false;
    const body = this.collect();
    const json = JSON.stringify(body);
    if (json === this.lastSaved) return true;
    this.status("saving", "Saving…");
    let r;
    try {
      r = await this.api.call("PUT", this.saveUrl, body);
    } catch (e) {
      this.status("error", "Not saved: the server cannot be reached. Your changes are kept on this device and saving is retried.");
      this.retryLater();
      return false;
    }
    if (r.ok) {
      this.lastSaved = json;
      this.serverUpdated = r.data.updated_at || this.serverUpdated;
      clearTimeout(this.retryTimer);
      this.saveErrorsFixed();
      if (this.isSaved()) {
        this.clearLocal();
        this.status("saved", "Saved " + clock(new Date()));
      } else {
        this.storeLocal();
      }
      return true;
    }
    return this.refused(r);
  }

  refused(r) {
    if (r.status === 401) {
      this.status("error", "Your session has expired. Log in again in another tab, then come back: your draft is kept here and is saved as soon as you are logged in.");
      this.retryLater();
    } else if (r.status === 422) {
      this.saveRefused(r.data.errors || {}, "Not saved: " + (r.data.error || "some items need attention."));
      this.status("error", "Not saved: see the items marked.");
    } else if (r.status === 409) {
      this.locked = true;
      this.status("error", (r.data.error || "This rating is locked.") + " Reload the page to see it; your unsaved changes are kept on this device.");
    } else {
      this.status("error", "Not saved: " + (r.data.error || "the server answered " + r.status) + " Your changes are kept on this device.");
      if (r.status >= 500 || r.status === 403) this.retryLater(); // passing trouble, or a session changed in another tab
    }
    return false;
  }

  // The tab is closing or going away: what is unsaved goes in a request that outlives the page.
  flushOnExit() {
    if (this.locked) return;
    const json = this.json();
    if (json === this.lastSaved) return;
    this.storeLocal();
    this.api.sendOnExit("PUT", this.saveUrl, json);
  }

  // Saves when the tab is hidden, and tries again when the rater comes back or the network does.
  keepAcrossVisits() {
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "hidden") { if (!this.isSaved()) this.save(); }
      else if (this.failed()) this.save();
    });
    window.addEventListener("pagehide", () => this.flushOnExit());
    window.addEventListener("focus", () => { if (this.failed()) this.save(); });
    window.addEventListener("online", () => this.save());
  }

  // What this device kept against what the server has: a copy newer than the server's draft is
  // offered back; `restore` puts it into the form.
  offerLocalCopy(restore) {
    const local = this.readLocal();
    if (local && local.data) {
      const serverTime = Date.parse(this.serverUpdated) || 0;
      if (JSON.stringify(local.data) === this.lastSaved) {
        this.clearLocal();
      } else if (local.base === this.serverUpdated || local.changedAt > serverTime) {
        const banner = document.getElementById("restore-banner");
        document.getElementById("restore-time").textContent = new Date(local.changedAt).toLocaleString();
        banner.hidden = false;
        document.getElementById("restore-yes").addEventListener("click", () => {
          restore(local.data);
          banner.hidden = true;
          this.save();
        });
        document.getElementById("restore-no").addEventListener("click", () => {
          this.clearLocal();
          banner.hidden = true;
        });
      } else {
        this.clearLocal(); // the server's draft was saved after this copy, from elsewhere
      }
    }
    if (this.serverUpdated && this.line && this.line.textContent.trim() === "Draft") {
      this.status("saved", "Draft saved " + new Date(this.serverUpdated).toLocaleString());
    }
  }
}
