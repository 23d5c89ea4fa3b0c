// The conversation on screen: title, totals, address, empty state, loading a conversation, busy state.

import { api } from "./api.js";
import { setChoiceEnabled, showChoice } from "./choice.js";
import { dom, el, hooks, isPhone, state } from "./dom.js";
import { renderList, setSidebar } from "./conversations.js";
import { messageArticle } from "./messages.js";
import { clearBanners } from "./notices.js";
import { showDraft } from "./drafts.js";
import { showTray } from "./attachments.js";
import { showOptions } from "./options.js";
import { placeSummaryMarker } from "./summary-marker.js";
import { NO_PROVIDER_PLACEHOLDER, errorWords, fmtCost, numberFmt, usageTitle } from "./words.js";

export function setTitle(text) {
  dom.title.textContent = text || "New chat";
  document.title = text ? `${text} · Chat` : "Chat";
}

/** Share is offered once a conversation with a readable history is on screen. */
export function showShareButton() {
  if (dom.shareOpen) dom.shareOpen.hidden = !state.conv;
}

export function setHash(id) {
  const url = id ? `#${encodeURIComponent(id)}` : window.location.pathname;
  window.history.replaceState(null, "", url);
}

export function renderTotals(t) {
  if (!t) {
    dom.totals.textContent = "";
    dom.totals.hidden = true;
    return;
  }
  const tokens = (t.input_tokens || 0) + (t.output_tokens || 0);
  const cost = t.cost_usd ?? 0;
  const unpriced = t.unpriced_messages || 0;
  let text = `${numberFmt.format(tokens)} tokens · `;
  if (unpriced && !cost) text += "price unknown";
  else text += fmtCost(cost) + (unpriced ? ` + ${unpriced} ${unpriced === 1 ? "reply" : "replies"} unpriced` : "");
  dom.totals.textContent = text;
  dom.totals.title = `Conversation total: ${usageTitle(t)}`;
  dom.totals.hidden = tokens === 0 && !t.unpriced_messages;
}

export function showEmpty(show) {
  dom.empty.hidden = !show;
  dom.messages.hidden = show;
}

export function newChat() {
  hooks.detachTurn();
  state.currentId = null;
  showDraft(null); // the new chat's own draft
  showTray(null); // and its own files
  state.conv = null;
  showShareButton();
  clearBanners();
  dom.messages.replaceChildren();
  setTitle("");
  renderTotals(null);
  setHash(null);
  showChoice(null);
  showOptions(null);
  setComposerEnabled(true);
  showEmpty(true);
  renderList();
  setBusy(false);
  if (isPhone()) setSidebar(false);
  dom.input.focus();
}

export async function openConversation(id) {
  if (state.turn && state.turn.conversationId === id && state.currentId === id) return;
  hooks.detachTurn();
  const seq = ++state.loadSeq;
  state.currentId = id;
  showDraft(id); // before the load: what is typed while it loads is kept
  showTray(id);
  setHash(id);
  clearBanners();
  renderList();
  showEmpty(false);
  dom.messages.replaceChildren(el("p", "loading", "Loading…"));
  try {
    const conv = await api.getConversation(id);
    if (seq !== state.loadSeq) return;
    renderConversation(conv);
  } catch (e) {
    if (seq !== state.loadSeq) return;
    renderUnavailable(id, e);
  }
}

export function renderUnavailable(id, e) {
  state.conv = null;
  showShareButton();
  const entry = state.conversations.find((c) => c.id === id);
  setTitle(entry?.chat_name || "Conversation");
  renderTotals(null);
  const box = el("div", "notice notice-warn");
  box.setAttribute("role", "alert");
  if (e.code === "history_unavailable") {
    box.append(
      el("strong", null, "This conversation's history is not available. "),
      el("span", null, "Its file was damaged and set aside on the server, so its messages cannot be shown. You can delete it from the list."),
    );
    setComposerEnabled(false);
  } else if (e.code === "not_found") {
    box.append(el("span", null, "This conversation does not exist (it may have been deleted)."));
    setComposerEnabled(false);
  } else {
    box.append(el("span", null, errorWords(e.code, e.message)));
    const b = el("button", "btn btn-small", "Retry");
    b.type = "button";
    b.addEventListener("click", () => openConversation(id));
    box.append(" ", b);
  }
  dom.messages.replaceChildren(box);
}

/** Enable the composer for this conversation; with no provider configured it stays disabled and says so. */
export function setComposerEnabled(on) {
  const usable = on && !state.providerMissing;
  dom.input.disabled = !usable;
  dom.send.disabled = !usable;
  const attach = document.getElementById("attach-button");
  if (attach) attach.disabled = !usable;
  setChoiceEnabled(usable);
  dom.input.placeholder = state.providerMissing ? NO_PROVIDER_PLACEHOLDER : "Message";
  dom.form.classList.toggle("disabled", !usable);
}

export function renderConversation(conv) {
  state.conv = conv;
  state.currentId = conv.conversation_id;
  showShareButton();
  setTitle(conv.chat_name);
  renderTotals(conv.totals);
  showChoice({ provider: conv.provider || null, model: conv.model });
  showOptions(conv);
  setComposerEnabled(true);
  showEmpty(false);
  const nodes = [];
  if (conv.legacy && conv.legacy.history === "unavailable") {
    const n = el("div", "notice notice-info legacy-notice");
    n.setAttribute("role", "note");
    n.textContent =
      "This conversation was migrated from the previous app. Its earlier history is not available here; new messages continue from this point.";
    nodes.push(n);
  }
  const msgs = conv.messages || [];
  msgs.forEach((m, i) => nodes.push(messageArticle(m, i === msgs.length - 1)));
  placeSummaryMarker(nodes, conv);
  if (!msgs.length && !nodes.length) nodes.push(el("p", "notice notice-info", "No messages yet."));
  dom.messages.replaceChildren(...nodes);
  renderList();
  scrollToBottom(true);
  const last = msgs[msgs.length - 1];
  if (last && last.role === "assistant" && last.status === "in_progress") {
    hooks.reattach(conv.conversation_id, nodes[nodes.length - 1], last);
  } else {
    setBusy(false);
  }
}


export function setBusy(busy) {
  dom.body.classList.toggle("busy", busy);
  dom.send.hidden = busy;
  dom.stop.hidden = !busy;
  dom.messages.setAttribute("aria-busy", String(busy));
}


export function nearBottom() {
  const s = dom.scroller;
  return s.scrollHeight - s.scrollTop - s.clientHeight < 120;
}

export function scrollToBottom(force = false) {
  if (force || nearBottom()) dom.scroller.scrollTop = dom.scroller.scrollHeight;
}


let scrollPending = false;
export function scrollToBottomSoon() {
  if (scrollPending) return;
  scrollPending = true;
  const stick = nearBottom();
  requestAnimationFrame(() => {
    scrollPending = false;
    if (stick) scrollToBottom(true);
  });
}

/** Reload the branch from the server after a turn (stored usage, sibling ids, final text). */

const fieldSizing = window.CSS?.supports?.("field-sizing", "content");
export function autosize() {
  if (fieldSizing) return;
  dom.input.rows = Math.min(8, Math.max(1, dom.input.value.split("\n").length));
}


