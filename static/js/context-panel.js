// The Context panel (GET /conversations/ID/context, API "Context"): what the next message would send
// to the model chosen in the composer, before it is sent: each message of the branch on screen as
// sent, kept in the provider's chain, summarised or dropped, the token estimate against the model's
// window and budget, and the estimated cost of that input. Text nodes only; no inline styles.

import { ApiError, errorFrom } from "./api.js";
import { choiceFields } from "./choice.js";
import { $, dom, el, state } from "./dom.js";
import { announce, openPanel } from "./notices.js";
import { errorWords, fmtCost, numberFmt } from "./words.js";

const enc = encodeURIComponent;
const SNIPPET_CHARS = 90;

export const STATE_WORDS = {
  sent: "Sent",
  in_chain: "In the chain",
  summarised: "Summarised",
  dropped: "Dropped",
};

const STATE_TITLES = {
  sent: "Sent again as text with the next message.",
  in_chain: "Already held by the provider: the next message continues its stored conversation.",
  summarised: "Stands in the summary sent with the instructions, not as itself.",
  dropped: "Left out: the model's window cannot hold it (or it has no text).",
};

const MODE_WORDS = {
  first: "Only the instructions and your message are sent.",
  chained: "The provider keeps this conversation: only the messages marked Sent go again, beside the stored chain.",
  replayed: "The conversation is sent again as text, fitted to the model's window: the oldest messages go first.",
  compacted: "A summary stands for the oldest messages; the rest is sent as text.",
};

