// The conversation list: filter, open, rename, pin, archive, delete (with undo); the sidebar on a phone.
// How the list is grouped and moved through with the keys lives in conversation-list.js; the undo
// toast and the delayed DELETE in undo-delete.js.

import { api, request } from "./api.js";
import { bindListKeys, displayName, groupConversations, listIcon, placeRoving, groupSection } from "./conversation-list.js";
import { dom, el, hooks, icon, isPhone, state } from "./dom.js";
import { announce, showBanner } from "./notices.js";
import { UNDO_KEYS, deleteWithUndo, isPendingDelete } from "./undo-delete.js";
import { moveDraft } from "./drafts.js";
import { errorWords } from "./words.js";

let archivedOpen = false;
let keysBound = false;

export function setSidebar(open) {
  dom.body.classList.toggle("sidebar-open", open);
  dom.toggleSidebar.setAttribute("aria-expanded", String(open));
  if (open && isPhone()) dom.filter.focus();
}

/** Which control inside the list has focus, so a re-render can give it back: [id or "", class]. */
function focusedControl() {
  const a = document.activeElement;
  if (!(a instanceof HTMLElement) || !dom.list.contains(a)) return null;
  const kind = ["conv-open", "conv-pin", "conv-archive", "conv-rename", "conv-delete", "conv-group-toggle"].find((k) =>
    a.classList.contains(k),
  );
  return kind ? [a.closest(".conv")?.dataset.id || "", kind] : null;
}

function controlOf(id, kind) {
  if (kind === "conv-group-toggle") return dom.list.querySelector(".conv-group-toggle");
  const row = dom.list.querySelector(`.conv[data-id="${CSS.escape(id)}"]`);
  return row?.querySelector(`.${kind}`) || row?.querySelector(".conv-open") || null;
}

export function renderList() {
  if (!keysBound) {
    keysBound = true;
    bindListKeys(dom.list, { remove: deleteById, rename: renameById });
    const hint = el("p", "visually-hidden", "Arrow keys move through the list, Enter opens, Right arrow reaches an entry's buttons, Delete deletes, F2 renames.");
    hint.id = "conv-list-keys";
    dom.list.after(hint);
    dom.list.setAttribute("aria-describedby", hint.id);
  }
  const had = focusedControl();
  const q = dom.filter.value.trim().toLowerCase();
  const visible = state.conversations.filter((c) => !isPendingDelete(c.id));
  const items = visible.filter((c) => !q || (c.chat_name || "").toLowerCase().includes(q));
  const sections = groupConversations(items).map((g) => {
    const collapsed = g.key === "archived" && !archivedOpen && !q;
    return groupSection(g, g.items.map(listItem), {
      collapsed,
      onToggle: () => {
        archivedOpen = !archivedOpen;
        renderList();
      },
    });
  });
  dom.list.replaceChildren(...sections);
  dom.listEmpty.hidden = items.length > 0;
  dom.listEmpty.textContent = visible.length ? "No conversation name matches." : "No conversations yet.";
  const again = had ? controlOf(...had) : null;
  placeRoving(dom.list, again);
  again?.focus();
}

function actionBtn(cls, label, iconNode, fn) {
  const b = el("button", `icon-btn ${cls}`);
  b.type = "button";
  b.tabIndex = -1;
  b.title = label.split(" “")[0];
  b.setAttribute("aria-label", label);
  b.append(iconNode);
  b.addEventListener("click", fn);
  return b;
}

export function listItem(c) {
  const name = displayName(c);
  const li = el("li", "conv");
  li.dataset.id = c.id;
  if (c.id === state.currentId) li.classList.add("active");
  if (c.pinned) li.classList.add("pinned");
  if (c.archived) li.classList.add("archived");
  const open = el("button", "conv-open");
  open.type = "button";
  open.tabIndex = -1;
  open.title = name;
  if (c.id === state.currentId) open.setAttribute("aria-current", "page");
  open.append(el("span", "conv-name", name));
  if (c.history_available === false) {
    li.classList.add("unavailable");
    open.append(el("span", "conv-meta", "history unavailable"));
  }
  open.addEventListener("click", () => {
    if (isPhone()) setSidebar(false);
    hooks.openConversation(c.id);
  });

  const actions = el("span", "conv-actions");
  actions.append(
    actionBtn("conv-pin", `${c.pinned ? "Unpin" : "Pin"} “${name}”`, listIcon("pin"), () => setFlag(c, "pinned", !c.pinned)),
    actionBtn("conv-archive", `${c.archived ? "Unarchive" : "Archive"} “${name}”`, listIcon(c.archived ? "unarchive" : "archive"), () =>
      setFlag(c, "archived", !c.archived),
    ),
    actionBtn("conv-rename", `Rename “${name}”`, icon("pencil"), () => startRename(li, c)),
    actionBtn("conv-delete", `Delete “${name}”`, icon("trash"), () => deleteConversation(c)),
  );
  if (c.pinned) actions.querySelector(".conv-pin").setAttribute("aria-pressed", "true");
  li.append(open, actions);
  return li;
}

