// Drafts: what is typed in the composer is kept per conversation (and for the new chat) in
// localStorage, across switching and reloads; a send clears it, and logging out clears them all.
// Keys are per user, so two accounts in one browser never see each other's drafts. Logging out in one
// tab writes a marker key first: the user's other tabs see it (the `storage` event), empty their
// composer, stop saving and go to the login page; a 401 anywhere (api.js's "sessionended") stops saving
// too. Imports only dom.js: view.js and turn.js call in here.

import { dom, state } from "./dom.js";

const PREFIX = "chat.draft.";
const NEW = "new";
const MAX_AGE_MS = 30 * 24 * 3600 * 1000; // a draft left for a month is forgotten

let shownKey = null; // the key the composer's text belongs to
let stopped = false; // logged out (here or in another tab) or the session ended: nothing more is kept

const LOGOUT = "chat.loggedout."; // + username: written at logout, read by the user's other tabs

function userPrefix() {
  return `${PREFIX}${dom.body.dataset.username || ""}.`;
}

function keyOf(id) {
  return userPrefix() + (id || NEW);
}

function store() {
  try {
    return window.localStorage;
  } catch {
    return null; // storage refused (private mode, a sandbox): drafts simply are not kept
  }
}

function read(key) {
  const raw = store()?.getItem(key);
  if (!raw) return "";
  try {
    const d = JSON.parse(raw);
    return typeof d?.text === "string" ? d.text : "";
  } catch {
    return "";
  }
}

function write(key, text) {
  const s = store();
  if (!s || stopped) return;
  try {
    if (text.trim()) s.setItem(key, JSON.stringify({ text, at: Date.now() }));
    else s.removeItem(key);
  } catch {
    // Quota exceeded: the draft stays in the composer only.
  }
}

/** The stored draft of conversation `id` (null: the new chat), or "". */
export function draftOf(id) {
  return read(keyOf(id));
}

/** Keep the composer's text as the draft of the conversation on screen. */
export function saveDraft() {
  const key = keyOf(state.currentId);
  // The new chat got its id while the user typed: the text moves with it.
  if (shownKey && shownKey !== key && shownKey === keyOf(null)) write(shownKey, "");
  shownKey = key;
  write(key, dom.input.value);
}

/** Show conversation `id`'s draft in the composer (null: the new chat's); the text typed so far is kept as its own draft. */
export function showDraft(id) {
  const key = keyOf(id);
  if (key === shownKey) return; // the same conversation again: leave what is typed alone
  if (shownKey) write(shownKey, dom.input.value);
  shownKey = key;
  dom.input.value = read(key);
  dom.input.dispatchEvent(new Event("draftshown")); // autosize and the length check listen
}

/**
 * The composer now shows conversation `toId` (null: the new chat) and `text` goes with it: it is `toId`'s
 * draft and no longer `fromId`'s, which keeps `left` (a deleted conversation's text stays in the composer, not in the deleted one).
 */
export function moveDraft(fromId, toId, text, left = "") {
  write(keyOf(fromId), left);
  shownKey = keyOf(toId);
  dom.input.value = text;
  write(shownKey, text);
  dom.input.dispatchEvent(new Event("draftshown"));
}

/** The composer was sent: forget its draft. */
export function clearDraft() {
  const key = keyOf(state.currentId);
  write(key, "");
  if (shownKey && shownKey !== key) write(shownKey, "");
  shownKey = key;
}

/** Forget every draft of this user (logging out on a shared computer leaves nothing typed behind). */
export function clearAllDrafts() {
  const s = store();
  if (!s) return;
  const prefix = userPrefix();
  const doomed = [];
  for (let i = 0; i < s.length; i++) {
    const k = s.key(i);
    if (k && k.startsWith(prefix)) doomed.push(k);
  }
  for (const k of doomed) s.removeItem(k);
  shownKey = null;
}

function pruneOld() {
  const s = store();
  if (!s) return;
  const now = Date.now();
  const doomed = [];
  for (let i = 0; i < s.length; i++) {
    const k = s.key(i);
    if (!k || !k.startsWith(PREFIX)) continue;
    try {
      const at = JSON.parse(s.getItem(k) || "null")?.at;
      if (typeof at !== "number" || now - at > MAX_AGE_MS) doomed.push(k);
    } catch {
      doomed.push(k);
    }
  }
  for (const k of doomed) s.removeItem(k);
}

/** Logged out elsewhere: nothing typed stays on screen or in storage, and the page goes to the login. */
function loggedOutElsewhere() {
  stopped = true;
  dom.input.value = "";
  dom.input.dispatchEvent(new Event("draftshown"));
  window.location.assign("/login");
}

function onStorage(ev) {
  if (stopped || ev.storageArea !== store()) return;
  const user = dom.body.dataset.username || "";
  // ev.key null: the whole storage was cleared. A draft key removed alone is a send in another tab, not a logout.
  if (ev.key === null || (ev.key === LOGOUT + user && ev.newValue !== null)) loggedOutElsewhere();
}

/** Save on every edit, clear at logout (before the form posts), forget month-old drafts. */
export function initDrafts() {
  pruneOld();
  dom.input.addEventListener("input", saveDraft);
  for (const form of document.querySelectorAll("form.logout-form")) {
    form.addEventListener("submit", () => {
      try {
        store()?.setItem(LOGOUT + (dom.body.dataset.username || ""), String(Date.now())); // tells the other tabs
      } catch {
        // Storage refused: the other tabs learn at their next request (a 401).
      }
      clearAllDrafts();
      stopped = true;
    });
  }
  window.addEventListener("storage", onStorage);
  window.addEventListener("sessionended", () => {
    stopped = true;
  });
}
