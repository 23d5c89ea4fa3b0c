// The chat page: conversation list, the branch on screen, the composer, streaming turns and re-attach.
// Data comes from the JSON API (API.md); model text only reaches the DOM through render.js.

import { api, ApiError } from "./api.js";
import { SSEParser, readEventStream, streamOf } from "./sse.js";
import { TurnView, consumeTurnStream, renderMarkdown, sanitizeMarkdown } from "./render.js";

// Hooks for tests: the same parser and renderer the page uses for live replies.
window.chatRender = { SSEParser, readEventStream, streamOf, TurnView, consumeTurnStream, renderMarkdown, sanitizeMarkdown };

const $ = (sel) => document.querySelector(sel);
const el = (tag, cls, text) => {
  const n = document.createElement(tag);
  if (cls) n.className = cls;
  if (text !== undefined && text !== null) n.textContent = text;
  return n;
};

const ICONS = {
  pencil: "M4 20h4L19 9l-4-4L4 16v4zM14 6l4 4",
  trash: "M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13M10 11v6M14 11v6",
};
/** A small stroke icon as an SVG element (built with DOM calls, no markup strings). */
function icon(name) {
  const NS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", "16");
  svg.setAttribute("height", "16");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", "icon");
  const path = document.createElementNS(NS, "path");
  path.setAttribute("d", ICONS[name]);
  svg.append(path);
  return svg;
}

const dom = {
  body: document.body,
  sidebar: $("#sidebar"),
  toggleSidebar: $("#toggle-sidebar"),
  backdrop: $("#sidebar-backdrop"),
  newChat: $("#new-chat"),
  filter: $("#filter"),
  list: $("#conv-list"),
  listEmpty: $("#conv-empty"),
  title: $("#chat-title"),
  totals: $("#chat-totals"),
  notices: $("#notices"),
  scroller: $("#scroller"),
  messages: $("#messages"),
  empty: $("#empty-state"),
  form: $("#composer"),
  input: $("#composer-input"),
  send: $("#send"),
  stop: $("#stop"),
  model: $("#model-input"),
  modelList: $("#model-options"),
  status: $("#sr-status"),
  dialog: $("#confirm-dialog"),
  dialogText: $("#confirm-text"),
  dialogOk: $("#confirm-ok"),
  dialogCancel: $("#confirm-cancel"),
};

const state = {
  conversations: [],
  currentId: null,
  conv: null,
  turn: null, // {conversationId, controller, view, article}
  defaultModel: dom.body.dataset.defaultModel || "",
  providerMissing: dom.body.dataset.providerMissing === "true",
  loadSeq: 0,
};

// ---------------------------------------------------------------- words

const ERROR_WORDS = {
  rate_limited: "The model service is busy right now (rate limited). Try again in a moment.",
  upstream_unavailable: "The model service could not be reached.",
  interrupted: "The answer was interrupted before it finished.",
  upstream_error: "The model service reported an error while answering.",
  upstream_auth: "The model service refused the server's API key. An administrator needs to check OPENAI_API_KEY.",
  quota_exceeded: "The model service account has run out of quota.",
  context_too_long: "This conversation is too long for the model. Start a new chat, or edit an earlier message.",
  unknown_model: "The model service does not know this model. Pick another model and try again.",
  bad_request: "The model service refused the request.",
  storage_full: "The server's disk is full, so the answer could not be saved.",
  storage_busy: "The server is busy saving other changes. Try again in a moment.",
  internal: "Something went wrong on the server.",
  no_provider: "No model provider is configured. Set OPENAI_API_KEY (and optionally OPENAI_BASE_URL) and restart the app.",
  turn_in_progress: "An answer is still being written in this conversation.",
  history_unavailable: "This conversation's history is not available.",
  message_too_long: "The message is too long.",
  body_too_large: "The message is too long.",
  empty_message: "The message is empty.",
  budget_exceeded: "The usage budget has been reached.",
  network: "The server could not be reached. Check the connection.",
  not_found: "That conversation or message no longer exists.",
  no_turn: "No answer is being written right now.",
};
const RETRYABLE = new Set(["rate_limited", "upstream_unavailable", "interrupted", "upstream_error", "storage_busy", "network", "internal"]);
const STATUS_WORDS = {
  stopped: "Stopped.",
  incomplete: "The answer stopped early",
};

