// The header on any width: the conversation's full title in a tooltip (the heading is ellipsised), and on a
// phone the conversation's usage and cost moved out of the header to a line after the last message.
// Follows what view.js writes into #chat-title and #chat-totals; imports only dom.js.

import { dom, el } from "./dom.js";

let foot = null;

function syncTitle() {
  const text = dom.title.textContent.trim();
  dom.title.title = text;
}

function syncTotals() {
  const t = dom.totals;
  foot.hidden = t.hidden || !t.textContent.trim();
  foot.lastChild.textContent = t.textContent;
  foot.title = t.title || "";
}

/** Start following the title and the totals. */
export function initHeader() {
  if (foot || !dom.title || !dom.totals) return;
  syncTitle();
  new MutationObserver(syncTitle).observe(dom.title, { childList: true, characterData: true, subtree: true });
  // Shown by the stylesheet on a phone only; the header's pill is hidden there, so one copy is read.
  foot = el("p", "totals-foot");
  foot.append(el("span", "totals-foot-label", "This conversation: "), el("span", "totals-foot-value"));
  dom.scroller.insertBefore(foot, dom.messages.nextSibling);
  syncTotals();
  new MutationObserver(syncTotals).observe(dom.totals, {
    childList: true,
    characterData: true,
    subtree: true,
    attributes: true,
    attributeFilter: ["hidden", "title"],
  });
}

initHeader();
