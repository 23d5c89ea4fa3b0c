// Continue: a `stopped` or cut-off (`incomplete`) reply gets a "Continue" button beside Regenerate;
// it sends `continue_message_id` (API.md "POST /chat") and the model's further text streams into the
// same bubble. A failed continuation keeps the earlier text (the server keeps it too) and says why
// in a banner, with Retry when trying again may help.

import { api } from "./api.js";
import { dom, state } from "./dom.js";
import { actionButton, decorateFinished } from "./messages.js";
import { announce, clearBanners, showBanner } from "./notices.js";
import { followStream } from "./turn.js";
import { setBusy } from "./view.js";
import { CONTINUABLE_REASONS, RETRYABLE, canRetry, errorWords } from "./words.js";

/** Whether reply `m` can be continued: the last of its branch, stopped or cut off by a length limit, with text. */
export function canContinue(m, isLast) {
  if (!isLast || m?.role !== "assistant" || !m.id || !m.text) return false;
  if (state.providerMissing) return false;
  if (m.status === "stopped") return true;
  return m.status === "incomplete" && CONTINUABLE_REASONS.has(m.error?.code || "other");
}

/** The "Continue" action of a reply article, or null when it cannot be continued. */
export function continueButton(art, m, isLast) {
  if (!canContinue(m, isLast)) return null;
  // The last try that failed is kept with the reply (metadata.continuation_error): say so where it is offered again.
  const failed = m.metadata?.continuation_error;
  const why = failed && typeof failed === "object" ? ` The last try failed: ${errorWords(failed.code, failed.message)}` : "";
  const b = actionButton("Continue", `Ask the model to go on from where this reply stopped.${why}`, () => continueReply(art));
  b.classList.add("continue");
  return b;
}

/** Continue the reply in `art`: stream the rest into the same article, then reload the branch. */
export async function continueReply(art) {
  const m = art._msg;
  if (state.turn || !state.currentId || !m?.id) return;
  clearBanners();
  const conversationId = state.currentId;
  const controller = new AbortController();
  const turn = { conversationId, controller, view: art._view, article: art, continues: m.id, prefix: m.text || "" };
  state.turn = turn;
  setBusy(true);
  art.classList.add("pending");
  decorateFinished(art, { ...m, status: "in_progress" }, true);
  announce("Continuing…");

  let res;
  try {
    res = await api.chat({ conversation_id: conversationId, continue_message_id: m.id }, controller.signal);
  } catch (e) {
    if (state.turn === turn) state.turn = null;
    if (e?.name === "AbortError") return;
    setBusy(false);
    art.classList.remove("pending");
    decorateFinished(art, m, true); // nothing changed: the reply as it was, with its Continue
    const words = errorWords(e.code, e.message);
    showBanner(words, { retry: canRetry(e.code, e.status) ? () => continueAgain(m.id) : null });
    announce(words);
    return;
  }
  const ended = await followStream(turn, res.body, null, false);
  if (ended?.event === "error") {
    // The stored reply keeps its earlier text and status, so the reloaded branch shows no error: say it here.
    const d = ended.data || {};
    const words = errorWords(d.code, d.message, d.cause);
    const retry = d.retryable ?? RETRYABLE.has(d.code);
    showBanner(`The reply could not be continued. ${words}`, { retry: retry ? () => continueAgain(m.id) : null });
  }
}

/** Continue the reply with id `id` as it is on screen now (after a reload of the branch). */
function continueAgain(id) {
  const art = dom.messages.querySelector(`article[data-id="${CSS.escape(id)}"]`);
  if (art) continueReply(art);
}
