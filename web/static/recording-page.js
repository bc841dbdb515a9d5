// The transcript page: the player with its keyboard shortcuts, the correction of speakers, and, while
// transcription is under way, the job's progress until the page reloads with the transcript.

import { announcer } from "./announce.js";
import { Api } from "./api.js";
import { Player } from "./player.js";
import { correctSpeakers, isCorrecting } from "./speakers.js";
import { reloadWhenTranscribed } from "./transcript-ready.js";

const api = Api.fromPage();
const media = document.getElementById("player");
const list = document.getElementById("segments");

if (media) {
  const player = new Player(media, list, announcer(document.getElementById("announce")));
  player.chooseLine = (line, event) => isCorrecting(event);
  player.listen();
  player.bindShortcuts();
}
correctSpeakers(list, document.getElementById("selection-summary"), Array.from(document.querySelectorAll(".selection-role")));
reloadWhenTranscribed(document.getElementById("job-status"), api);