function errorWords(code, fallback) {
  return ERROR_WORDS[code] || fallback || "Something went wrong.";
}

function announce(text) {
  dom.status.textContent = "";
  // A fresh text node so screen readers announce repeats too.
  requestAnimationFrame(() => {
    dom.status.textContent = text;
  });
}

// ---------------------------------------------------------------- formatting

const numberFmt = new Intl.NumberFormat();
function fmtTokens(usage) {
  if (!usage) return null;
  const total = usage.total_tokens ?? (usage.input_tokens || 0) + (usage.output_tokens || 0);
  return `${numberFmt.format(total)} tokens`;
}
function fmtCost(cost) {
  if (cost === null || cost === undefined) return "price unknown";
  if (cost === 0) return "$0";
  if (cost < 0.01) return `$${cost.toPrecision(2)}`;
  return `$${cost.toFixed(cost < 1 ? 3 : 2)}`;
}
function usageTitle(usage) {
  if (!usage) return "";
  return [
    `input ${numberFmt.format(usage.input_tokens || 0)}`,
    `cached ${numberFmt.format(usage.cached_tokens || 0)}`,
    `output ${numberFmt.format(usage.output_tokens || 0)}`,
    `reasoning ${numberFmt.format(usage.reasoning_tokens || 0)}`,
  ].join(" · ");
}
function fmtWhen(ts) {
  if (!ts) return "";
  const d = new Date(ts * 1000);
  const now = new Date();
  const days = Math.floor((new Date(now.toDateString()) - new Date(d.toDateString())) / 86400000);
  if (days === 0) return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  if (days === 1) return "Yesterday";
  if (days < 7) return d.toLocaleDateString([], { weekday: "long" });
  return d.toLocaleDateString();
}

// ---------------------------------------------------------------- sidebar

function isPhone() {
  return window.matchMedia("(max-width: 800px)").matches;
}

function setSidebar(open) {
  dom.body.classList.toggle("sidebar-open", open);
  dom.toggleSidebar.setAttribute("aria-expanded", String(open));
  if (open && isPhone()) dom.filter.focus();
}

function renderList() {
  const q = dom.filter.value.trim().toLowerCase();
  const items = state.conversations
    .slice()
    .sort((a, b) => (b.last_update || 0) - (a.last_update || 0))
    .filter((c) => !q || (c.chat_name || "").toLowerCase().includes(q));
  dom.list.replaceChildren(...items.map(listItem));
  dom.listEmpty.hidden = items.length > 0;
  dom.listEmpty.textContent = state.conversations.length ? "No conversation matches the filter." : "No conversations yet.";
}

function listItem(c) {
  const li = el("li", "conv");
  li.dataset.id = c.id;
  if (c.id === state.currentId) li.classList.add("active");
  const open = el("button", "conv-open");
  open.type = "button";
  if (c.id === state.currentId) open.setAttribute("aria-current", "page");
  const name = el("span", "conv-name", c.chat_name || "Untitled");
  const meta = el("span", "conv-meta", fmtWhen(c.last_update));
  if (c.history_available === false) {
    li.classList.add("unavailable");
    meta.textContent = "history unavailable";
  }
  open.append(name, meta);
  open.addEventListener("click", () => {
    if (isPhone()) setSidebar(false);
    openConversation(c.id);
  });

  const actions = el("span", "conv-actions");
  const rename = el("button", "icon-btn conv-rename");
  rename.append(icon("pencil"));
  rename.type = "button";
  rename.title = "Rename";
  rename.setAttribute("aria-label", `Rename “${c.chat_name || "Untitled"}”`);
  rename.addEventListener("click", () => startRename(li, c));
  const del = el("button", "icon-btn conv-delete");
  del.append(icon("trash"));
  del.type = "button";
  del.title = "Delete";
  del.setAttribute("aria-label", `Delete “${c.chat_name || "Untitled"}”`);
  del.addEventListener("click", () => confirmDelete(c));
  actions.append(rename, del);
  li.append(open, actions);
  return li;
}

