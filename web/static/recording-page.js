// The transcript page: the player with its keyboard shortcuts, the correction of speakers and of the
// words, and, while transcription is under way, the job's progress until the page reloads with the
// transcript.

import { announcer } from "./announce.js";
import { Api } from "./api.js";
import { editLines, isTyping } from "./line-edits.js";
import { Player } from "./player.js";
import { correctSpeakers, isCorrecting } from "./speakers.js";
import { reloadWhenTranscribed } from "./transcript-ready.js";

const api = Api.fromPage();
const media = document.getElementById("player");
const list = document.getElementById("segments");
const announce = announcer(document.getElementById("announce"));

if (media) {
  const player = new Player(media, list, announce);
  const editor = editLines(list, player, api, announce);
  player.chooseLine = (line, event) => isCorrecting(event) || isTyping(event);
  player.listen();
  player.bindShortcuts(editor ? {
    e: () => editor.begin(editor.lineOn(player)),
    m: () => editor.merge(editor.lineOn(player)),
  } : {});
}
correctSpeakers(list, document.getElementById("selection-summary"), Array.from(document.querySelectorAll(".selection-role")));
reloadWhenTranscribed(document.getElementById("job-status"), api);
