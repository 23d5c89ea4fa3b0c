// A turn: send from the composer, stream the reply, stop, regenerate and retry, re-attach after a
// reload or a dropped connection, then reload the branch from the server.

import { api } from "./api.js";
import { dom, el, state } from "./dom.js";
import { refreshList } from "./conversations.js";
import { choiceFields, fieldsOf } from "./choice.js";
import { decorateFinished, messageArticle, removeFrom, setAnswerer, showFallback, showMessageError } from "./messages.js";
import { announce, clearBanners, showBanner } from "./notices.js";
import { announceAnswering, announceReply } from "./announce.js";
import { consumeTurnStream } from "./render.js";
import { trackReasoning } from "./reasoning.js";
import {
  adoptTray,
  clearAttachments,
  endNote,
  hasAttachments,
  readyIds,
  restoreAttachments,
  sentAttachments,
  showNote,
  traySwitches,
} from "./attachments.js";
import { optionsField, optionsSent } from "./options.js";
import { watchTitle } from "./titles.js";
import {
  autosize,
  nearBottom,
  openConversation,
  renderConversation,
  scrollToBottom,
  scrollToBottomSoon,
  setBusy,
  setHash,
  setTitle,
  showEmpty,
} from "./view.js";
import { RETRYABLE, canRetry, errorWords } from "./words.js";
import { clearDraft, saveDraft } from "./drafts.js";
import { composerFits } from "./composer-notes.js";

/** A new answer to the user message above `m`, with the composer's model or `choice` ({provider, model}). */
export function regenerate(m, choice = null) {
  if (state.turn || !state.currentId) return;
  const art = dom.messages.querySelector(`article[data-id="${CSS.escape(m.id)}"]`);
  if (art) removeFrom(art);
  const fields = choice ? fieldsOf(choice) : modelField();
  startTurn({ conversation_id: state.currentId, parent_message_id: m.parent_id, regenerate: true, ...fields, ...(choice ? {} : optionsField()) }, {});
}

/** The `provider`/`model` fields of a turn sent from the composer (its model picker). */
export function modelField() {
  return choiceFields();
}


export function pendingArticle(role, text, attachments = []) {
  const m = { id: "", role, text: text || "", status: role === "assistant" ? "in_progress" : undefined, attachments };
  const art = messageArticle(m, true);
  art.classList.add("pending");
  if (role === "assistant") art.querySelector(".msg-body").append(typingDots());
  return art;
}

export function typingDots() {
  const d = el("span", "typing");
  d.setAttribute("aria-label", "Writing");
  d.append(el("span"), el("span"), el("span"));
  return d;
}

export function detachTurn() {
  if (state.turn) {
    state.turn.controller.abort();
    state.turn = null;
  }
  setBusy(false);
}

let sending = false; // waiting for uploads before a send: a second Enter does nothing

export async function sendFromComposer() {
  if (state.turn || sending) return;
  if (dom.input.disabled) return;
  if (!dom.input.value.trim() && !hasAttachments()) return;
  if (!composerFits()) return; // over the length limit: the note under the box says by how much
  endNote(); // a cancelled send's note has been read
  // What is sent is what is on screen when Send is pressed: the text, the conversation, its files. Send waits
  // for the uploads; a refused file keeps the message in the composer (the note says why), and opening another
  // conversation meanwhile cancels the send (its text and files stay with the conversation they were typed in).
  const pressed = dom.input.value;
  const text = pressed.trim();
  const conversationId = state.currentId;
  const switches = traySwitches();
  sending = true;
  dom.send.disabled = true;
  let ids;
  try {
    ids = await readyIds();
  } finally {
    sending = false;
    dom.send.disabled = dom.input.disabled;
  }
  if (traySwitches() !== switches || state.currentId !== conversationId) {
    const words = "Not sent: another conversation was opened while the files were uploading. The message and its files are still in the conversation they were written in.";
    showNote(words, "warn", { lasting: true });
    announce(words);
    return;
  }
  if (ids === null || state.turn) return;
  if (!text && !ids.length) return;
  const attachments = sentAttachments();
  if (dom.input.value === pressed) {
    dom.input.value = "";
    clearDraft();
    autosize();
  } // else: typed on while the files uploaded; that text stays as the draft
  clearAttachments();
  const body = { message: text, ...modelField(), ...optionsField() };
  if (ids.length) body.attachments = ids;
  if (conversationId) body.conversation_id = conversationId;
  await startTurn(body, { userText: text, fromComposer: true, attachments });
}