function startRename(li, c) {
  const input = el("input", "conv-rename-input");
  input.type = "text";
  input.value = c.chat_name || "";
  input.maxLength = 200;
  input.setAttribute("aria-label", "New name");
  li.replaceChildren(input);
  input.focus();
  input.select();
  let finished = false;
  const finish = async (save) => {
    if (finished) return;
    finished = true;
    const name = input.value.trim();
    if (save && name && name !== c.chat_name) {
      try {
        const entry = await api.rename(c.id, name);
        Object.assign(c, entry || { chat_name: name });
        if (c.id === state.currentId) setTitle(c.chat_name);
        announce("Renamed.");
      } catch (e) {
        showBanner(errorWords(e.code, e.message));
      }
    }
    renderList();
    dom.list.querySelector(`li[data-id="${CSS.escape(c.id)}"] .conv-open`)?.focus();
  };
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") {
      ev.preventDefault();
      finish(true);
    } else if (ev.key === "Escape") {
      ev.preventDefault();
      ev.stopPropagation();
      finish(false);
    }
  });
  input.addEventListener("blur", () => finish(true));
}

function confirmDialog(text, okLabel) {
  return new Promise((resolve) => {
    dom.dialogText.textContent = text;
    dom.dialogOk.textContent = okLabel;
    const close = (v) => {
      dom.dialogOk.removeEventListener("click", ok);
      dom.dialogCancel.removeEventListener("click", cancel);
      dom.dialog.removeEventListener("cancel", cancel);
      if (dom.dialog.open) dom.dialog.close();
      resolve(v);
    };
    const ok = () => close(true);
    const cancel = (ev) => {
      ev?.preventDefault?.();
      close(false);
    };
    dom.dialogOk.addEventListener("click", ok);
    dom.dialogCancel.addEventListener("click", cancel);
    dom.dialog.addEventListener("cancel", cancel);
    dom.dialog.showModal();
    dom.dialogCancel.focus();
  });
}

async function confirmDelete(c) {
  const yes = await confirmDialog(`Delete “${c.chat_name || "Untitled"}”? This cannot be undone.`, "Delete");
  if (!yes) return;
  try {
    if (state.turn && state.turn.conversationId === c.id) state.turn.controller.abort();
    await api.remove(c.id);
  } catch (e) {
    if (e.code !== "not_found") {
      showBanner(errorWords(e.code, e.message));
      return;
    }
  }
  state.conversations = state.conversations.filter((x) => x.id !== c.id);
  if (state.currentId === c.id) newChat();
  renderList();
  announce("Conversation deleted.");
}

async function refreshList() {
  try {
    const data = await api.listConversations();
    state.conversations = data?.conversations || [];
  } catch (e) {
    showBanner(errorWords(e.code, e.message));
  }
  renderList();
}

// ---------------------------------------------------------------- notices

function showBanner(text, { retry = null, kind = "error" } = {}) {
  const box = el("div", `banner banner-${kind}`);
  box.setAttribute("role", kind === "error" ? "alert" : "status");
  box.append(el("span", "banner-text", text));
  if (retry) {
    const b = el("button", "btn btn-small", "Retry");
    b.type = "button";
    b.addEventListener("click", () => {
      box.remove();
      retry();
    });
    box.append(b);
  }
  const x = el("button", "icon-btn banner-close", "×");
  x.type = "button";
  x.setAttribute("aria-label", "Dismiss");
  x.addEventListener("click", () => box.remove());
  box.append(x);
  dom.notices.append(box);
  return box;
}

function clearBanners() {
  dom.notices.replaceChildren();
}

// ---------------------------------------------------------------- conversation view

function setTitle(text) {
  dom.title.textContent = text || "New chat";
  document.title = text ? `${text} · Chat` : "Chat";
}

function setHash(id) {
  const url = id ? `#${encodeURIComponent(id)}` : window.location.pathname;
  window.history.replaceState(null, "", url);
}

