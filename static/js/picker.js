// The model picker: a combobox over a listbox of models grouped by provider (the WAI-ARIA combobox
// pattern with list autocomplete). Typing filters; ArrowDown/ArrowUp move; Enter picks; Escape closes
// (or gives the menu up); a name typed that no provider lists is offered as is. Everything shown
// comes from the catalogue (catalogue.js) and reaches the DOM as text nodes only.

import { el } from "./dom.js";
import { findModel, resolveText } from "./catalogue.js";
import {
  PROTOCOL_WORDS,
  fmtContext,
  fmtInput,
  fmtMaxOutput,
  fmtPrice,
  fmtReasoning,
  priceTitle,
} from "./words.js";

let pickers = 0;

/** The facts shown under a model's name (context window, price, capabilities; "unknown" where null). */
export function modelFacts(info) {
  return [
    fmtContext(info?.context_window ?? null),
    fmtMaxOutput(info?.max_output_tokens ?? null),
    fmtPrice(info?.price ?? null),
    fmtInput(info?.input ?? null),
    fmtReasoning(info?.reasoning ?? null),
  ];
}

function matches(words, provider, model) {
  const hay = `${provider} ${model}`.toLowerCase();
  return words.every((w) => hay.includes(w));
}

export class ModelPicker {
  /**
   * input: the combobox <input>; listbox: an element to fill (role=listbox); badge: an element
   * showing the chosen provider; catalogue(): the current catalogue; onPick(choice): a choice was
   * made; onCancel("escape" | "blur"): a menu was given up; menu: the picker is a one-shot menu (Regenerate with…).
   */
  constructor({ input, listbox, badge = null, toggle = null, catalogue, onPick = null, onCancel = null, menu = false, label = "Models" }) {
    this.input = input;
    this.listbox = listbox;
    this.badge = badge;
    this.toggle = toggle;
    this.catalogue = catalogue;
    this.onPick = onPick;
    this.onCancel = onCancel;
    this.menu = menu;
    this.prefix = `picker${++pickers}`;
    this.current = null; // {provider, model}: the committed choice
    this.options = []; // [{el, provider, model}]
    this.active = -1;
    this.filter = "";

    if (!listbox.id) listbox.id = `${this.prefix}-listbox`;
    listbox.setAttribute("role", "listbox");
    listbox.setAttribute("aria-label", label);
    listbox.hidden = true;
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", listbox.id);
    input.setAttribute("autocomplete", "off");
    input.spellcheck = false;

    input.addEventListener("keydown", (ev) => this.onKey(ev));
    input.addEventListener("input", () => this.openList(this.input.value, "first"));
    input.addEventListener("click", () => {
      if (!this.isOpen()) this.openList("", "current");
    });
    input.addEventListener("blur", () => this.onBlur());
    // Keep the focus in the input while a pointer picks an option.
    listbox.addEventListener("mousedown", (ev) => ev.preventDefault());
    listbox.addEventListener("click", (ev) => {
      const opt = ev.target instanceof Element ? ev.target.closest("[role=option]") : null;
      const i = opt ? this.options.findIndex((o) => o.el === opt) : -1;
      if (i >= 0) this.pick(this.options[i]);
    });
    if (toggle) {
      toggle.setAttribute("aria-controls", listbox.id);
      toggle.addEventListener("mousedown", (ev) => ev.preventDefault());
      toggle.addEventListener("click", () => {
        if (this.isOpen()) this.closeList();
        else {
          this.input.focus();
          this.openList("", "current");
        }
      });
    }
  }

  isOpen() {
    return !this.listbox.hidden;
  }

  /** Show a choice without picking it (a conversation was opened, a new chat started). */
  set(choice) {
    this.current = choice && choice.model ? { provider: choice.provider || null, model: choice.model } : null;
    this.input.value = this.current?.model || "";
    this.showBadge();
    this.changed();
  }

