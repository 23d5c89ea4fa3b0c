// Notices: the live status line for screen readers, banners over the conversation, the confirm dialog.

import { dom, el } from "./dom.js";

export function announce(text) {
  dom.status.textContent = "";
  // A fresh text node so screen readers announce repeats too.
  requestAnimationFrame(() => {
    dom.status.textContent = text;
  });
}

export function showBanner(text, { retry = null, kind = "error" } = {}) {
  const box = el("div", `banner banner-${kind}`);
  box.setAttribute("role", kind === "error" ? "alert" : "status");
  box.append(el("span", "banner-text", text));
  if (retry) {
    const b = el("button", "btn btn-small", "Retry");
    b.type = "button";
    b.addEventListener("click", () => {
      box.remove();
      retry();
    });
    box.append(b);
  }
  const x = el("button", "icon-btn banner-close", "×");
  x.type = "button";
  x.setAttribute("aria-label", "Dismiss");
  x.addEventListener("click", () => box.remove());
  box.append(x);
  dom.notices.append(box);
  return box;
}

export function clearBanners() {
  dom.notices.replaceChildren();
}

export function confirmDialog(text, okLabel) {
  return new Promise((resolve) => {
    dom.dialogText.textContent = text;
    dom.dialogOk.textContent = okLabel;
    const close = (v) => {
      dom.dialogOk.removeEventListener("click", ok);
      dom.dialogCancel.removeEventListener("click", cancel);
      dom.dialog.removeEventListener("cancel", cancel);
      if (dom.dialog.open) dom.dialog.close();
      resolve(v);
    };
    const ok = () => close(true);
    const cancel = (ev) => {
      ev?.preventDefault?.();
      close(false);
    };
    dom.dialogOk.addEventListener("click", ok);
    dom.dialogCancel.addEventListener("click", cancel);
    dom.dialog.addEventListener("cancel", cancel);
    dom.dialog.showModal();
    dom.dialogCancel.focus();
  });
}

/**
 * Open a modal panel (a <dialog>): focus `focus` inside it, close on [data-close], Esc or a click on the
 * backdrop, and give focus back to `opener` when it closes.
 */
export function openPanel(dialog, { opener = null, focus = null } = {}) {
  if (!dialog.dataset.bound) {
    dialog.dataset.bound = "true";
    for (const b of dialog.querySelectorAll("[data-close]")) b.addEventListener("click", () => dialog.close());
    // The panel's content fills the dialog box, so a click on the dialog element itself is on the backdrop.
    dialog.addEventListener("click", (ev) => {
      if (ev.target === dialog) dialog.close();
    });
    dialog.addEventListener("close", () => dialog._opener?.focus());
  }
  dialog._opener = opener;
  if (!dialog.open) dialog.showModal();
  (focus || dialog.querySelector("input, button"))?.focus();
}
