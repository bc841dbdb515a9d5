// The on-model suggestion panel: verdict, reasons and evidence, highlighted in the transcript.
// Raters can agree or disagree with each evidence line; their judgements become training data.
(function () {
  "use strict";
  const panel = document.getElementById("suggestion");
  if (!panel) return;
  const state = panel.querySelector(".suggestion-state");
  const body = panel.querySelector(".suggestion-body");
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const labels = { ipaf_reference: "refers to the IPAF", transference_link: "links the transference to the IPAF" };

  const clock = window.DitTranscript.timestamp;

  function segmentElement(index) {
    return document.querySelector('#segments .segment[data-index="' + index + '"]');
  }

  async function judge(button, evidence, agree) {
    const response = await fetch(panel.dataset.judgeUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ segment: evidence.index, label: evidence.label, agree: agree }),
    });
    const row = button.closest("li");
    row.querySelectorAll("button.judge").forEach((b) => b.setAttribute("aria-pressed", "false"));
    if (response.ok) {
      button.setAttribute("aria-pressed", "true");
      row.querySelector(".judged").textContent = agree ? "agreed" : "disagreed";
    } else {
      row.querySelector(".judged").textContent = "not saved";
    }
  }

  function render(data) {
    const session = data.session;
    const badge = body.querySelector(".verdict-badge");
    badge.textContent = session.verdict;
    badge.className = "verdict-badge verdict-" + session.verdict;
    body.querySelector(".ipaf-used").textContent =
      "judged against IPAF version " + data.ipaf.version + ": " + data.ipaf.self + " / " + data.ipaf.other + " / " + data.ipaf.affect;
    const reasons = body.querySelector(".reasons");
    session.reasons.forEach((reason) => {
      const li = document.createElement("li");
      li.textContent = reason;
      reasons.appendChild(li);
    });
    const markers = session.off_model_markers || [];
    if (markers.length) {
      const list = body.querySelector(".markers ul");
      markers.forEach((marker) => {
        const li = document.createElement("li");
        li.textContent = (marker.marker || marker.label || "marker") + (marker.start !== undefined ? " at " + clock(marker.start) : "");
        list.appendChild(li);
      });
      body.querySelector(".markers").hidden = false;
    }
    const list = body.querySelector(".evidence");
    if (!session.evidence.length) {
      list.insertAdjacentHTML("beforebegin", '<p class="muted">No line stood out.</p>');
    }
    session.evidence.forEach((evidence) => {
      const li = document.createElement("li");
      const moment = document.createElement("button");
      moment.type = "button";
      moment.className = "moment";
      moment.textContent = clock(evidence.start);
      moment.addEventListener("click", () => {
        const el = segmentElement(evidence.index);
        if (el) el.click();
      });
      li.appendChild(moment);
      li.appendChild(document.createTextNode(" " + labels[evidence.label] + " (" + Math.round(evidence.probability * 100) + "%) "));
      if (panel.dataset.judgeUrl) {
        [["Agree", true], ["Disagree", false]].forEach(([text, agree]) => {
          const button = document.createElement("button");
          button.type = "button";
          button.className = "judge";
          button.textContent = text;
          button.setAttribute("aria-pressed", "false");
          button.addEventListener("click", () => judge(button, evidence, agree));
          li.appendChild(button);
        });
        const judged = document.createElement("span");
        judged.className = "judged muted";
        li.appendChild(judged);
      }
      list.appendChild(li);
      const el = segmentElement(evidence.index);
      if (el) el.classList.add(evidence.label === "transference_link" ? "suggested-link" : "suggested-ipaf");
    });
    state.hidden = true;
    body.hidden = false;
  }

  fetch(panel.dataset.url, { headers: { Accept: "application/json" } })
    .then(async (response) => {
      const data = await response.json();
      if (!response.ok) {
        state.textContent = data.error || "No suggestion is available.";
        return;
      }
      render(data);
    })
    .catch(() => { state.textContent = "The suggestion could not be loaded."; });
})();
