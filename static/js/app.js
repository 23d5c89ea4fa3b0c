// The chat page: wires the modules together, binds the composer and the page-wide keys, and starts.
// Data comes from the JSON API (API.md); model text only reaches the DOM through render.js.

import { initAccount } from "./account.js";
import { api, ApiError } from "./api.js";
import { siblingNav, startEdit } from "./branches.js";
import { refreshList, renderList, setSidebar } from "./conversations.js";
import { dialogOpen, dom, hooks, isPhone, state } from "./dom.js";
import { TurnView, consumeTurnStream, renderMarkdown, sanitizeMarkdown } from "./render.js";
import { initSharePanel } from "./share-panel.js";
import { SSEParser, readEventStream, streamOf } from "./sse.js";
import { detachTurn, reattach, regenerate, sendFromComposer, stopTurn } from "./turn.js";
import { autosize, newChat, openConversation, setBusy, setTitle } from "./view.js";

// Hooks for tests: the same parser and renderer the page uses for live replies.
window.chatRender = { SSEParser, readEventStream, streamOf, TurnView, consumeTurnStream, renderMarkdown, sanitizeMarkdown };

// Calls from lower modules into higher ones (see dom.js).
Object.assign(hooks, { openConversation, newChat, setTitle, reattach, detachTurn, regenerate, startEdit, siblingNav });

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
  initAccount();
  initSharePanel();
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
