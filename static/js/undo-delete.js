// Delete with undo: the page hides the conversation at once and shows a toast with Undo; the DELETE
// is sent when the toast times out (UNDO_MS), or at `pagehide` with fetch keepalive so a reload or
// a closed tab still deletes. Imports only dom.js; the list's refresh is passed in.

import { el } from "./dom.js";

export const UNDO_MS = 5000;
/** The key that undoes the last delete while its toast shows (outside text fields). */
export const UNDO_KEYS = /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent || "") ? "⌘+Z" : "Ctrl+Z";

const pending = new Map(); // id -> {timer, toast, entry}
let region = null;

function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]')?.getAttribute("content") || "";
}

function toastRegion() {
  if (region) return region;
  // Not a live region: the page's status line says what happened (one voice, not two).
  region = el("div", "toasts");
  region.id = "toasts";
  document.body.append(region);
  return region;
}

/** True while `id` waits for its DELETE (the list leaves it out). */
export function isPendingDelete(id) {
  return pending.has(id);
}

/** The DELETE itself, as the API says (204, or 404 when it is gone already). */
function sendDelete(id, keepalive = false) {
  return fetch(`/conversations/${encodeURIComponent(id)}`, {
    method: "DELETE",
    headers: { Accept: "application/json", "X-CSRF-Token": csrfToken() },
    credentials: "same-origin",
    keepalive,
  });
}

/**
 * Hide `entry` and delete it after UNDO_MS unless Undo is pressed.
 * `hooks` = {changed() (re-render the list), failed(entry, message) (the DELETE was refused)}.
 */
export function deleteWithUndo(entry, name, hooks) {
  const id = entry.id;
  if (pending.has(id)) return;
  const toast = el("div", "toast");
  toast.dataset.id = id;
  const text = el("span", "toast-text", `Deleted “${name}”.`);
  const undo = el("button", "btn btn-small toast-undo", "Undo");
  undo.type = "button";
  undo.setAttribute("aria-label", `Undo deleting “${name}”`);
  toast.append(text, undo);
  const box = toastRegion();
  // Above the message box, whatever its height (it grows with the text; on a phone it spans the width).
  const composer = document.getElementById("composer");
  if (composer) box.style.bottom = `${Math.max(16, window.innerHeight - composer.getBoundingClientRect().top + 10)}px`;
  box.append(toast);
  const timer = setTimeout(() => commit(id, hooks), UNDO_MS);
  const restore = () => {
    const p = pending.get(id);
    if (!p) return;
    clearTimeout(p.timer);
    pending.delete(id);
    p.toast.remove();
    hooks.changed({ restored: entry });
  };
  pending.set(id, { timer, toast, entry, restore, composer: null });
  undo.addEventListener("click", restore);
  hooks.changed({ hidden: entry });
  const p = pending.get(id);
  if (p) p.composer = document.getElementById("composer-input")?.value ?? null; // as the delete left it
}

/**
 * Ctrl+Z in the message box while a delete's toast shows: undo the delete when the box is empty or
 * unchanged since the delete (then nothing typed can be undone there instead); false otherwise.
 */
export function undoDeleteFromComposer(text) {
  const last = Array.from(pending.values()).pop();
  if (!last || (text.trim() && text !== last.composer)) return false;
  last.restore();
  return true;
}

/** Undo the latest delete that is still waiting; false when there is none. */
export function undoLastDelete() {
  const last = Array.from(pending.values()).pop();
  if (!last) return false;
  last.restore();
  return true;
}

async function commit(id, hooks) {
  const p = pending.get(id);
  if (!p) return;
  p.toast.remove();
  let res = null;
  try {
    res = await sendDelete(id);
  } catch {
    res = null;
  }
  pending.delete(id);
  if (res && (res.ok || res.status === 404)) {
    hooks.changed({ deleted: p.entry });
    return;
  }
  let message = "The conversation could not be deleted: the server could not be reached. It is back in the list; try again.";
  if (res) {
    try {
      const body = await res.json();
      if (body?.error?.message) message = `The conversation could not be deleted: ${body.error.message} It is back in the list.`;
    } catch {
      /* not JSON: keep the words above */
    }
  }
  hooks.failed(p.entry, message);
}

/** Send every waiting DELETE now, with keepalive (the page is going away). */
export function flushPendingDeletes() {
  for (const [id, p] of pending) {
    clearTimeout(p.timer);
    p.toast.remove();
    try {
      sendDelete(id, true);
    } catch {
      /* the page is leaving: nothing more can be done */
    }
  }
  pending.clear();
}

window.addEventListener("pagehide", flushPendingDeletes);

// Logging out ends the session, and a DELETE arriving after it would be refused: send the waiting
// ones first, then let the form post.
document.addEventListener("submit", async (ev) => {
  const form = ev.target;
  if (!(form instanceof HTMLFormElement) || !form.classList.contains("logout-form") || !pending.size) return;
  ev.preventDefault();
  const sends = [];
  for (const [id, p] of pending) {
    clearTimeout(p.timer);
    p.toast.remove();
    sends.push(sendDelete(id, true).catch(() => null));
  }
  pending.clear();
  await Promise.race([Promise.all(sends), new Promise((r) => setTimeout(r, 3000))]);
  form.submit();
});
