// What a screen reader hears of a turn, through the page's one polite status region (#sr-status, via
// notices.announce): "Answering…" while a reply streams, then the finished reply's text once. The
// conversation itself is not a live region, so streamed nodes and a re-rendered branch are never read out.
// Imports notices.js and words.js only.

import { announce } from "./notices.js";
import { STATUS_WORDS } from "./words.js";

// A longer reply is read up to here; the rest is in the conversation, where reading can go on.
const READ_MAX = 6000;

export const ANSWERING = "Answering…";

/** Say that a reply is being written (once per turn, not per streamed piece). */
export function announceAnswering() {
  announce(ANSWERING);
}

/** The text a finished reply is announced with: its rendered text, then its status line if any. */
export function replyWords(art, status) {
  if (status === "stopped") return STATUS_WORDS.stopped;
  const body = art?.querySelector(".msg-body");
  let text = (body?.innerText || body?.textContent || "").replace(/\s+\n/g, "\n").trim();
  if (text.length > READ_MAX) text = `${text.slice(0, READ_MAX)}… The reply goes on in the conversation.`;
  const note = status === "incomplete" ? `${STATUS_WORDS.incomplete}.` : "";
  const parts = [text || "The reply is empty.", note].filter(Boolean);
  return parts.join(" ");
}

/** Announce a finished reply once: its text (or "Stopped."). */
export function announceReply(art, status) {
  announce(replyWords(art, status));
}