function renderTotals(t) {
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

function showEmpty(show) {
  dom.empty.hidden = !show;
  dom.messages.hidden = show;
}

function newChat() {
  detachTurn();
  state.currentId = null;
  state.conv = null;
  clearBanners();
  dom.messages.replaceChildren();
  setTitle("");
  renderTotals(null);
  setHash(null);
  dom.model.value = state.defaultModel;
  setComposerEnabled(true);
  showEmpty(true);
  renderList();
  setBusy(false);
  if (isPhone()) setSidebar(false);
  dom.input.focus();
}

async function openConversation(id) {
  if (state.turn && state.turn.conversationId === id && state.currentId === id) return;
  detachTurn();
  const seq = ++state.loadSeq;
  state.currentId = id;
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

function renderUnavailable(id, e) {
  state.conv = null;
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

function setComposerEnabled(on) {
  dom.input.disabled = !on;
  dom.send.disabled = !on;
  dom.form.classList.toggle("disabled", !on);
}

function renderConversation(conv) {
  state.conv = conv;
  state.currentId = conv.conversation_id;
  setTitle(conv.chat_name);
  renderTotals(conv.totals);
  dom.model.value = conv.model || state.defaultModel;
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
  if (!msgs.length && !nodes.length) nodes.push(el("p", "notice notice-info", "No messages yet."));
  dom.messages.replaceChildren(...nodes);
  renderList();
  scrollToBottom(true);
  const last = msgs[msgs.length - 1];
  if (last && last.role === "assistant" && last.status === "in_progress") {
    reattach(conv.conversation_id, nodes[nodes.length - 1], last);
  } else {
    setBusy(false);
  }
}

function roleLabel(role) {
  return role === "user" ? "You" : "Assistant";
}

function messageArticle(m, isLast) {
  const art = el("article", `msg msg-${m.role}`);
  art.dataset.id = m.id;
  art.dataset.role = m.role;
  if (m.status) art.dataset.status = m.status;
  art.setAttribute("aria-label", roleLabel(m.role));
  art._msg = m;

  const head = el("div", "msg-head");
  head.append(el("span", "msg-role", roleLabel(m.role)));
  if (m.role === "assistant" && m.model) head.append(el("span", "msg-model", m.model));
  art.append(head);

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
  } else {
    art.append(el("div", "msg-body plain", m.text || ""));
  }
  art.append(el("div", "msg-status"));
  art.append(el("div", "msg-foot"));
  decorateFinished(art, m, isLast);
  return art;
}

function thinkingSection() {
  const d = el("details", "thinking");
  d.hidden = true;
  const s = el("summary", null, "Thinking");
  d.append(s, el("div", "thinking-body md"));
  return d;
}

/** Fill the status line and the footer (siblings, actions, usage) of a message article. */
function decorateFinished(art, m, isLast) {
  const status = art.querySelector(".msg-status");
  const foot = art.querySelector(".msg-foot");
  status.replaceChildren();
  foot.replaceChildren();
  status.hidden = true;

  if (m.role === "assistant") {
    if (m.status === "failed" && m.error) {
      showMessageError(art, m.error.code, m.error.message, RETRYABLE.has(m.error.code));
    } else if (m.status === "stopped") {
      status.hidden = false;
      status.className = "msg-status status-note";
      status.textContent = STATUS_WORDS.stopped;
    } else if (m.status === "incomplete") {
      status.hidden = false;
      status.className = "msg-status status-note";
      const reason = m.error?.code ? ` (${m.error.code.replaceAll("_", " ")})` : "";
      status.textContent = `${STATUS_WORDS.incomplete}${reason}.`;
    }
  }

  const sib = m.sibling_ids || [];
  if (sib.length > 1) foot.append(siblingNav(m, sib));

  const actions = el("span", "msg-actions");
  if (m.role === "user") {
    actions.append(actionButton("Edit", "Edit this message and send it as a new branch", () => startEdit(art)));
  } else if (m.status !== "in_progress") {
    if (m.text) actions.append(actionButton("Copy", "Copy the reply as Markdown", (b) => copyText(m.text, b)));
    const retryShown = m.status === "failed" && m.error && RETRYABLE.has(m.error.code);
    if (!retryShown) actions.append(actionButton("Regenerate", "Write a new answer to the message above", () => regenerate(m)));
  }
  foot.append(actions);

  if (m.role === "assistant" && m.status !== "in_progress" && m.usage) {
    const u = el("span", "msg-usage");
    const parts = [];
    const t = fmtTokens(m.usage);
    if (t) parts.push(t);
    parts.push(fmtCost(m.cost_usd));
    u.textContent = parts.join(" · ");
    u.title = usageTitle(m.usage);
    foot.append(u);
  }
  void isLast;
}

function actionButton(label, title, fn) {
  const b = el("button", "msg-action", label);
  b.type = "button";
  b.title = title;
  b.addEventListener("click", () => fn(b));
  return b;
}

function copyText(text, btn) {
  const done = (ok) => {
    btn.textContent = ok ? "Copied" : "Copy failed";
    setTimeout(() => {
      btn.textContent = "Copy";
    }, 1500);
  };
  if (navigator.clipboard?.writeText) navigator.clipboard.writeText(text).then(() => done(true), () => done(false));
  else done(false);
}

function siblingNav(m, sib) {
  const idx = sib.indexOf(m.id);
  const nav = el("span", "sibling-nav");
  nav.setAttribute("role", "group");
  nav.setAttribute("aria-label", `Version ${idx + 1} of ${sib.length}`);
  const prev = el("button", "icon-btn sib-prev", "‹");
  prev.type = "button";
  prev.setAttribute("aria-label", "Previous version");
  prev.disabled = idx <= 0;
  prev.addEventListener("click", () => switchBranch(sib[idx - 1]));
  const next = el("button", "icon-btn sib-next", "›");
  next.type = "button";
  next.setAttribute("aria-label", "Next version");
  next.disabled = idx >= sib.length - 1;
  next.addEventListener("click", () => switchBranch(sib[idx + 1]));
  nav.append(prev, el("span", "sib-count", `${idx + 1}/${sib.length}`), next);
  return nav;
}

async function switchBranch(messageId) {
  if (!state.currentId || state.turn) return;
  try {
    const conv = await api.setCurrent(state.currentId, messageId);
    renderConversation(conv);
  } catch (e) {
    showBanner(errorWords(e.code, e.message));
  }
}

function showMessageError(art, code, message, retryable) {
  const status = art.querySelector(".msg-status");
  status.hidden = false;
  status.className = "msg-status status-error";
  status.setAttribute("role", "alert");
  status.replaceChildren(el("span", "error-text", errorWords(code, message)));
  const m = art._msg;
  if (retryable && m && m.parent_id) {
    const b = el("button", "btn btn-small retry", "Retry");
    b.type = "button";
    b.addEventListener("click", () => regenerate(m));
    status.append(b);
  }
}

// ---------------------------------------------------------------- editing

function startEdit(art) {
  if (state.turn) return;
  const m = art._msg;
  const body = art.querySelector(".msg-body");
  const box = el("div", "edit-box");
  const ta = el("textarea", "edit-input");
  ta.value = m.text || "";
  ta.rows = Math.min(12, Math.max(2, ta.value.split("\n").length));
  ta.setAttribute("aria-label", "Edit your message");
  const row = el("div", "edit-actions");
  const cancel = el("button", "btn btn-quiet", "Cancel");
  cancel.type = "button";
  const save = el("button", "btn btn-primary", "Send");
  save.type = "button";
  row.append(cancel, save);
  box.append(ta, row);
  body.hidden = true;
  art.querySelector(".msg-foot").hidden = true;
  art.insertBefore(box, body.nextSibling);
  ta.focus();
  ta.setSelectionRange(ta.value.length, ta.value.length);
  const close = () => {
    box.remove();
    body.hidden = false;
    art.querySelector(".msg-foot").hidden = false;
  };
  const submit = () => {
    const text = ta.value.trim();
    if (!text) return;
    close();
    removeFrom(art);
    startTurn(
      { message: text, conversation_id: state.currentId, parent_message_id: m.parent_id || "root", ...modelField() },
      { userText: text },
    );
  };
  cancel.addEventListener("click", close);
  save.addEventListener("click", submit);
  ta.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      submit();
    } else if (ev.key === "Escape") {
      ev.preventDefault();
      ev.stopPropagation();
      close();
    }
  });
}

