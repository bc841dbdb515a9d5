// The on-model suggestion panel: verdict, reasons and evidence, highlighted in the transcript.
// Raters can agree or disagree with each evidence line; their judgements become training data.

import { timestamp } from "./player.js";

const LABELS = { ipaf_reference: "refers to the IPAF", transference_link: "links the transference to the IPAF" };

function lineElement(index) {
  return document.querySelector('#segments .segment[data-index="' + index + '"]');
}

async function judge(panel, api, button, evidence, agree) {
  const r = await api.call("POST", panel.dataset.judgeUrl, { segment: evidence.index, label: evidence.label, agree: agree });
  const row = button.closest("li");
  row.querySelectorAll("button.judge").forEach((b) => b.setAttribute("aria-pressed", "false"));
  if (r.ok) {
    button.setAttribute("aria-pressed", "true");
    row.querySelector(".judged").textContent = agree ? "agreed" : "disagreed";
  } else {
    row.querySelector(".judged").textContent = "not saved";
  }
}

function evidenceRow(panel, api, evidence) {
  const li = document.createElement("li");
  const moment = document.createElement("button");
  moment.type = "button";
  moment.className = "moment";
  moment.textContent = timestamp(evidence.start);
  // As if the line itself were clicked: it plays (or, while attaching evidence, is attached).
  moment.addEventListener("click", () => {
    const el = lineElement(evidence.index);
    if (el) el.click();
  });
  li.appendChild(moment);
  li.appendChild(document.createTextNode(" " + LABELS[evidence.label] + " (" + Math.round(evidence.probability * 100) + "%) "));
  if (panel.dataset.judgeUrl) {
    [["Agree", true], ["Disagree", false]].forEach(([text, agree]) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "judge";
      button.textContent = text;
      button.setAttribute("aria-pressed", "false");
      button.addEventListener("click", () => judge(panel, api, button, evidence, agree));
      li.appendChild(button);
    });
    const judged = document.createElement("span");
    judged.className = "judged muted";
    li.appendChild(judged);
  }
  return li;
}

function render(panel, api, data) {
  const body = panel.querySelector(".suggestion-body");
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
      li.textContent = (marker.marker || marker.label || "marker") + (marker.start !== undefined ? " at " + timestamp(marker.start) : "");
      list.appendChild(li);
    });
    body.querySelector(".markers").hidden = false;
  }
  const list = body.querySelector(".evidence");
  if (!session.evidence.length) {
    list.insertAdjacentHTML("beforebegin", '<p class="muted">No line stood out.</p>');
  }
  session.evidence.forEach((evidence) => {
    list.appendChild(evidenceRow(panel, api, evidence));
    const el = lineElement(evidence.index);
    if (el) el.classList.add(evidence.label === "transference_link" ? "suggested-link" : "suggested-ipaf");
  });
  panel.querySelector(".suggestion-state").hidden = true;
  body.hidden = false;
}

export async function showSuggestion(panel, api) {
  if (!panel) return;
  const state = panel.querySelector(".suggestion-state");
  try {
    const r = await api.call("GET", panel.dataset.url);
    if (!r.ok) {
      state.textContent = r.data.error || "No suggestion is available.";
      return;
    }
    render(panel, api, r.data);
  } catch (e) {
    state.textContent = "The suggestion could not be loaded.";
  }
}