/** Run one turn: POST /chat, stream the reply into a pending article, then reload the branch. */
export async function startTurn(body, { userText = null, fromComposer = false, attachments = [] } = {}) {
  state.loadSeq++; // a conversation still loading must not replace this turn's view
  clearBanners();
  showEmpty(false);
  if (dom.messages.querySelector(".notice-info:not(.legacy-notice), .loading")) {
    for (const n of dom.messages.querySelectorAll(".notice-info:not(.legacy-notice), .loading")) n.remove();
  }
  const userArt = userText !== null ? pendingArticle("user", userText, attachments) : null;
  const asstArt = pendingArticle("assistant");
  if (userArt) dom.messages.append(userArt);
  dom.messages.append(asstArt);
  scrollToBottom(true);

  const controller = new AbortController();
  const turn = { conversationId: body.conversation_id || null, controller, view: asstArt._view, article: asstArt };
  state.turn = turn;
  setBusy(true);
  announceAnswering();

  let res;
  try {
    res = await api.chat(body, controller.signal);
  } catch (e) {
    if (state.turn === turn) state.turn = null;
    if (e?.name === "AbortError") return;
    setBusy(false);
    userArt?.remove();
    asstArt.remove();
    if (fromComposer && !dom.input.value) {
      dom.input.value = body.message || "";
      saveDraft(); // not sent: it is the draft again
      autosize();
    }
    if (fromComposer && attachments.length && !hasAttachments()) restoreAttachments(attachments);
    const retryable = canRetry(e.code, e.status); // not no_provider's 503 nor budget_exceeded's 429
    // A refused option names itself in the server's words (API "Options": bad_option naming it).
    const words = e.code === "bad_option" && e.message ? e.message : errorWords(e.code, e.message);
    showBanner(words, { retry: retryable ? () => startTurn(body, { userText, fromComposer, attachments }) : null });
    announce(errorWords(e.code, e.message));
    if (e.code === "turn_in_progress" && body.conversation_id) openConversation(body.conversation_id);
    if (!state.conv && !state.currentId) showEmpty(dom.messages.children.length === 0);
    return;
  }
  if (body.options) optionsSent(body.conversation_id || null);
  await followStream(turn, res.body, userArt, true);
}

/** Re-attach to a turn that is running (after a reload, or a dropped connection). */
export async function reattach(conversationId, art, m) {
  const view = art._view;
  const controller = new AbortController();
  const turn = { conversationId, controller, view, article: art };
  state.turn = turn;
  setBusy(true);
  art.classList.add("pending");
  announceAnswering();
  decorateFinished(art, { ...m, status: "in_progress" }, true);
  turn.prefix = m.text || ""; // a continuation's frames carry only the new text
  let res;
  try {
    res = await api.events(conversationId, "", controller.signal);
  } catch (e) {
    if (state.turn === turn) state.turn = null;
    if (e?.name === "AbortError") return;
    setBusy(false);
    if (state.currentId === conversationId) openAfterTurn(conversationId);
    return;
  }
  view.text = "";
  view.reasoning = "";
  await followStream(turn, res.body, null, false);
}