/** Remove a message article and everything after it (the branch on screen is about to change). */
function removeFrom(art) {
  while (art.nextSibling) art.nextSibling.remove();
  art.remove();
}

function regenerate(m) {
  if (state.turn || !state.currentId) return;
  const art = dom.messages.querySelector(`article[data-id="${CSS.escape(m.id)}"]`);
  if (art) removeFrom(art);
  startTurn({ conversation_id: state.currentId, parent_message_id: m.parent_id, regenerate: true, ...modelField() }, {});
}

function modelField() {
  const v = dom.model.value.trim();
  return v ? { model: v } : {};
}

// ---------------------------------------------------------------- turns

function setBusy(busy) {
  dom.body.classList.toggle("busy", busy);
  dom.send.hidden = busy;
  dom.stop.hidden = !busy;
  dom.messages.setAttribute("aria-busy", String(busy));
}

function pendingArticle(role, text) {
  const m = { id: "", role, text: text || "", status: role === "assistant" ? "in_progress" : undefined };
  const art = messageArticle(m, true);
  art.classList.add("pending");
  if (role === "assistant") art.querySelector(".msg-body").append(typingDots());
  return art;
}

function typingDots() {
  const d = el("span", "typing");
  d.setAttribute("aria-label", "Writing");
  d.append(el("span"), el("span"), el("span"));
  return d;
}