/** GET the preview for conversation `id` with `params` (provider, model, message_chars, parent). */
export async function getContext(id, params) {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") query.set(k, String(v));
  let res;
  try {
    res = await fetch(`/conversations/${enc(id)}/context?${query}`, {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
  } catch {
    throw new ApiError(0, "network", "The server could not be reached.");
  }
  if (!res.ok) throw await errorFrom(res);
  return res.json();
}

/** A short one-line excerpt of a message's text, or a word for none. */
function snippet(text) {
  const line = (text || "").replace(/\s+/g, " ").trim();
  if (!line) return "(no text)";
  return line.length > SNIPPET_CHARS ? `${line.slice(0, SNIPPET_CHARS - 1)}…` : line;
}

function tokensText(n) {
  return `${numberFmt.format(n)} token${n === 1 ? "" : "s"}`;
}

/** The panel's summary lines: the estimate against the budget and window, the cost, the mode. */
function renderTotals(box, data) {
  box.replaceChildren();
  const line = el("p", "context-estimate");
  line.append(
    el("strong", null, `≈ ${tokensText(data.input_tokens)}`),
    ` of ${numberFmt.format(data.budget)} available (window ${numberFmt.format(data.context_window)}, less the reply's room and a margin)`,
  );
  const meter = document.createElement("meter");
  meter.className = "context-meter";
  meter.min = 0;
  meter.max = Math.max(1, data.budget);
  meter.low = Math.floor(data.budget * 0.75);
  meter.high = Math.floor(data.budget * 0.95);
  meter.optimum = 0;
  meter.value = Math.min(data.input_tokens, data.budget);
  meter.setAttribute("aria-label", "Tokens used of the budget");
  const cost = el("p", "context-cost");
  cost.append("Estimated input cost: ", el("strong", null, fmtCost(data.estimated_cost_usd)));
  const who = el("p", "context-model", `${data.provider} · ${data.model}`);
  const mode = el("p", "context-mode", MODE_WORDS[data.context_mode] || "");
  box.append(line, meter, cost, who, mode);
  const parts = [`instructions ${numberFmt.format(data.instructions_tokens ?? 0)}`, `your message ${numberFmt.format(data.message_tokens ?? 0)}`];
  if (data.chained_tokens) parts.push(`the provider's chain ${numberFmt.format(data.chained_tokens)}`);
  if (data.summary) parts.push(`summary ${numberFmt.format(data.summary.tokens)}`);
  if (data.summary_pending) {
    const n = data.messages.filter((m) => m.state === "summarised").length;
    box.append(el("p", "context-note", `Before sending, the ${n} oldest messages are summarised once; the summary then stands for them (its tokens are not counted yet).`));
  }
  box.append(el("p", "field-hint", `Of which ${parts.join(", ")}. Counted ${data.token_method === "estimate" ? "by estimate, corrected by what the provider reported" : `with ${data.token_method}`}.`));
}

function renderSummary(box, summary) {
  box.replaceChildren();
  box.hidden = !summary;
  if (!summary) return;
  box.append(el("h3", null, `Summary · ${tokensText(summary.tokens)}`));
  box.append(el("p", "context-summary-text", summary.text === null ? "Summarised by the provider (its own compacted form, not readable here)." : summary.text));
}

/** The list of the branch's messages with their state and tokens. */
function renderMessages(list, data, texts) {
  list.replaceChildren();
  for (const m of data.messages) {
    const item = el("li", `context-item context-${m.state}`);
    item.dataset.messageId = m.id;
    item.dataset.state = m.state;
    const role = el("span", "context-role", m.role === "user" ? "You" : "Assistant");
    const text = el("span", "context-text", snippet(texts.get(m.id)));
    const badge = el("span", `context-state state-${m.state}`, STATE_WORDS[m.state] || m.state);
    badge.title = STATE_TITLES[m.state] || "";
    const tokens = el("span", "context-tokens", tokensText(m.tokens));
    item.append(role, text, badge, tokens);
    list.append(item);
  }
  const next = el("li", "context-item context-next");
  next.append(
    el("span", "context-role", "You"),
    el("span", "context-text", dom.input.value.trim() ? snippet(dom.input.value) : "(your next message)"),
    el("span", "context-state state-sent", STATE_WORDS.sent),
    el("span", "context-tokens", tokensText(data.message_tokens ?? 0)),
  );
  list.append(next);
}

export function initContextPanel() {
  const dialog = $("#context-dialog");
  const opener = $("#context-open");
  if (!dialog || !opener) return;
  const totals = $("#context-totals");
  const summary = $("#context-summary");
  const list = $("#context-list");
  const result = $("#context-result");
  const refresh = $("#context-refresh");

  const say = (text) => {
    result.textContent = text;
    result.hidden = !text;
    if (text) announce(text);
  };

  async function load() {
    const id = state.currentId;
    say("");
    if (!id) {
      totals.replaceChildren(el("p", "context-mode", "A new conversation sends only the instructions and your first message."));
      summary.hidden = true;
      list.replaceChildren();
      return;
    }
    dialog.setAttribute("aria-busy", "true");
    try {
      const data = await getContext(id, { ...choiceFields(), message_chars: dom.input.value.length });
      if (state.currentId !== id) return; // another conversation opened meanwhile
      // A message's attachments are named after its text ("[image: cat.png]"), so one of files alone shows.
      const label = (m) => [m.text, ...(m.attachments || []).map((a) => `[${a.kind}: ${a.name}]`)].filter(Boolean).join(" ");
      const texts = new Map((state.conv?.messages || []).map((m) => [m.id, label(m)]));
      renderTotals(totals, data);
      renderSummary(summary, data.summary);
      renderMessages(list, data, texts);
      const dropped = data.messages.filter((m) => m.state === "dropped").length;
      announce(`${tokensText(data.input_tokens)} would be sent${dropped ? `, ${dropped} messages dropped` : ""}.`);
    } catch (err) {
      totals.replaceChildren();
      summary.hidden = true;
      list.replaceChildren();
      if (err?.code === "context_too_long") say("Your message alone is too long for this model's window.");
      else say(errorWords(err?.code, err?.message));
    } finally {
      dialog.removeAttribute("aria-busy");
    }
  }

  opener.addEventListener("click", () => {
    openPanel(dialog, { opener, focus: refresh });
    load();
  });
  refresh.addEventListener("click", load);
}

initContextPanel();