export async function followStream(turn, stream, userArt, isNew) {
  const art = turn.article;
  const view = turn.view;
  let ended = null; // {event, data}
  const fallbacks = []; // the `from` of each fallback event, in order
  const onEvent = (event, data) => {
    trackReasoning(art, event, data);
    if (event === "conversation") {
      turn.conversationId = data.conversation_id;
      art.dataset.id = data.assistant_message_id || "";
      art._msg.id = data.assistant_message_id;
      if (data.user_message_id) art._msg.parent_id = data.user_message_id; // null for a continuation
      // A continuation streams only what follows the reply's earlier text (API.md continue_message_id).
      if (data.continue_message_id && typeof turn.prefix === "string") view.text = turn.prefix;
      if (userArt && data.user_message_id) {
        userArt.dataset.id = data.user_message_id;
        userArt._msg.id = data.user_message_id;
      }
      if (data.model || data.provider) setAnswerer(art, data.provider, data.model);
      if (isNew && state.currentId !== data.conversation_id && (state.currentId === null || state.turn === turn)) {
        state.currentId = data.conversation_id;
        adoptTray(data.conversation_id); // files added while the first reply streams stay on screen
        setHash(data.conversation_id);
        setTitle(data.chat_name);
        refreshList();
      }
    } else if (event === "delta") {
      art.querySelector(".typing")?.remove();
      if (state.turn === turn) scrollToBottomSoon();
    } else if (event === "reasoning") {
      art.querySelector(".typing")?.remove();
    } else if (event === "fallback") {
      // Another candidate answers: say who, and why the one before was passed over.
      if (data && typeof data === "object") {
        if (data.from && typeof data.from === "object") fallbacks.push(data.from);
        setAnswerer(art, data.provider, data.model);
        showFallback(art, { model: data.model, status: "in_progress", fallback_from: fallbacks });
        announce(art.querySelector(".msg-fallback")?.textContent || "");
      }
    } else if (event === "done" || event === "error") {
      ended = { event, data };
      if (data && typeof data === "object") {
        if (event === "done" && (data.model || data.provider)) setAnswerer(art, data.provider, data.model);
        if (Array.isArray(data.fallback_from) && data.fallback_from.length) {
          // An error names no model: the last candidate is the one the last fallback event named.
          const model = data.model || art.querySelector(".msg-model")?.textContent || null;
          showFallback(art, { model, status: event === "error" ? "failed" : data.status, fallback_from: data.fallback_from });
        }
      }
    }
  };

  // A dropped connection re-attaches from the last frame seen, a few times, before giving up.
  let attempts = 0;
  let current = stream;
  for (;;) {
    try {
      await consumeTurnStream(current, view, onEvent);
    } catch (e) {
      if (e?.name === "AbortError" || turn.controller.signal.aborted) return;
    }
    if (ended || turn.controller.signal.aborted || !turn.conversationId || attempts >= 3) break;
    attempts++;
    try {
      const res = await api.events(turn.conversationId, view.lastEventId, turn.controller.signal);
      current = res.body;
    } catch (e) {
      if (e?.name === "AbortError") return;
      break;
    }
  }
  if (turn.controller.signal.aborted) return;

  art.classList.remove("pending");
  art.querySelector(".typing")?.remove();
  if (ended?.event === "error") {
    const d = ended.data || {};
    art._msg.status = "failed";
    showMessageError(art, d.code, d.message, d.retryable ?? RETRYABLE.has(d.code), d.cause);
    announce(errorWords(d.code, d.message, d.cause));
  } else if (ended?.event === "done") {
    announceReply(art, ended.data?.status);
  } else {
    showMessageError(art, "interrupted", null, true);
  }
  if (state.turn === turn) {
    state.turn = null;
    setBusy(false);
  }
  if (turn.conversationId && state.currentId === turn.conversationId) {
    await openAfterTurn(turn.conversationId, ended?.event === "error" ? ended.data : null);
  }
  refreshList();
  if (ended?.event === "done") watchTitle(turn.conversationId);
  return ended;
}


export async function openAfterTurn(id, liveError = null) {
  if (state.turn) return;
  const seq = ++state.loadSeq;
  try {
    const conv = await api.getConversation(id);
    if (seq !== state.loadSeq || state.turn) return;
    const keepScroll = !nearBottom() ? dom.scroller.scrollTop : null;
    renderConversation(conv);
    if (keepScroll !== null) dom.scroller.scrollTop = keepScroll;
    if (liveError) {
      // The stored error has no "retryable": keep what the live event said.
      const last = dom.messages.querySelector("article.msg-assistant:last-of-type");
      if (last && last._msg.status === "failed") {
        showMessageError(last, liveError.code, liveError.message, liveError.retryable ?? RETRYABLE.has(liveError.code), liveError.cause);
      }
    }
  } catch (e) {
    if (seq === state.loadSeq) showBanner(errorWords(e.code, e.message));
  }
}

export async function stopTurn() {
  const turn = state.turn;
  if (!turn) return;
  dom.stop.disabled = true;
  announce("Stopping.");
  try {
    if (turn.conversationId) {
      await api.stop(turn.conversationId);
    } else {
      // Not even the conversation frame has arrived: stop reading; the list shows what the server kept.
      turn.controller.abort();
      state.turn = null;
      setBusy(false);
      turn.article.classList.remove("pending");
      turn.article.querySelector(".typing")?.remove();
      refreshList();
    }
  } catch (e) {
    if (e.code === "no_turn") {
      // The turn had ended already; the stream is closing on its own.
    } else {
      showBanner(errorWords(e.code, e.message));
    }
  } finally {
    dom.stop.disabled = false;
  }
}


