// Message articles: one per message of the branch on screen, with status, actions and usage.
// Model text reaches the DOM only through render.js (TurnView).

import { el, hooks, state } from "./dom.js";
import { TurnView } from "./render.js";
import { reasoningSection, showStoredReasoning } from "./reasoning.js";
import { attachmentList } from "./attachment-links.js";
import { messageTime } from "./msg-time.js";
import { droppedWords, optionsWords } from "./options.js";
import {
  RETRYABLE,
  STATUS_WORDS,
  errorWords,
  fallbackFailedNotice,
  fallbackNotice,
  fmtCost,
  fmtTokens,
  incompleteWords,
  priceTitle,
  usageTitle,
} from "./words.js";

export function roleLabel(role) {
  return role === "user" ? "You" : "Assistant";
}

export function messageArticle(m, isLast) {
  const art = el("article", `msg msg-${m.role}`);
  art.dataset.id = m.id;
  art.dataset.role = m.role;
  if (m.status) art.dataset.status = m.status;
  art.setAttribute("aria-label", roleLabel(m.role));
  art._msg = m;

  const head = el("div", "msg-head");
  head.append(el("span", "msg-role", roleLabel(m.role)));
  art.append(head);
  if (m.role === "assistant") {
    setAnswerer(art, m.provider, m.model);
    art.append(el("div", "msg-fallback"));
    showFallback(art, m);
  }

  if (m.role === "assistant") {
    const thinking = thinkingSection();
    art.append(thinking);
    const body = el("div", "msg-body md");
    art.append(body);
    const view = new TurnView(body, thinking);
    view.text = m.text || "";
    view.reasoning = m.reasoning_summary || "";
    view.flush();
    art._view = view;
    showStoredReasoning(art, m);
  } else {
    if (Array.isArray(m.attachments) && m.attachments.length) art.append(attachmentList(m.attachments));
    const body = el("div", "msg-body plain", m.text || "");
    // A message of attachments only has no bubble of its own.
    if (!m.text && Array.isArray(m.attachments) && m.attachments.length) body.hidden = true;
    art.append(body);
  }
  art.append(el("div", "msg-status"));
  art.append(el("div", "msg-foot"));
  decorateFinished(art, m, isLast);
  return art;
}

/** Show which provider and model answered (or, while it streams, are answering) in the reply's head. */
export function setAnswerer(art, provider, model) {
  const head = art.querySelector(".msg-head");
  if (!head) return;
  for (const [cls, value] of [["msg-provider", provider], ["msg-model", model]]) {
    let span = head.querySelector(`.${cls}`);
    if (!value) {
      span?.remove();
      continue;
    }
    if (!span) {
      span = el("span", cls);
      head.append(span);
    }
    span.textContent = value;
  }
  if (provider || model) {
    head.title = `Answered by ${[provider, model].filter(Boolean).join(" · ")}`;
  }
}

/**
 * The fallback line of a reply (API.md "Retries and fallback"): who answered instead and why the
 * earlier candidates were passed over, from `fallback_from` ({provider, model, code} each).
 */
export function showFallback(art, m) {
  const box = art.querySelector(".msg-fallback");
  if (!box) return;
  const entries = Array.isArray(m.fallback_from) ? m.fallback_from.filter((f) => f && typeof f === "object") : [];
  const text = !entries.length ? "" : m.status === "failed" ? fallbackFailedNotice(m.model, entries) : fallbackNotice(m.model, entries);
  box.textContent = text;
  box.hidden = !text;
  box.setAttribute("role", "note");
  box.title = entries.map((f) => `${f.provider}:${f.model} (${f.code})`).join(", ");
}

export function thinkingSection() {
  return reasoningSection(); // reasoning.js writes its label ("Thinking…", "Thought for 12 s")
}

