// Page-wide keyboard shortcuts and their help dialog (opened by "?" outside text fields, by Ctrl+/
// anywhere, and by the sidebar's keyboard button). The keys follow ChatGPT's where it has one.
// Shortcuts with Ctrl (⌘ on a Mac) and Shift work in the message box too; none of them types a
// character, so typing is never broken. Esc to stop stays in app.js. Loaded as a module of its own.

import { currentEntry, deleteById, setSidebar } from "./conversations.js";
import { dialogOpen, dom, el, isPhone } from "./dom.js";
import { announce, openPanel } from "./notices.js";
import { undoDeleteFromComposer, undoLastDelete } from "./undo-delete.js";
import { newChat } from "./view.js";

const IS_MAC = /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent || "");
const MOD = IS_MAC ? "⌘" : "Ctrl";

/** The shortcuts as shown in the help: [keys (each a list of key names), what it does]. */
export const SHORTCUTS = [
  [[MOD, "Shift", "O"], "New chat"],
  [["Shift", "Esc"], "Focus the message box"],
  [[MOD, "K"], "Search conversations"],
  [[MOD, "Shift", "C"], "Copy the last reply (its Markdown)"],
  [[MOD, "Shift", ";"], "Copy the last code block"],
  [[MOD, "Shift", "S"], "Show or hide the conversation list"],
  [[MOD, "Shift", "Backspace"], "Delete this conversation (with Undo)"],
  [[MOD, "Z"], "Undo a delete while its notice shows (outside text fields)"],
  [["Esc"], "Stop the answer being written"],
  [["Enter"], "Send (in the message box)"],
  [["Shift", "Enter"], "New line (in the message box)"],
  [["?"], "Show these shortcuts (outside text fields; or " + MOD + "+/)"],
];

/** Keys inside the conversation list. */
export const LIST_KEYS = [
  [["↑"], "Previous conversation"],
  [["↓"], "Next conversation"],
  [["Home"], "First conversation"],
  [["End"], "Last conversation"],
  [["Enter"], "Open it"],
  [["→"], "Its buttons: pin, archive, rename, delete"],
  [["Delete"], "Delete it (with Undo)"],
  [["F2"], "Rename it"],
];

let dialog = null;

function table(caption, rows) {
  const t = el("table", "shortcuts-table");
  t.append(el("caption", null, caption));
  const body = el("tbody");
  for (const [keys, what] of rows) {
    const tr = el("tr");
    const th = el("th", null);
    th.scope = "row";
    keys.forEach((k, i) => {
      if (i) th.append("+");
      th.append(el("kbd", null, k));
    });
    tr.append(th, el("td", null, what));
    body.append(tr);
  }
  t.append(body);
  return t;
}

function ensureDialog() {
  if (dialog) return dialog;
  dialog = el("dialog", "panel-dialog shortcuts-dialog");
  dialog.id = "shortcuts-dialog";
  dialog.setAttribute("aria-labelledby", "shortcuts-title");
  const panel = el("div", "panel");
  const head = el("div", "panel-head");
  const h = el("h2", null, "Keyboard shortcuts");
  h.id = "shortcuts-title";
  const x = el("button", "icon-btn panel-close", "×");
  x.type = "button";
  x.dataset.close = "";
  x.setAttribute("aria-label", "Close");
  head.append(h, x);
  const actions = el("div", "dialog-actions");
  const done = el("button", "btn btn-quiet", "Close");
  done.type = "button";
  done.dataset.close = "";
  actions.append(done);
  panel.append(head, table("Everywhere on the page", SHORTCUTS), table("In the conversation list", LIST_KEYS), actions);
  dialog.append(panel);
  document.body.append(dialog);
  return dialog;
}

/** Open the help dialog; focus goes back to where it was when it closes. */
export function openShortcuts() {
  const d = ensureDialog();
  const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  openPanel(d, { opener, focus: d.querySelector(".panel-close") });
}

function typing(target) {
  return target instanceof HTMLElement && (target.isContentEditable || target.matches("input, textarea, select"));
}

/** The last reply on screen that has text. */
function lastReply() {
  const arts = Array.from(dom.messages.querySelectorAll("article.msg-assistant")).reverse();
  return arts.find((a) => a._msg?.text) || null;
}

