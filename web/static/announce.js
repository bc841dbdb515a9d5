// The live region under the player: what a key or a click just did, said to screen readers and shown,
// then cleared so that an old message is not read as new.

const SHOWN_MS = 6000;

export function announcer(region) {
  let timer = null;
  return function announce(message) {
    if (!region) return;
    region.textContent = message;
    clearTimeout(timer);
    timer = setTimeout(() => { region.textContent = ""; }, SHOWN_MS);
  };
}
