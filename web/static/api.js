// The pages' calls to the service's JSON API. Every call carries the session's CSRF token; logging in
// again (in another tab) gives the session a new one, so a call refused for its token reads the new
// token from a page and is made once more.

export class Api {
  constructor(token) {
    this.token = token;
  }

  static fromPage(doc = document) {
    const meta = doc.querySelector('meta[name="csrf-token"]');
    return new Api(meta ? meta.content : "");
  }

  headers(withBody) {
    const headers = { Accept: "application/json", "X-CSRF-Token": this.token };
    if (withBody) headers["Content-Type"] = "application/json";
    return headers;
  }

  // Resolves to { ok, status, data } (data is {} when the answer is not JSON); rejects only when the
  // server cannot be reached.
  async call(method, url, body, retried = false) {
    const options = { method: method, credentials: "same-origin", headers: this.headers(body !== undefined) };
    if (body !== undefined) options.body = JSON.stringify(body);
    const response = await fetch(url, options);
    let data = {};
    try { data = await response.json(); } catch (e) { data = {}; }
    if (response.status === 403 && !retried && /CSRF/.test(data.error || "") && await this.refreshToken()) {
      return this.call(method, url, body, true);
    }
    return { ok: response.ok, status: response.status, data: data };
  }

  // True when this page, fetched again, came with a token: the session is live again. A session still
  // expired sends the page to the login form, whose token does not count.
  async refreshToken() {
    try {
      const response = await fetch(window.location.pathname, { credentials: "same-origin" });
      const match = /<meta name="csrf-token" content="([^"]+)"/.exec(await response.text());
      if (match) this.token = match[1];
      return Boolean(match) && !response.url.includes("/login");
    } catch (e) {
      return false;
    }
  }

  // For a page that is closing: the request outlives it. Nobody is left to read the answer, so a
  // failure is silent and the caller keeps its own copy of what was sent.
  sendOnExit(method, url, json) {
    try {
      fetch(url, {
        method: method, keepalive: true, credentials: "same-origin", body: json, headers: this.headers(true),
      }).catch(() => { /* the caller's copy is kept */ });
    } catch (e) { /* the caller's copy is kept */ }
  }
}