  /** Tell listeners (the settings popover, the composer's note) that the choice may have changed. */
  changed() {
    this.input.dispatchEvent(new CustomEvent("choice", { detail: this.current }));
  }

  /** The choice the input names now: the committed one, or what its text resolves to. */
  value() {
    const text = this.input.value.trim();
    if (!text) return null;
    if (this.current && text === this.current.model) return this.current;
    return resolveText(this.catalogue(), text, this.current?.provider || this.catalogue()?.default?.provider || null);
  }

  showBadge() {
    if (!this.badge) return;
    const p = this.current?.provider || "";
    this.badge.textContent = p;
    this.badge.hidden = !p;
  }

  setEnabled(on) {
    this.input.disabled = !on;
    if (this.toggle) this.toggle.disabled = !on;
    if (!on) this.closeList();
  }

  openList(filter, activate = null) {
    this.filter = (filter || "").trim();
    this.render();
    this.listbox.hidden = false;
    this.input.setAttribute("aria-expanded", "true");
    if (this.toggle) this.toggle.setAttribute("aria-expanded", "true");
    let i = -1;
    if (activate === "first") i = this.options.length ? 0 : -1;
    else if (activate === "last") i = this.options.length - 1;
    else if (activate === "current" && this.current) {
      i = this.options.findIndex((o) => o.provider === this.current.provider && o.model === this.current.model);
    }
    this.setActive(i);
  }

  closeList() {
    this.listbox.hidden = true;
    this.input.setAttribute("aria-expanded", "false");
    if (this.toggle) this.toggle.setAttribute("aria-expanded", "false");
    this.setActive(-1);
  }

  setActive(i) {
    if (this.active >= 0 && this.options[this.active]) {
      this.options[this.active].el.classList.remove("active");
      this.options[this.active].el.setAttribute("aria-selected", "false");
    }
    this.active = i;
    const o = this.options[i];
    if (o) {
      o.el.classList.add("active");
      o.el.setAttribute("aria-selected", "true");
      this.input.setAttribute("aria-activedescendant", o.el.id);
      o.el.scrollIntoView?.({ block: "nearest" });
    } else {
      this.input.removeAttribute("aria-activedescendant");
    }
  }

  move(delta) {
    if (!this.isOpen()) {
      this.openList("", delta > 0 ? (this.current ? "current" : "first") : "last");
      return;
    }
    const n = this.options.length;
    if (!n) return;
    let i = this.active + delta;
    if (this.active < 0) i = delta > 0 ? 0 : n - 1;
    this.setActive(((i % n) + n) % n);
  }

  onKey(ev) {
    if (ev.isComposing) return;
    if (ev.key === "ArrowDown") {
      ev.preventDefault();
      if (ev.altKey) this.openList("", "current");
      else this.move(1);
    } else if (ev.key === "ArrowUp") {
      ev.preventDefault();
      this.move(-1);
    } else if (ev.key === "Enter") {
      if (!this.isOpen() && !this.menu) return; // the form's own Enter
      ev.preventDefault();
      const o = this.options[this.active];
      if (o) this.pick(o);
      else this.pickText();
    } else if (ev.key === "Escape") {
      if (this.isOpen() && !this.menu) {
        ev.preventDefault();
        ev.stopPropagation();
        this.closeList();
        this.set(this.current); // back to the committed choice
      } else if (this.menu) {
        ev.preventDefault();
        ev.stopPropagation();
        this.closeList();
        this.onCancel?.("escape");
      }
    } else if (ev.key === "Tab" && this.isOpen()) {
      this.closeList();
    }
  }

  onBlur() {
    this.closeList();
    if (this.menu) {
      this.onCancel?.("blur");
      return;
    }
    // A name typed and left is the choice (as the old free-text field was), without a pick event.
    const v = this.value();
    if (v && /\s/.test(v.model)) {
      this.set(this.current); // a search left half-done is not a model's name
    } else if (v && (!this.current || v.provider !== this.current.provider || v.model !== this.current.model)) {
      this.current = v;
      this.input.value = v.model;
      this.showBadge();
      this.changed();
    } else if (!v) {
      this.set(this.current);
    }
  }