/** PATCH pinned or archived; the answer is the list entry. */
export async function setFlag(c, field, value) {
  try {
    const entry = await request("PATCH", `/conversations/${encodeURIComponent(c.id)}`, { [field]: value });
    Object.assign(c, entry && typeof entry === "object" ? entry : { [field]: value });
    if (!entry || typeof entry[field] !== "boolean") c[field] = value;
  } catch (e) {
    showBanner(errorWords(e.code, e.message));
    return;
  }
  if (field === "archived" && value && c.pinned === undefined) c.pinned = false;
  renderList();
  const words = { pinned: value ? "Pinned." : "Unpinned.", archived: value ? "Archived: it is in the Archived group at the end of the list." : "Unarchived." };
  announce(words[field]);
}

export function renameById(id) {
  const c = state.conversations.find((x) => x.id === id);
  const li = dom.list.querySelector(`.conv[data-id="${CSS.escape(id)}"]`);
  if (c && li) startRename(li, c);
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
    const open = dom.list.querySelector(`li[data-id="${CSS.escape(c.id)}"] .conv-open`);
    if (open) placeRoving(dom.list, open);
    open?.focus();
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

export function deleteById(id) {
  const c = state.conversations.find((x) => x.id === id);
  if (c) deleteConversation(c);
}

/** The row after `id` in the list as shown (or the one before), so focus has somewhere to go. */
function neighbour(id) {
  const rows = Array.from(dom.list.querySelectorAll(".conv")).filter((r) => !r.closest("[hidden]"));
  const i = rows.findIndex((r) => r.dataset.id === id);
  return (rows[i + 1] || rows[i - 1])?.dataset.id || null;
}

/** Delete with undo: hidden at once, a toast offers Undo, the DELETE follows a few seconds later. */
export function deleteConversation(c) {
  const name = displayName(c);
  const inList = dom.list.contains(document.activeElement);
  const next = neighbour(c.id);
  const wasCurrent = state.currentId === c.id;
  let typed = ""; // what the composer held when the conversation on screen was deleted
  let earlier = ""; // the new chat's own draft then
  let shown = ""; // what the composer showed after the delete
  const refocus = (id) => {
    const b = id ? dom.list.querySelector(`.conv[data-id="${CSS.escape(id)}"] .conv-open`) : null;
    if (b) {
      placeRoving(dom.list, b);
      b.focus();
    }
  };
  deleteWithUndo(c, name, {
    changed: ({ hidden, restored, deleted }) => {
      if (hidden) {
        if (wasCurrent) {
          typed = dom.input.value;
          hooks.newChat();
          earlier = dom.input.value;
          // The text typed stays in the composer as the new chat's draft, not in the deleted conversation's.
          if (typed.trim()) moveDraft(c.id, null, (shown = earlier.trim() ? `${earlier}\n\n${typed}` : typed));
        } else renderList();
        if (inList) refocus(next);
        announce(`Deleted “${name}”. ${UNDO_KEYS} or the Undo button brings it back for a few seconds.`);
      } else if (restored) {
        renderList();
        if (wasCurrent && !state.currentId) {
          const now = dom.input.value;
          hooks.openConversation(c.id);
          if (typed.trim() && now === shown) moveDraft(null, c.id, typed, earlier); // untouched since the delete: it goes back
        }
        refocus(c.id);
        announce(`“${name}” is back.`);
      } else if (deleted) {
        state.conversations = state.conversations.filter((x) => x.id !== c.id);
        renderList();
      }
    },
    failed: (entry, message) => {
      renderList();
      showBanner(message);
      void entry;
    },
  });
}

/** The entry of the conversation on screen, if it is listed. */
export function currentEntry() {
  return state.conversations.find((c) => c.id === state.currentId) || null;
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
