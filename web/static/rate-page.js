// The rating page and the adjudication page: the player beside the transcript, the rating form (or
// the consensus form), and the on-model suggestion. The form's own keys join the player's: Escape
// stops attaching evidence, "a" attaches the line being played.

import { announcer } from "./announce.js";
import { Api } from "./api.js";
import { Player } from "./player.js";
import { RatingForm } from "./rating-form.js";
import { showSuggestion } from "./suggestion.js";
import { loadTranscriptWhenReady } from "./transcript-ready.js";

const api = Api.fromPage();
const announce = announcer(document.getElementById("announce"));
const media = document.getElementById("player");
const player = media ? new Player(media, document.getElementById("segments"), announce) : null;
const formElement = document.getElementById("rating-form");
const form = formElement ? new RatingForm(formElement, { api: api, player: player, announce: announce }) : null;

if (player) {
  if (form) player.chooseLine = (line, event) => form.chooseLine(line, event);
  player.listen();
  player.bindShortcuts(form ? { Escape: () => form.stopAttaching(), a: () => form.attachLinePlayed() } : {});
}
if (form) {
  form.listen();
  // The transcript, once it is ready, without losing anything typed meanwhile.
  loadTranscriptWhenReady(document.getElementById("waiting"), api, () => form.draft.save());
}
showSuggestion(document.getElementById("suggestion"), api);
