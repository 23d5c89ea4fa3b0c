// Shared page state, the page's elements, and small DOM builders. Imports nothing of the page.
// Modules call upward (e.g. the list opening a conversation) through `hooks`, which app.js fills,
// so imports flow one way: dom → words/notices → conversations → messages → view → turn → branches.

export const $ = (sel) => document.querySelector(sel);

export const el = (tag, cls, text) => {
  const n = document.createElement(tag);
  if (cls) n.className = cls;
  if (text !== undefined && text !== null) n.textContent = text;
  return n;
};

const ICONS = {
  pencil: "M4 20h4L19 9l-4-4L4 16v4zM14 6l4 4",
  trash: "M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13M10 11v6M14 11v6",
  arrowDown: "M12 5v14M6 13l6 6 6-6",
};

/** A small stroke icon as an SVG element (built with DOM calls, no markup strings). */
export function icon(name) {
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

export const dom = {
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
  shareOpen: $("#share-open"),
  notices: $("#notices"),
  scroller: $("#scroller"),
  messages: $("#messages"),
  empty: $("#empty-state"),
  form: $("#composer"),
  input: $("#composer-input"),
  send: $("#send"),
  stop: $("#stop"),
  model: $("#model-input"),
  modelList: $("#model-listbox"),
  modelProvider: $("#model-provider"),
  modelToggle: $("#model-toggle"),
  status: $("#sr-status"),
  dialog: $("#confirm-dialog"),
  dialogText: $("#confirm-text"),
  dialogOk: $("#confirm-ok"),
  dialogCancel: $("#confirm-cancel"),
};

export const state = {
  conversations: [],
  currentId: null,
  conv: null,
  turn: null, // {conversationId, controller, view, article}
  defaultModel: dom.body.dataset.defaultModel || "",
  defaultProvider: dom.body.dataset.defaultProvider || "", // when the page is given it
  providerMissing: dom.body.dataset.providerMissing === "true",
  catalogue: null, // {default, providers} from GET /providers (catalogue.js)
  loadSeq: 0,
};

/**
 * Calls into higher modules, set once by app.js: openConversation, newChat, setTitle, reattach,
 * detachTurn, regenerate, regenerateWith, startEdit, siblingNav.
 */
export const hooks = {};

/** True when a modal dialog (confirm, account, share) is open: Esc belongs to it. */
export function dialogOpen() {
  return document.querySelector("dialog[open]") !== null;
}

export function isPhone() {
  return window.matchMedia("(max-width: 800px)").matches;
}
