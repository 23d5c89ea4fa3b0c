// Export links in the conversation header (GET /conversations/ID/export, API "Export"): JSON or
// Markdown, of the branch on screen or of every branch. The menu shows whenever a conversation with
// a readable history is on screen (the same moment as the Share button).

import { $, dom, state } from "./dom.js";

const enc = encodeURIComponent;

export function exportUrl(id, format, scope) {
  return `/conversations/${enc(id)}/export?format=${enc(format)}&scope=${enc(scope)}`;
}

export function initExport() {
  const menu = $("#export-menu");
  if (!menu || !dom.shareOpen) return;
  const links = [...menu.querySelectorAll("a[data-format]")];

  const update = () => {
    const id = state.currentId;
    menu.hidden = !id || dom.shareOpen.hidden;
    if (menu.hidden) menu.open = false;
    for (const a of links) {
      if (id) a.href = exportUrl(id, a.dataset.format, a.dataset.scope);
      else a.removeAttribute("href");
    }
  };

  // The Share button is shown and hidden as conversations open and close: follow it.
  new MutationObserver(update).observe(dom.shareOpen, { attributes: true, attributeFilter: ["hidden"] });
  window.addEventListener("hashchange", update);
  menu.addEventListener("toggle", update);
  for (const a of links) a.addEventListener("click", () => (menu.open = false));
  document.addEventListener("click", (ev) => {
    if (menu.open && !menu.contains(ev.target)) menu.open = false;
  });
  menu.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && menu.open) {
      ev.preventDefault();
      menu.open = false;
      menu.querySelector("summary")?.focus();
    }
  });
  update();
}

initExport();