  pickText() {
    const v = this.value();
    if (v && !/\s/.test(v.model)) this.commit(v);
    else {
      this.closeList();
      if (!this.menu) this.set(this.current);
    }
  }

  pick(option) {
    this.commit({ provider: option.provider, model: option.model });
  }

  commit(choice) {
    this.closeList();
    if (!this.menu) this.set(choice);
    this.onPick?.(choice);
  }

  render() {
    const cat = this.catalogue();
    const words = this.filter.toLowerCase().split(/\s+/).filter(Boolean);
    const nodes = [];
    this.options = [];
    this.active = -1;
    let exact = false;
    // A name with a space is a search, never a model id: it is not offered as typed.
    const typed = this.filter && !/\s/.test(this.filter) ? resolveText(cat, this.filter, this.current?.provider || cat?.default?.provider || null) : null;
    for (const p of cat?.providers || []) {
      const shown = p.models.filter((m) => !words.length || matches(words, p.name, m.id));
      if (words.length && !shown.length && !matches(words, p.name, "")) continue;
      const group = el("div", "model-group");
      group.setAttribute("role", "group");
      const labelId = `${this.prefix}-g-${nodes.length}`;
      group.setAttribute("aria-labelledby", labelId);
      const head = el("div", "model-group-label");
      head.id = labelId;
      head.setAttribute("role", "presentation");
      head.append(el("span", "model-group-name", p.name));
      const about = [PROTOCOL_WORDS[p.protocol] || p.protocol, p.stateful ? "keeps state" : null].filter(Boolean);
      if (p.fallback.length) about.push(`falls back to ${p.fallback.map((f) => `${f.provider}:${f.model}`).join(", ")}`);
      if (about.length) head.append(el("span", "model-group-about", about.join(" · ")));
      group.append(head);
      for (const m of shown) {
        if (typed && typed.provider === p.name && typed.model === m.id) exact = true;
        group.append(this.option(p.name, m));
      }
      if (!p.models.length) group.append(el("div", "model-none", "No models listed: type a model's name."));
      nodes.push(group);
    }
    if (typed && !exact) {
      const group = el("div", "model-group model-group-typed");
      group.setAttribute("role", "group");
      group.setAttribute("aria-label", "As typed");
      group.append(this.option(typed.provider, { id: typed.model }, true));
      nodes.push(group);
    }
    if (!nodes.length) nodes.push(el("div", "model-none", "No provider is configured."));
    this.listbox.replaceChildren(...nodes);
  }

  option(provider, m, typed = false) {
    const o = el("div", typed ? "model-option typed" : "model-option");
    o.setAttribute("role", "option");
    o.setAttribute("aria-selected", "false");
    o.id = `${this.prefix}-o-${this.options.length}`;
    o.dataset.provider = provider || "";
    o.dataset.model = m.id;
    const isCurrent = this.current && this.current.provider === provider && this.current.model === m.id;
    if (isCurrent) o.classList.add("current");
    const name = el("span", "model-option-name");
    if (typed) {
      name.append("Use “", el("strong", null, m.id), provider ? `” with ${provider}` : "”");
    } else {
      name.append(el("span", "model-id", m.id));
      if (isCurrent) name.append(el("span", "model-current", this.menu ? " (answered)" : " (in use)"));
    }
    o.append(name);
    const info = typed ? findModel(this.catalogue(), provider, m.id) : m;
    const facts = el("span", "model-facts", typed && !info ? "not listed by the provider: the server will ask it" : modelFacts(info).join(" · "));
    if (!typed || info) facts.title = priceTitle(info?.price ?? null);
    o.append(facts);
    this.options.push({ el: o, provider, model: m.id });
    return o;
  }
}
