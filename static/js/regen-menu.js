// "Regenerate with…": a one-shot model menu under a reply; the model picked writes a new answer to
// the same message (a sibling, API.md `POST /chat` regenerate with `provider`/`model`).

import { el, hooks, state } from "./dom.js";
import { ModelPicker } from "./picker.js";

let open = null; // {panel, button, close}

export function closeRegenMenu() {
  open?.close(false);
}

/** Open the menu under the reply `art`; `button` is the action that opened it (focus goes back there). */
export function openRegenMenu(art, button) {
  if (state.turn || state.providerMissing) return;
  if (!button.dataset.keepsFocus) {
    // A press on the action while its menu is open must not blur the menu first (it closes it).
    button.dataset.keepsFocus = "true";
    button.addEventListener("mousedown", (ev) => {
      if (open?.button === button) ev.preventDefault();
    });
  }
  const same = open && open.button === button;
  closeRegenMenu();
  if (same) return; // a second click on the action closes its menu
  const m = art._msg;
  const panel = el("div", "regen-panel");
  const input = el("input", "regen-input");
  input.type = "text";
  input.id = `regen-input-${m.id || "new"}`;
  input.placeholder = "Search models";
  const label = el("label", "regen-label", "Regenerate with");
  label.htmlFor = input.id;
  const listbox = el("div", "model-listbox regen-listbox");
  listbox.id = `regen-listbox-${m.id || "new"}`;
  panel.append(label, input, listbox);
  art.querySelector(".msg-foot").after(panel);

  let closed = false;
  const close = (returnFocus) => {
    if (closed) return;
    closed = true;
    if (open?.panel === panel) open = null;
    panel.remove();
    button.setAttribute("aria-expanded", "false");
    if (returnFocus && button.isConnected) button.focus();
  };
  const picker = new ModelPicker({
    input,
    listbox,
    catalogue: () => state.catalogue,
    menu: true,
    label: "Models to write a new answer with",
    onPick: (choice) => {
      close(false);
      hooks.regenerate(m, choice);
    },
    onCancel: (why) => close(why === "escape"),
  });
  picker.current = m.model ? { provider: m.provider || null, model: m.model } : null;
  open = { panel, button, close };
  button.setAttribute("aria-expanded", "true");
  input.focus();
  picker.openList("", "first");
  panel.scrollIntoView?.({ block: "nearest" });
}
