// The chat page: wires the modules together, binds the composer and the page-wide keys, and starts.
// Data comes from the JSON API (API.md); model text only reaches the DOM through render.js.

import { initAccount } from "./account.js";
import { initAttachments } from "./attachments.js";
import { initOptions } from "./options.js";
import { initInstructions } from "./instructions.js";
import { initTemplates } from "./templates.js";
import { api, ApiError } from "./api.js";
import { siblingNav, startEdit } from "./branches.js";
import { refreshList, renderList, setSidebar } from "./conversations.js";
import { dialogOpen, dom, hooks, isPhone, state } from "./dom.js";
import { TurnView, consumeTurnStream, renderMarkdown, sanitizeMarkdown } from "./render.js";
import { initChoice } from "./choice.js";
import { openRegenMenu } from "./regen-menu.js";
import { initSharePanel } from "./share-panel.js";
import { initSearch } from "./search.js";
import { initDrafts } from "./drafts.js";
import { initComposerNotes } from "./composer-notes.js";
import { continueButton } from "./continue.js";
import "./header.js"; // the title's tooltip; usage and cost out of the header on a phone
import "./scrolling.js"; // the "Jump to latest" button
import { SSEParser, readEventStream, streamOf } from "./sse.js";
import { detachTurn, reattach, regenerate, sendFromComposer, stopTurn } from "./turn.js";
import { autosize, newChat, openConversation, setBusy, setComposerEnabled, setTitle } from "./view.js";

// Hooks for tests: the same parser and renderer the page uses for live replies.
window.chatRender = { SSEParser, readEventStream, streamOf, TurnView, consumeTurnStream, renderMarkdown, sanitizeMarkdown };

// Calls from lower modules into higher ones (see dom.js).
Object.assign(hooks, {
  openConversation,
  newChat,
  setTitle,
  reattach,
  detachTurn,
  regenerate,
  regenerateWith: openRegenMenu,
  startEdit,
  siblingNav,
  continueButton,
});

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
    if (ev.key !== "Escape" || ev.defaultPrevented || dialogOpen()) return;
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
  initDrafts(); // before the first view: it shows that conversation's draft
  initComposerNotes();
  initAccount();
  initTemplates();
  initInstructions();
  initSharePanel();
  initSearch();
  initAttachments();
  initOptions();
  setBusy(false);
  if (!isPhone()) dom.body.classList.add("sidebar-open");
  dom.toggleSidebar.setAttribute("aria-expanded", String(dom.body.classList.contains("sidebar-open")));
  autosize();
  // Decide what is on screen before any await, so a message typed early is never wiped by a late load.
  // The picker is built at once (initChoice's first step); the catalogue arrives later.
  const choice = initChoice().then(() => {
    // The catalogue may say what the page did not know: no provider at all.
    if (state.providerMissing) setComposerEnabled(false);
  });
  const id = decodeURIComponent(window.location.hash.slice(1));
  const opened = id ? openConversation(id) : (newChat(), null);
  await Promise.all([refreshList(), choice, opened]);
  dom.body.classList.add("ready");
}

init();

export { state, ApiError };
