// Instructions (the system prompt): the current conversation's, read and changed in a dialog
// (PATCH /conversations/ID, from the next turn on), and the user's default for new conversations in
// the Account dialog (GET/PATCH /account). Text goes into the DOM as text nodes and values only.

import { $, state } from "./dom.js";
import { announce, openPanel } from "./notices.js";
import { request } from "./api.js";
import { templateErrorWords } from "./templates.js";

const enc = encodeURIComponent;

function say(node, text, kind) {
  node.textContent = text;
  node.className = `panel-result result-${kind}`;
  node.hidden = !text;
  if (text) announce(text);
}

function initConversationInstructions() {
  const dialog = $("#instructions-dialog");
  const opener = $("#instructions-open");
  const form = $("#instructions-form");
  if (!dialog || !opener || !form) return;
  const text = $("#instructions-text");
  const result = $("#instructions-result");
  const save = $("#instructions-save");
  let conversationId = null;

  opener.addEventListener("click", async () => {
    conversationId = state.currentId;
    say(result, "", "ok");
    text.value = "";
    if (!conversationId) {
      // Disabled before the panel opens: focus on a disabled field would fall to the page body.
      text.disabled = true;
      save.disabled = true;
      openPanel(dialog, { opener, focus: form.querySelector(".dialog-actions [data-close]") });
      say(result, "This chat has not started yet: it will use your default instructions (Account) or a template's.", "ok");
      return;
    }
    text.disabled = false;
    save.disabled = false;
    openPanel(dialog, { opener, focus: text });
    try {
      const conv = await request("GET", `/chat?conversation_id=${enc(conversationId)}`);
      if (conversationId !== state.currentId) return;
      text.value = conv.instructions || "";
      text.focus();
    } catch (e) {
      say(result, templateErrorWords(e), "error");
    }
  });

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!conversationId) return;
    save.disabled = true;
    try {
      await request("PATCH", `/conversations/${enc(conversationId)}`, { instructions: text.value });
      if (state.conv && state.currentId === conversationId) state.conv.instructions = text.value;
      say(result, "Saved. The next message uses these instructions.", "ok");
    } catch (e) {
      say(result, templateErrorWords(e), "error");
    } finally {
      save.disabled = false;
    }
  });
}

function initDefaultInstructions() {
  const opener = $("#account-open");
  const form = $("#default-instructions-form");
  if (!opener || !form) return;
  const text = $("#default-instructions");
  const result = $("#default-instructions-result");
  const submit = form.querySelector("button[type=submit]");

  opener.addEventListener("click", async () => {
    say(result, "", "ok");
    try {
      const account = await request("GET", "/account");
      text.value = account.default_instructions || "";
      text.placeholder = account.server_instructions || "";
    } catch (e) {
      say(result, templateErrorWords(e), "error");
    }
  });

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    submit.disabled = true;
    try {
      const value = text.value.trim() ? text.value : null;
      const account = await request("PATCH", "/account", { default_instructions: value });
      say(
        result,
        account.default_instructions ? "Saved. New conversations use these instructions." : "Cleared. New conversations use the server's default.",
        "ok",
      );
    } catch (e) {
      say(result, templateErrorWords(e), "error");
    } finally {
      submit.disabled = false;
    }
  });
}

export function initInstructions() {
  initConversationInstructions();
  initDefaultInstructions();
}
