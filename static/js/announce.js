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

// Not read out: the code blocks' bars (language, Copy), buttons, and a formula's TeX source (its MathML is read).
const SKIP = ".codeblock-bar, button, annotation, annotation-xml";
const BLOCKS = "p, li, pre, tr, h1, h2, h3, h4, h5, h6, blockquote, dt, dd, div, table, br";

/** A rendered reply's text as a screen reader would read it: blocks on lines of their own, no controls. */
export function readableText(body) {
  const copy = body.cloneNode(true);
  for (const n of copy.querySelectorAll(SKIP)) n.remove();
  // The markup's own line breaks are not the reader's, except inside code.
  const walk = document.createTreeWalker(copy, NodeFilter.SHOW_TEXT);
  for (let t = walk.nextNode(); t; t = walk.nextNode()) {
    if (!t.parentElement?.closest("pre")) t.data = t.data.replace(/\s+/g, " ");
  }
  for (const n of copy.querySelectorAll(BLOCKS)) n.after("\n");
  for (const n of copy.querySelectorAll("td, th")) n.after(" ");
  return copy.textContent.replace(/[ \t]+/g, " ").replace(/ ?\n[\s]*/g, "\n").trim();
}

/** The text a finished reply is announced with: its rendered text, then its status line if any. */
export function replyWords(art, status) {
  if (status === "stopped") return STATUS_WORDS.stopped;
  const body = art?.querySelector(".msg-body");
  let text = body ? readableText(body) : "";
  if (text.length > READ_MAX) text = `${text.slice(0, READ_MAX)}… The reply goes on in the conversation.`;
  const note = status === "incomplete" ? `${STATUS_WORDS.incomplete}.` : "";
  const parts = [text || "The reply is empty.", note].filter(Boolean);
  return parts.join(" ");
}

/** Announce a finished reply once: its text (or "Stopped."). */
export function announceReply(art, status) {
  announce(replyWords(art, status));
}