function detachTurn() {
  if (state.turn) {
    state.turn.controller.abort();
    state.turn = null;
  }
  setBusy(false);
}

function nearBottom() {
  const s = dom.scroller;
  return s.scrollHeight - s.scrollTop - s.clientHeight < 120;
}

function scrollToBottom(force = false) {
  if (force || nearBottom()) dom.scroller.scrollTop = dom.scroller.scrollHeight;
}

async function sendFromComposer() {
  if (state.turn) return;
  const text = dom.input.value.trim();
  if (!text) return;
  if (dom.input.disabled) return;
  dom.input.value = "";
  autosize();
  const body = { message: text, ...modelField() };
  if (state.currentId) body.conversation_id = state.currentId;
  await startTurn(body, { userText: text, fromComposer: true });
}

/** Run one turn: POST /chat, stream the reply into a pending article, then reload the branch. */
async function startTurn(body, { userText = null, fromComposer = false } = {}) {
  state.loadSeq++; // a conversation still loading must not replace this turn's view
  clearBanners();
  showEmpty(false);
  if (dom.messages.querySelector(".notice-info:not(.legacy-notice), .loading")) {
    for (const n of dom.messages.querySelectorAll(".notice-info:not(.legacy-notice), .loading")) n.remove();
  }
  const userArt = userText !== null ? pendingArticle("user", userText) : null;
  const asstArt = pendingArticle("assistant");
  if (userArt) dom.messages.append(userArt);
  dom.messages.append(asstArt);
  scrollToBottom(true);

  const controller = new AbortController();
  const turn = { conversationId: body.conversation_id || null, controller, view: asstArt._view, article: asstArt };
  state.turn = turn;
  setBusy(true);
  announce("Sending.");

  let res;
  try {
    res = await api.chat(body, controller.signal);
  } catch (e) {
    if (state.turn === turn) state.turn = null;
    if (e?.name === "AbortError") return;
    setBusy(false);
    userArt?.remove();
    asstArt.remove();
    if (fromComposer && !dom.input.value) {
      dom.input.value = body.message || "";
      autosize();
    }
    const retryable = RETRYABLE.has(e.code) || e.status === 429 || e.status === 503;
    showBanner(errorWords(e.code, e.message), { retry: retryable ? () => startTurn(body, { userText, fromComposer }) : null });
    announce(errorWords(e.code, e.message));
    if (e.code === "turn_in_progress" && body.conversation_id) openConversation(body.conversation_id);
    if (!state.conv && !state.currentId) showEmpty(dom.messages.children.length === 0);
    return;
  }
  await followStream(turn, res.body, userArt, true);
}

