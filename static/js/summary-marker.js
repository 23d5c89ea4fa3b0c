// The marker where a summary stands in the message list (API.md "Context"): after the last message it
// covers, "Earlier messages summarised" with the summary's text to expand, or, for the provider's own
// compaction (no text), "summarised by the provider". The summary's text is model text: it reaches the
// DOM only through render.js.

import { el } from "./dom.js";
import { renderMarkdown } from "./render.js";

/** The summary a next turn on the branch shown would use: the longest of `conv.summaries` whose covers
 * are the first messages of the branch (GET /chat sends only those), or null. */
export function branchSummary(conv) {
  const ids = (conv.messages || []).map((m) => m.id);
  let best = null;
  for (const s of conv.summaries || []) {
    const covers = Array.isArray(s?.covers) ? s.covers : [];
    if (!covers.length || covers.length > ids.length) continue;
    if (!covers.every((id, i) => ids[i] === id)) continue;
    if (!best || covers.length > best.covers.length) best = s;
  }
  return best;
}

function countWords(n) {
  return `${n} ${n === 1 ? "message" : "messages"}`;
}

/** The marker element of one summary. */
export function summaryMarker(summary) {
  const n = summary.covers.length;
  const by = [summary.provider, summary.model].filter(Boolean).join(" · ");
  if (summary.text === null || summary.text === undefined) {
    const box = el("div", "summary-marker summary-marker-provider");
    box.setAttribute("role", "note");
    box.dataset.summaryId = summary.id;
    box.append(
      el("span", "summary-marker-title", "Earlier messages summarised by the provider"),
      el("span", "summary-marker-detail", ` · ${countWords(n)} above, kept by ${summary.provider || "the provider"} in a form only it can read`),
    );
    return box;
  }
  const box = el("details", "summary-marker");
  box.dataset.summaryId = summary.id;
  const head = el("summary", "summary-marker-head");
  head.append(
    el("span", "summary-marker-title", "Earlier messages summarised"),
    el("span", "summary-marker-detail", ` · ${countWords(n)} above are sent as this summary`),
  );
  const body = el("div", "summary-marker-text md");
  renderMarkdown(body, summary.text);
  box.append(head, body);
  if (by) box.title = `Written by ${by}`;
  return box;
}

/** Put the marker of the branch's summary into `nodes` (the message list's elements, in order) after
 * the article of the last message it covers; `nodes` is changed in place. A summary always stands
 * before some later message, so the last node stays the newest message (a re-attached turn's). */
export function placeSummaryMarker(nodes, conv) {
  const summary = branchSummary(conv);
  if (!summary) return;
  const last = summary.covers[summary.covers.length - 1];
  const at = nodes.findIndex((n) => n.dataset?.id === last);
  if (at >= 0 && at < nodes.length - 1) nodes.splice(at + 1, 0, summaryMarker(summary));
}
