// Model-written titles (CHAT_AUTO_TITLES): the server names a conversation shortly after its first
// reply, so after that reply the list is fetched again a few times until the name changes; only where
// the page says the server writes them (body data-auto-titles).

import { dom, hooks, state } from "./dom.js";
import { refreshList } from "./conversations.js";

const DELAYS_MS = [1500, 3000, 6000];
const watched = new Set();

/** After a turn's `done`: pick up a title the server may still be writing (first exchange only). */
export function watchTitle(id) {
  // Without CHAT_AUTO_TITLES no title is coming: no polling.
  if (dom.body.dataset.autoTitles !== "true") return;
  if (!id || watched.has(id)) return;
  const entry = state.conversations.find((c) => c.id === id);
  if (entry && entry.message_count > 2) return;
  watched.add(id);
  const before = entry ? entry.chat_name : dom.title.textContent;
  let attempt = 0;
  const tick = async () => {
    await refreshList();
    const now = state.conversations.find((c) => c.id === id);
    if (now && now.chat_name !== before) {
      if (state.currentId === id) hooks.setTitle(now.chat_name);
      return;
    }
    attempt += 1;
    if (attempt < DELAYS_MS.length) setTimeout(tick, DELAYS_MS[attempt]);
  };
  setTimeout(tick, DELAYS_MS[0]);
}
