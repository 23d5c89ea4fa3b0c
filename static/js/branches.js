// Branches: edit one of your messages (a new branch) and switch between the versions of a message.

import { api } from "./api.js";
import { el, state } from "./dom.js";
import { removeFrom } from "./messages.js";
import { holdInView } from "./scrolling.js";
import { showBanner } from "./notices.js";
import { modelField, startTurn } from "./turn.js";
import { renderConversation } from "./view.js";
import { errorWords } from "./words.js";

export function siblingNav(m, sib) {
  const idx = sib.indexOf(m.id);
  const nav = el("span", "sibling-nav");
  nav.setAttribute("role", "group");
  nav.setAttribute("aria-label", `Version ${idx + 1} of ${sib.length}`);
  const prev = el("button", "icon-btn sib-prev", "‹");
  prev.type = "button";
  prev.setAttribute("aria-label", "Previous version");
  prev.disabled = idx <= 0;
  prev.addEventListener("click", () => switchBranch(sib[idx - 1], prev, "prev"));
  const next = el("button", "icon-btn sib-next", "›");
  next.type = "button";
  next.setAttribute("aria-label", "Next version");
  next.disabled = idx >= sib.length - 1;
  next.addEventListener("click", () => switchBranch(sib[idx + 1], next, "next"));
  nav.append(prev, el("span", "sib-count", `${idx + 1}/${sib.length}`), next);
  return nav;
}

/** Show another version of a message; that message stays where it was on screen, focus stays on `button`'s side. */
export async function switchBranch(messageId, button = null, which = "next") {
  if (!state.currentId || state.turn) return;
  try {
    const conv = await api.setCurrent(state.currentId, messageId);
    const restore = holdInView(button?.closest("article.msg") || null, which);
    renderConversation(conv);
    restore(messageId);
  } catch (e) {
    showBanner(errorWords(e.code, e.message));
  }
}


export function startEdit(art) {
  if (state.turn) return;
  const m = art._msg;
  const body = art.querySelector(".msg-body");
  const box = el("div", "edit-box");
  const ta = el("textarea", "edit-input");
  ta.value = m.text || "";
  ta.rows = Math.min(12, Math.max(2, ta.value.split("\n").length));
  ta.setAttribute("aria-label", "Edit your message");
  const row = el("div", "edit-actions");
  const cancel = el("button", "btn btn-quiet", "Cancel");
  cancel.type = "button";
  const save = el("button", "btn btn-primary", "Send");
  save.type = "button";
  row.append(cancel, save);
  box.append(ta, row);
  body.hidden = true;
  art.querySelector(".msg-foot").hidden = true;
  art.insertBefore(box, body.nextSibling);
  ta.focus();
  ta.setSelectionRange(ta.value.length, ta.value.length);
  const close = () => {
    box.remove();
    body.hidden = false;
    art.querySelector(".msg-foot").hidden = false;
  };
  const submit = () => {
    const text = ta.value.trim();
    // An edit keeps the message's attachments (the new branch's message carries them too).
    const attachments = Array.isArray(m.attachments) ? m.attachments : [];
    if (!text && !attachments.length) return;
    close();
    removeFrom(art);
    const body = { message: text, conversation_id: state.currentId, parent_message_id: m.parent_id || "root", ...modelField() };
    if (attachments.length) body.attachments = attachments.map((a) => a.id);
    startTurn(body, { userText: text, attachments });
  };
  cancel.addEventListener("click", close);
  save.addEventListener("click", submit);
  ta.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      submit();
    } else if (ev.key === "Escape") {
      ev.preventDefault();
      ev.stopPropagation();
      close();
    }
  });
}