/** Re-attach to a turn that is running (after a reload, or a dropped connection). */
async function reattach(conversationId, art, m) {
  const view = art._view;
  const controller = new AbortController();
  const turn = { conversationId, controller, view, article: art };
  state.turn = turn;
  setBusy(true);
  art.classList.add("pending");
  decorateFinished(art, { ...m, status: "in_progress" }, true);
  let res;
  try {
    res = await api.events(conversationId, "", controller.signal);
  } catch (e) {
    if (state.turn === turn) state.turn = null;
    if (e?.name === "AbortError") return;
    setBusy(false);
    if (state.currentId === conversationId) openAfterTurn(conversationId);
    return;
  }
  view.text = "";
  view.reasoning = "";
  await followStream(turn, res.body, null, false);
}

async function followStream(turn, stream, userArt, isNew) {
  const art = turn.article;
  const view = turn.view;
  let ended = null; // {event, data}
  const onEvent = (event, data) => {
    if (event === "conversation") {
      turn.conversationId = data.conversation_id;
      art.dataset.id = data.assistant_message_id || "";
      art._msg.id = data.assistant_message_id;
      art._msg.parent_id = data.user_message_id;
      if (userArt && data.user_message_id) {
        userArt.dataset.id = data.user_message_id;
        userArt._msg.id = data.user_message_id;
      }
      if (data.model) {
        const head = art.querySelector(".msg-head");
        if (!head.querySelector(".msg-model")) head.append(el("span", "msg-model", data.model));
      }
      if (isNew && state.currentId !== data.conversation_id && (state.currentId === null || state.turn === turn)) {
        state.currentId = data.conversation_id;
        setHash(data.conversation_id);
        setTitle(data.chat_name);
        refreshList();
      }
    } else if (event === "delta") {
      art.querySelector(".typing")?.remove();
      if (state.turn === turn) scrollToBottomSoon();
    } else if (event === "reasoning") {
      art.querySelector(".typing")?.remove();
    } else if (event === "done" || event === "error") {
      ended = { event, data };
    }
  };

  // A dropped connection re-attaches from the last frame seen, a few times, before giving up.
  let attempts = 0;
  let current = stream;
  for (;;) {
    try {
      await consumeTurnStream(current, view, onEvent);
    } catch (e) {
      if (e?.name === "AbortError" || turn.controller.signal.aborted) return;
    }
    if (ended || turn.controller.signal.aborted || !turn.conversationId || attempts >= 3) break;
    attempts++;
    try {
      const res = await api.events(turn.conversationId, view.lastEventId, turn.controller.signal);
      current = res.body;
    } catch (e) {
      if (e?.name === "AbortError") return;
      break;
    }
  }
  if (turn.controller.signal.aborted) return;

  art.classList.remove("pending");
  art.querySelector(".typing")?.remove();
  if (ended?.event === "error") {
    const d = ended.data || {};
    art._msg.status = "failed";
    showMessageError(art, d.code, d.message, d.retryable ?? RETRYABLE.has(d.code));
    announce(errorWords(d.code, d.message));
  } else if (ended?.event === "done") {
    announce(ended.data?.status === "stopped" ? "Stopped." : "Answer complete.");
  } else {
    showMessageError(art, "interrupted", null, true);
  }
  if (state.turn === turn) {
    state.turn = null;
    setBusy(false);
  }
  if (turn.conversationId && state.currentId === turn.conversationId) {
    await openAfterTurn(turn.conversationId, ended?.event === "error" ? ended.data : null);
  }
  refreshList();
}

let scrollPending = false;
function scrollToBottomSoon() {
  if (scrollPending) return;
  scrollPending = true;
  const stick = nearBottom();
  requestAnimationFrame(() => {
    scrollPending = false;
    if (stick) scrollToBottom(true);
  });
}

/** Reload the branch from the server after a turn (stored usage, sibling ids, final text). */
async function openAfterTurn(id, liveError = null) {
  if (state.turn) return;
  const seq = ++state.loadSeq;
  try {
    const conv = await api.getConversation(id);
    if (seq !== state.loadSeq || state.turn) return;
    const keepScroll = !nearBottom() ? dom.scroller.scrollTop : null;
    renderConversation(conv);
    if (keepScroll !== null) dom.scroller.scrollTop = keepScroll;
    if (liveError) {
      // The stored error has no "retryable": keep what the live event said.
      const last = dom.messages.querySelector("article.msg-assistant:last-of-type");
      if (last && last._msg.status === "failed") {
        showMessageError(last, liveError.code, liveError.message, liveError.retryable ?? RETRYABLE.has(liveError.code));
      }
    }
  } catch (e) {
    if (seq === state.loadSeq) showBanner(errorWords(e.code, e.message));
  }
}