/** Fill the status line and the footer (siblings, actions, usage) of a message article. */
export function decorateFinished(art, m, isLast) {
  const status = art.querySelector(".msg-status");
  const foot = art.querySelector(".msg-foot");
  status.replaceChildren();
  foot.replaceChildren();
  status.hidden = true;

  if (m.role === "assistant") {
    if (m.status === "failed" && m.error) {
      showMessageError(art, m.error.code, m.error.message, RETRYABLE.has(m.error.code), m.error.cause ?? m.metadata?.error_cause);
    } else if (m.status === "stopped") {
      status.hidden = false;
      status.className = "msg-status status-note";
      status.textContent = STATUS_WORDS.stopped;
    } else if (m.status === "incomplete") {
      status.hidden = false;
      status.className = "msg-status status-note";
      status.textContent = incompleteWords(m.error?.code); // what happened and what to do
    }
  }

  const sib = m.sibling_ids || [];
  if (sib.length > 1) foot.append(hooks.siblingNav(m, sib));

  const actions = el("span", "msg-actions");
  // With no provider configured nothing can be sent: no Edit, Regenerate, Retry or Continue that cannot help.
  const canSend = !state.providerMissing;
  if (m.role === "user") {
    if (m.text) actions.append(actionButton("Copy", "Copy this message", (b) => copyText(m.text, b)));
    if (canSend) actions.append(actionButton("Edit", "Edit this message and send it as a new branch", () => hooks.startEdit(art)));
  } else if (m.status !== "in_progress") {
    const more = hooks.continueButton?.(art, m, isLast); // stopped or cut off: go on from there
    if (more) actions.append(more);
    if (m.text) actions.append(actionButton("Copy", "Copy the reply as Markdown", (b) => copyText(m.text, b)));
    // A failed reply offers Retry (a retryable error) or nothing that repeats it: an error no retry helps
    // (quota, a refused key: "An administrator needs to…") leaves only another model ("Regenerate with…").
    if (!(m.status === "failed" && m.error) && canSend) actions.append(actionButton("Regenerate", "Write a new answer to the message above", () => hooks.regenerate(m)));
    if (m.parent_id && canSend) {
      const w = actionButton("Regenerate with…", "Write a new answer with another model", (b) => hooks.regenerateWith(art, b));
      w.classList.add("regen-with");
      w.setAttribute("aria-haspopup", "listbox");
      w.setAttribute("aria-expanded", "false");
      actions.append(w);
    }
  }
  foot.append(actions);
  const time = messageTime(m); // shown on hover and focus (msg-time.js)
  if (time) foot.append(time);

  if (m.role === "assistant" && m.status !== "in_progress" && m.usage) {
    const u = el("span", "msg-usage");
    const parts = [];
    const t = fmtTokens(m.usage);
    if (t) parts.push(t);
    parts.push(fmtCost(m.cost_usd));
    u.textContent = parts.join(" · ");
    // The rates the reply was priced at (API.md "Cost"), for whoever wants to check the sum.
    u.title = m.price ? `${usageTitle(m.usage)}\n${priceTitle(m.price)}` : usageTitle(m.usage);
    foot.append(u);
  }
  if (m.role === "assistant" && m.status !== "in_progress") foot.append(...optionsNotes(m.metadata));
}

/** The options a reply was sent with and those dropped for its model (API "Options"), as small text. */
export function optionsNotes(metadata) {
  const out = [];
  const sent = optionsWords(metadata?.options);
  if (sent) {
    const s = el("span", "msg-options", sent);
    s.title = "The options this reply was sent with";
    out.push(s);
  }
  const dropped = droppedWords(metadata?.options_dropped);
  if (dropped) {
    const d = el("span", "msg-options msg-options-dropped", `not sent: ${dropped}`);
    d.title = "Options of this conversation that this model does not take, so they were left out";
    out.push(d);
  }
  return out;
}

export function actionButton(label, title, fn) {
  const b = el("button", "msg-action", label);
  b.type = "button";
  b.title = title;
  b.addEventListener("click", () => fn(b));
  return b;
}

export function copyText(text, btn) {
  const done = (ok) => {
    btn.textContent = ok ? "Copied" : "Copy failed";
    setTimeout(() => {
      btn.textContent = "Copy";
    }, 1500);
  };
  if (navigator.clipboard?.writeText) navigator.clipboard.writeText(text).then(() => done(true), () => done(false));
  else done(false);
}

export function showMessageError(art, code, message, retryable, cause = null) {
  const status = art.querySelector(".msg-status");
  status.hidden = false;
  status.className = "msg-status status-error";
  status.setAttribute("role", "alert");
  status.replaceChildren(el("span", "error-text", errorWords(code, message, cause)));
  const m = art._msg;
  if (retryable && m && m.parent_id && !state.providerMissing) {
    const b = el("button", "btn btn-small retry", "Retry");
    b.type = "button";
    b.addEventListener("click", () => hooks.regenerate(m));
    status.append(b);
  }
}


/** Remove a message article and everything after it (the branch on screen is about to change). */
export function removeFrom(art) {
  while (art.nextSibling) art.nextSibling.remove();
  art.remove();
}

