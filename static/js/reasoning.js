// The reasoning of a reply: a live "Thinking…" label while the model reasons (reasoning frames, or
// the wait before the first text with a model the catalogue lists as reasoning), then "Thought for
// 12 s · 340 reasoning tokens". The summary, when the model gives one, sits in a <details> that is
// collapsed by default; without one the label is a line of its own. The summary's text is rendered
// by render.js (TurnView); this module only writes the label. Imports dom.js and catalogue.js.

import { findModel } from "./catalogue.js";
import { el, state } from "./dom.js";

const numberFmt = new Intl.NumberFormat("en");

/** "less than a second", "12 s", "2 min 5 s". */
export function fmtSeconds(ms) {
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0) return null;
  if (ms < 1000) return "less than a second";
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
}

/** "Thought for 12 s · 340 reasoning tokens" (either part may be missing). */
export function thoughtWords(ms, tokens) {
  const time = fmtSeconds(ms);
  const parts = [time ? `Thought for ${time}` : "Thought"];
  if (typeof tokens === "number" && tokens > 0) parts.push(`${numberFmt.format(tokens)} reasoning ${tokens === 1 ? "token" : "tokens"}`);
  return parts.join(" · ");
}

/** The reasoning <details> of a reply (collapsed), with its label and the body TurnView fills. */
export function reasoningSection() {
  const d = el("details", "thinking");
  d.hidden = true;
  const s = el("summary", null);
  s.append(el("span", "thinking-label", "Thinking"));
  d.append(s, el("div", "thinking-body md"));
  return d;
}

/** The line that carries the label when there is no summary to open (created on first use). */
function note(art) {
  let n = art.querySelector(".reasoning-note");
  if (!n) {
    n = el("p", "reasoning-note");
    n.hidden = true;
    const d = art.querySelector("details.thinking");
    if (d) d.after(n);
    else return null;
  }
  return n;
}

/** Write the label on the summary and on the note line; `live` while the model is still thinking. */
export function setReasoningLabel(art, text, live = false) {
  const label = art.querySelector("details.thinking .thinking-label");
  if (label) {
    label.textContent = text || "Thinking";
    label.classList.toggle("live", live);
  }
  const n = note(art);
  if (n) {
    n.textContent = text || "";
    n.hidden = !text;
    n.classList.toggle("live", live);
  }
}

/** A finished reply from the server: the label from its latency and usage, when it reasoned. */
export function showStoredReasoning(art, m) {
  if (!m || m.role !== "assistant" || m.status === "in_progress") return;
  const tokens = m.usage?.reasoning_tokens || 0;
  if (!m.reasoning_summary && !tokens) {
    setReasoningLabel(art, "");
    return;
  }
  const lat = m.latency_ms || {};
  const ms = typeof lat.first_token === "number" ? lat.first_token : lat.total;
  setReasoningLabel(art, thoughtWords(ms, tokens));
}

/** True when the catalogue says this model reasons (a list of efforts). */
function reasons(provider, model) {
  const entry = findModel(state.catalogue, provider, model);
  return Array.isArray(entry?.reasoning) && entry.reasoning.length > 0;
}

/** Follow one frame of a live turn (called for every event the page reads). */
export function trackReasoning(art, event, data) {
  if (!art) return;
  let r = art._reasoning;
  if (!r || event === "conversation") {
    // A re-attached reply started when its message was written; a new one starts now.
    // A continuation starts now too, although its message is older.
    const ts = event === "conversation" && data?.continue_message_id ? null : art._msg?.timestamp;
    r = art._reasoning = { start: typeof ts === "number" ? ts * 1000 : Date.now(), seen: false, expected: false, textAt: null };
  }
  if (event === "conversation" || event === "fallback") {
    r.expected = reasons(data?.provider, data?.model);
    if (r.expected && r.textAt === null) setReasoningLabel(art, "Thinking…", true);
  } else if (event === "reasoning") {
    r.seen = true;
    if (r.textAt === null) setReasoningLabel(art, "Thinking…", true);
  } else if (event === "delta") {
    if (r.textAt !== null || !data?.text) return;
    r.textAt = Date.now();
    setReasoningLabel(art, r.seen || r.expected ? thoughtWords(r.textAt - r.start, null) : "");
  } else if (event === "done" || event === "error") {
    const tokens = data?.usage?.reasoning_tokens || 0;
    if (!r.seen && !tokens) {
      setReasoningLabel(art, "");
      return;
    }
    setReasoningLabel(art, thoughtWords((r.textAt ?? Date.now()) - r.start, tokens));
  }
}