function copy(text, what, button = null) {
  const ok = () => {
    announce(`Copied ${what}.`);
    if (button) {
      const before = button.textContent;
      button.textContent = "Copied";
      setTimeout(() => {
        button.textContent = before;
      }, 1500);
    }
  };
  if (!navigator.clipboard?.writeText) {
    announce("Copying is not available in this browser.");
    return;
  }
  navigator.clipboard.writeText(text).then(ok, () => announce(`${what[0].toUpperCase()}${what.slice(1)} could not be copied.`));
}

function copyLastReply() {
  const art = lastReply();
  if (!art) {
    announce("There is no reply to copy yet.");
    return;
  }
  const button = Array.from(art.querySelectorAll(".msg-action")).find((b) => b.textContent === "Copy") || null;
  copy(art._msg.text, "the last reply", button);
}

function copyLastCode() {
  const codes = dom.messages.querySelectorAll("article.msg-assistant pre code");
  const code = codes[codes.length - 1];
  if (!code) {
    announce("There is no code block to copy.");
    return;
  }
  copy(code.textContent, "the last code block", code.closest(".codeblock")?.querySelector("button.copy-code") || null);
}

function focusSearch() {
  if (!dom.body.classList.contains("sidebar-open")) setSidebar(true);
  dom.filter.focus();
  dom.filter.select();
}

function toggleSidebar() {
  const open = !dom.body.classList.contains("sidebar-open");
  setSidebar(open);
  if (!open && dom.sidebar.contains(document.activeElement)) dom.toggleSidebar.focus();
  if (open && !isPhone()) dom.list.querySelector('[tabindex="0"]')?.focus();
}

// Keys are matched by what they type (ev.key), so a German "-" or an AZERTY "M" on the US ";" position stays
// itself; the physical key (ev.code) counts only when the layout types no Latin character there (Cyrillic, Greek…).
function latin(key) {
  return typeof key === "string" && key.length === 1 && /[\x20-\x7e\u00a0-\u024f]/.test(key);
}

/** What a key press asks for, or null (kept apart from the DOM so it reads as a table). */
export function shortcutFor(ev, mac = IS_MAC) {
  if (ev.isComposing || ev.altKey) return null;
  const mod = mac ? ev.metaKey && !ev.ctrlKey : ev.ctrlKey && !ev.metaKey;
  const key = (ev.key || "").toLowerCase();
  if (mod && ev.shiftKey) {
    if (key === "o") return "new-chat";
    if (key === "c") return "copy-reply";
    if (key === ";" || key === ":" || (ev.code === "Semicolon" && !latin(ev.key))) return "copy-code";
    if (key === "s") return "sidebar";
    if (key === "backspace") return "delete";
    return null;
  }
  if (mod && !ev.shiftKey && key === "k") return "search";
  if (mod && !ev.shiftKey && key === "z" && !typing(ev.target)) return "undo";
  if (mod && !ev.shiftKey && key === "z" && ev.target instanceof HTMLElement && ev.target.id === "composer-input") return "undo-composer";
  if (mod && (key === "/" || (ev.code === "Slash" && !latin(ev.key)))) return "help";
  if (!mod && !ev.ctrlKey && !ev.metaKey) {
    if (ev.key === "Escape" && ev.shiftKey) return "focus-composer";
    if (ev.key === "?" && !typing(ev.target)) return "help";
  }
  return null;
}

function onKey(ev) {
  if (ev.defaultPrevented || dialogOpen()) return;
  const what = shortcutFor(ev);
  if (!what) return;
  if (what === "undo") {
    if (undoLastDelete()) ev.preventDefault();
    return;
  }
  if (what === "undo-composer") {
    // The box's own undo unless a delete is waiting and nothing was typed since: then it brings that back.
    if (undoDeleteFromComposer(dom.input.value)) ev.preventDefault();
    return;
  }
  ev.preventDefault();
  if (what === "new-chat") newChat();
  else if (what === "focus-composer") dom.input.focus();
  else if (what === "search") focusSearch();
  else if (what === "copy-reply") copyLastReply();
  else if (what === "copy-code") copyLastCode();
  else if (what === "sidebar") toggleSidebar();
  else if (what === "delete") {
    const c = currentEntry();
    if (c) deleteById(c.id);
    else announce("No conversation is open.");
  } else if (what === "help") openShortcuts();
}

// The capture phase: Shift+Esc must be taken before app.js reads Esc as "stop".
document.addEventListener("keydown", onKey, true);
document.getElementById("shortcuts-open")?.addEventListener("click", openShortcuts);
ensureDialog();
