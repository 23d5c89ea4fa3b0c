// The conversation list's shape and keys: entries grouped by date (Pinned, Today, Yesterday,
// Previous 7 days, Previous 30 days, then by month; Archived collapsed at the end), one row per entry,
// and one tab stop for the whole list (a roving tabindex: Up/Down/Home/End move, Enter opens,
// Right reaches the row's buttons, Delete deletes, F2 renames).
// Imports only dom.js: what a row's buttons do is passed in by conversations.js.

import { el } from "./dom.js";

const DAY = 86400000;
const monthFmt = new Intl.DateTimeFormat(undefined, { month: "long", year: "numeric" });

/** Local midnight of `d`, in milliseconds. */
function midnight(d) {
  return new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
}

/** The date group of a time (Unix seconds) seen from `now`: {key, label}. */
export function dateGroup(ts, now = new Date()) {
  if (!ts) return { key: "older", label: "Older" };
  const t = ts * 1000;
  const today = midnight(now);
  if (t >= today) return { key: "today", label: "Today" };
  // Calendar days, not 24-hour steps: a change to summer time must not move an entry.
  const yesterday = new Date(now.getFullYear(), now.getMonth(), now.getDate() - 1).getTime();
  if (t >= yesterday) return { key: "yesterday", label: "Yesterday" };
  const week = new Date(now.getFullYear(), now.getMonth(), now.getDate() - 7).getTime();
  if (t >= week) return { key: "week", label: "Previous 7 days" };
  const month = new Date(now.getFullYear(), now.getMonth(), now.getDate() - 30).getTime();
  if (t >= month) return { key: "month", label: "Previous 30 days" };
  const d = new Date(t);
  return { key: `m-${d.getFullYear()}-${d.getMonth() + 1}`, label: monthFmt.format(d) };
}

/**
 * The list's groups, in display order: [{key, label, items}]. `items` are list entries; the order
 * inside a group is newest first (by last_update). Pinned entries form their own group first;
 * archived entries (pinned or not) the "archived" group last.
 */
export function groupConversations(items, now = new Date()) {
  const sorted = items.slice().sort((a, b) => (b.last_update || 0) - (a.last_update || 0));
  const groups = new Map();
  const add = (key, label, c) => {
    if (!groups.has(key)) groups.set(key, { key, label, items: [] });
    groups.get(key).items.push(c);
  };
  const pinned = [];
  const archived = [];
  for (const c of sorted) {
    if (c.archived) archived.push(c);
    else if (c.pinned) pinned.push(c);
    else {
      const g = dateGroup(c.last_update, now);
      add(g.key, g.label, c);
    }
  }
  const out = [];
  if (pinned.length) out.push({ key: "pinned", label: "Pinned", items: pinned });
  out.push(...groups.values());
  if (archived.length) out.push({ key: "archived", label: "Archived", items: archived });
  return out;
}

/** The readable name of an entry: its name with runs of white space made one, or "Untitled". */
export function displayName(c) {
  const name = (c.chat_name || "").replace(/\s+/g, " ").trim();
  return name || "Untitled";
}

const NS = "http://www.w3.org/2000/svg";
const PATHS = {
  pin: "M9 4h6l-1 6 3 3H7l3-3-1-6zM12 13v7",
  archive: "M4 5h16v4H4zM6 9v10h12V9M10 13h4",
  unarchive: "M4 5h16v4H4zM6 9v10h12V9M12 17v-5M9.5 14.5 12 12l2.5 2.5",
};

/** A small stroke icon of this module (pin, archive, unarchive). */
export function listIcon(name) {
  const svg = document.createElementNS(NS, "svg");
  for (const [k, v] of [["viewBox", "0 0 24 24"], ["width", "16"], ["height", "16"], ["aria-hidden", "true"], ["class", "icon"]]) {
    svg.setAttribute(k, v);
  }
  const path = document.createElementNS(NS, "path");
  path.setAttribute("d", PATHS[name]);
  svg.append(path);
  return svg;
}

/** The items the arrow keys move between: each entry's open button and the Archived toggle. */
function stops(list) {
  return Array.from(list.querySelectorAll(".conv-open, .conv-group-toggle")).filter((b) => !b.closest("[hidden]"));
}

