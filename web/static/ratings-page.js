// The ratings page (the trainee's feedback page): evidence moments play in the player at the top, the
// course lead's buttons call the API, and the released feedback comes with the on-model suggestion.

import { announcer } from "./announce.js";
import { Api } from "./api.js";
import { sendFormsToTheApi } from "./lead-actions.js";
import { Player } from "./player.js";
import { showSuggestion } from "./suggestion.js";

const api = Api.fromPage();
const media = document.getElementById("player");

if (media) {
  const player = new Player(media, document.getElementById("segments"), announcer(document.getElementById("announce")));
  player.listen();
  player.bindShortcuts();
}
sendFormsToTheApi(document.querySelectorAll("form.api-form[data-api]"), api);
showSuggestion(document.getElementById("suggestion"), api);
