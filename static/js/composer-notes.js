// The composer's length check: a message over the server's limit (CHAT_MAX_MESSAGE_CHARS, given to
// the page as the body's data-max-message-chars) says the limit and how far over it is, and is not
// sent. Imports dom.js and words.js only; turn.js asks composerFits() before a send.

import { dom, el } from "./dom.js";
import { pageFacts, tooLongWords } from "./words.js";

const given = Number(dom.body.dataset.maxMessageChars);
const limit = Number.isFinite(given) && given > 0 ? given : null;
pageFacts.maxMessageChars = limit;

let note = null;

function noteEl() {
  if (note) return note;
  note = el("p", "composer-note note-error composer-limit");
  note.id = "composer-limit";
  note.setAttribute("aria-live", "polite");
  note.hidden = true;
  const anchor = document.getElementById("composer-note");
  if (anchor) anchor.after(note);
  else dom.input.before(note);
  return note;
}

/** The length the server counts: code points of the text that is sent (it is trimmed first). */
export function sentLength(text) {
  const t = text.trim();
  // Fewer UTF-16 units than the limit means fewer code points too: no need to count them.
  return limit !== null && t.length <= limit ? t.length : [...t].length;
}

/** Show or hide the note for the composer's text now; true when it fits. */
export function checkLength() {
  if (limit === null) return true;
  const value = dom.input.value;
  const n = value.length <= limit ? 0 : sentLength(value);
  const over = n > limit;
  const box = noteEl();
  box.textContent = over ? tooLongWords(limit, n) : "";
  box.hidden = !over;
  dom.form.classList.toggle("over-limit", over);
  if (over) dom.input.setAttribute("aria-invalid", "true");
  else dom.input.removeAttribute("aria-invalid");
  // Screen readers read the note with the box while it applies.
  const ids = (dom.input.getAttribute("aria-describedby") || "").split(/\s+/).filter((x) => x && x !== box.id);
  if (over) ids.push(box.id);
  dom.input.setAttribute("aria-describedby", ids.join(" "));
  return !over;
}

/** Before a send: true when the message fits; otherwise the note says why and focus stays in the box. */
export function composerFits() {
  if (checkLength()) return true;
  dom.input.focus();
  return false;
}

export function initComposerNotes() {
  dom.input.addEventListener("input", checkLength);
  checkLength();
}