async function stopTurn() {
  const turn = state.turn;
  if (!turn) return;
  dom.stop.disabled = true;
  announce("Stopping.");
  try {
    if (turn.conversationId) {
      await api.stop(turn.conversationId);
    } else {
      // Not even the conversation frame has arrived: stop reading; the list shows what the server kept.
      turn.controller.abort();
      state.turn = null;
      setBusy(false);
      turn.article.classList.remove("pending");
      turn.article.querySelector(".typing")?.remove();
      refreshList();
    }
  } catch (e) {
    if (e.code === "no_turn") {
      // The turn had ended already; the stream is closing on its own.
    } else {
      showBanner(errorWords(e.code, e.message));
    }
  } finally {
    dom.stop.disabled = false;
  }
}

// ---------------------------------------------------------------- composer

const fieldSizing = window.CSS?.supports?.("field-sizing", "content");
function autosize() {
  if (fieldSizing) return;
  dom.input.rows = Math.min(8, Math.max(1, dom.input.value.split("\n").length));
}

async function loadModels() {
  let data = null;
  try {
    data = await api.models();
  } catch {
    data = null; // GET /models is optional: fall back to the default from the page
  }
  const models = new Set();
  if (data?.default) {
    if (!state.defaultModel) state.defaultModel = data.default;
    models.add(data.default);
  }
  for (const m of data?.models || []) {
    const name = typeof m === "string" ? m : m?.id || m?.name;
    if (name) models.add(name);
  }
  if (state.defaultModel) models.add(state.defaultModel);
  dom.modelList.replaceChildren(
    ...[...models].map((name) => {
      const o = document.createElement("option");
      o.value = name;
      return o;
    }),
  );
  if (!dom.model.value) dom.model.value = state.conv?.model || state.defaultModel;
}

function bind() {
  dom.form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    sendFromComposer();
  });
  dom.input.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      sendFromComposer();
    }
  });
  dom.input.addEventListener("input", autosize);
  // The skip link focuses the message box without touching the address (the hash names the conversation).
  document.querySelector(".skip-link")?.addEventListener("click", (ev) => {
    ev.preventDefault();
    dom.input.focus();
  });
  dom.stop.addEventListener("click", stopTurn);
  dom.newChat.addEventListener("click", newChat);
  dom.filter.addEventListener("input", renderList);
  dom.toggleSidebar.addEventListener("click", () => setSidebar(!dom.body.classList.contains("sidebar-open")));
  dom.backdrop.addEventListener("click", () => setSidebar(false));
  document.addEventListener("keydown", (ev) => {
    if (ev.key !== "Escape" || ev.defaultPrevented || dom.dialog.open) return;
    if (state.turn) {
      ev.preventDefault();
      stopTurn();
    } else if (dom.body.classList.contains("sidebar-open") && isPhone()) {
      setSidebar(false);
      dom.toggleSidebar.focus();
    }
  });
  window.addEventListener("hashchange", () => {
    const id = decodeURIComponent(window.location.hash.slice(1));
    if (id && id !== state.currentId) openConversation(id);
  });
}

async function init() {
  bind();
  setBusy(false);
  if (!isPhone()) dom.body.classList.add("sidebar-open");
  dom.toggleSidebar.setAttribute("aria-expanded", String(dom.body.classList.contains("sidebar-open")));
  autosize();
  // Decide what is on screen before any await, so a message typed early is never wiped by a late load.
  const id = decodeURIComponent(window.location.hash.slice(1));
  const opened = id ? openConversation(id) : (newChat(), null);
  await Promise.all([refreshList(), loadModels(), opened]);
  dom.body.classList.add("ready");
}

init();

export { state, ApiError };