/** Make `target` the list's one tab stop (and focus it when `focus`). */
export function setRoving(list, target, focus = false) {
  for (const b of list.querySelectorAll(".conv-open, .conv-group-toggle, .conv-actions button")) b.tabIndex = -1;
  if (!target) return;
  target.tabIndex = 0;
  if (focus) target.focus();
}

/** After a re-render: the tab stop goes to `preferred` if it is there, else the open conversation's row, else the first. */
export function placeRoving(list, preferred = null) {
  const all = stops(list);
  const active = list.querySelector(".conv.active .conv-open");
  const target =
    (preferred && list.contains(preferred) ? preferred : null) || (active && all.includes(active) ? active : null) || all[0] || null;
  setRoving(list, target);
  return target;
}

/**
 * Keys inside the list: Up/Down/Home/End between entries, Right into a row's buttons and Left back,
 * Delete and F2 on an entry. `actions` = {remove(id), rename(id)}.
 */
export function bindListKeys(list, actions) {
  list.addEventListener("focusin", (ev) => {
    const t = ev.target;
    if (t instanceof HTMLElement && (t.matches(".conv-open, .conv-group-toggle") || t.closest(".conv-actions"))) {
      for (const b of list.querySelectorAll(".conv-open, .conv-group-toggle, .conv-actions button")) b.tabIndex = -1;
      t.tabIndex = 0;
    }
  });
  list.addEventListener("keydown", (ev) => {
    if (ev.altKey || ev.ctrlKey || ev.metaKey) return;
    const t = ev.target;
    if (!(t instanceof HTMLElement) || t.matches("input")) return;
    const all = stops(list);
    const row = t.closest(".conv");
    const inActions = t.closest(".conv-actions") !== null;
    const from = inActions ? row?.querySelector(".conv-open") : t;
    const i = all.indexOf(from);
    let next = null;
    if (ev.key === "ArrowDown") next = all[Math.min(all.length - 1, i + 1)];
    else if (ev.key === "ArrowUp") next = all[Math.max(0, i - 1)];
    else if (ev.key === "Home") next = all[0];
    else if (ev.key === "End") next = all[all.length - 1];
    else if (ev.key === "ArrowRight" && row) {
      const buttons = Array.from(row.querySelectorAll(".conv-actions button"));
      const j = buttons.indexOf(t);
      next = buttons[Math.min(buttons.length - 1, j + 1)] || null;
    } else if (ev.key === "ArrowLeft" && row && inActions) {
      const buttons = Array.from(row.querySelectorAll(".conv-actions button"));
      const j = buttons.indexOf(t);
      next = j > 0 ? buttons[j - 1] : row.querySelector(".conv-open");
    } else if ((ev.key === "Delete" || ev.key === "F2") && row && !inActions) {
      ev.preventDefault();
      if (ev.key === "Delete") actions.remove(row.dataset.id);
      else actions.rename(row.dataset.id);
      return;
    } else {
      return;
    }
    ev.preventDefault();
    if (next) setRoving(list, next, true);
  });
}

/** A group's section: a heading (or, for Archived, a toggle button) and its <ul> of rows. */
export function groupSection(group, rows, { collapsed = false, onToggle = null } = {}) {
  const section = el("section", `conv-group conv-group-${group.key.startsWith("m-") ? "month" : group.key}`);
  section.dataset.group = group.key;
  const headId = `conv-group-${group.key}`;
  let head;
  if (group.key === "archived") {
    head = el("button", "conv-group-head conv-group-toggle");
    head.type = "button";
    head.id = headId;
    head.setAttribute("aria-expanded", String(!collapsed));
    head.append(el("span", "conv-group-caret"), el("span", null, `Archived (${group.items.length})`));
    head.addEventListener("click", () => onToggle?.());
  } else {
    head = el("h2", "conv-group-head", group.label);
    head.id = headId;
  }
  const ul = el("ul", "conv-group-list");
  ul.setAttribute("aria-labelledby", headId);
  ul.hidden = collapsed;
  ul.append(...rows);
  section.append(head, ul);
  return section;
}
