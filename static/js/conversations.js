// The conversation list: filter, open, rename, delete; the sidebar on a phone.

import { api } from "./api.js";
import { dom, el, hooks, icon, isPhone, state } from "./dom.js";
import { announce, confirmDialog, showBanner } from "./notices.js";
import { errorWords, fmtWhen } from "./words.js";

export function setSidebar(open) {
  dom.body.classList.toggle("sidebar-open", open);
  dom.toggleSidebar.setAttribute("aria-expanded", String(open));
  if (open && isPhone()) dom.filter.focus();
}

export function renderList() {
  const q = dom.filter.value.trim().toLowerCase();
  const items = state.conversations
    .slice()
    .sort((a, b) => (b.last_update || 0) - (a.last_update || 0))
    .filter((c) => !q || (c.chat_name || "").toLowerCase().includes(q));
  dom.list.replaceChildren(...items.map(listItem));
  dom.listEmpty.hidden = items.length > 0;
  dom.listEmpty.textContent = state.conversations.length ? "No conversation name matches." : "No conversations yet.";
}

export function listItem(c) {
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
    hooks.openConversation(c.id);
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

export function startRename(li, c) {
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
        if (c.id === state.currentId) hooks.setTitle(c.chat_name);
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

export async function confirmDelete(c) {
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
  if (state.currentId === c.id) hooks.newChat();
  renderList();
  announce("Conversation deleted.");
}

export async function refreshList() {
  try {
    const data = await api.listConversations();
    state.conversations = data?.conversations || [];
  } catch (e) {
    showBanner(errorWords(e.code, e.message));
  }
  renderList();
}


