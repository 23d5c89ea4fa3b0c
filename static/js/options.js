// The model settings popover by the model picker: the per-model options the chosen model takes
// (API "Providers", Options), kept per conversation and sent as `options` with the next turn once
// changed; the "Refresh models" button; and the words for the options a reply was sent with.

import { api } from "./api.js";
import { findModel, fromProviders, loadCatalogue } from "./catalogue.js";
import { choiceValue, setCatalogue } from "./choice.js";
import { dom, el, state } from "./dom.js";
import { errorWords } from "./words.js";

const EFFORTS = ["minimal", "low", "medium", "high", "xhigh", "max"];

// Every option the contract names, in the order shown, with its control.
export const OPTIONS = [
  { name: "reasoning_effort", label: "Reasoning effort", short: "effort", kind: "choice", values: EFFORTS, reasoning: true },
  { name: "reasoning_summary", label: "Reasoning summary", short: "summary", kind: "choice", values: ["auto", "concise", "detailed", "none"], reasoning: true },
  { name: "verbosity", label: "Verbosity", short: "verbosity", kind: "choice", values: ["low", "medium", "high"] },
  { name: "temperature", label: "Temperature", short: "temperature", kind: "number", min: 0, max: 2, step: 0.1, hint: "0 to 2" },
  { name: "top_p", label: "Top-p", short: "top-p", kind: "number", min: 0, max: 1, step: 0.05, hint: "0 to 1" },
  { name: "max_output_tokens", label: "Maximum output (tokens)", short: "max output", kind: "integer", min: 1, step: 1 },
  { name: "thinking", label: "Thinking", short: "thinking", kind: "choice", values: ["on", "off", "adaptive"] },
];
const BY_NAME = Object.fromEntries(OPTIONS.map((o) => [o.name, o]));

const $ = (id) => document.getElementById(id);
const ui = {
  open: $("options-open"),
  count: $("options-count"),
  popover: $("options-popover"),
  close: $("options-close"),
  model: $("options-model"),
  fields: $("options-fields"),
  dropped: $("options-dropped"),
  reset: $("options-reset"),
  refresh: $("models-refresh"),
  refreshResult: $("models-refresh-result"),
};

// The options of the conversation on screen (or of the new chat), and whether the user changed them
// since the last turn: only then are they sent (a turn without `options` uses the conversation's).
let current = {};
let dirty = false;
let convId = null;
// Changed and not yet sent, per conversation ("" the new chat): switching away and back keeps them, as drafts.
const unsent = new Map();
const keyOf = (id) => id || "";

// The server's own cap on output (CHAT_MAX_OUTPUT_TOKENS, API "Options": the smaller of it and the model's).
const SERVER_MAX_OUTPUT = Number(dom.body.dataset.maxOutputTokens) > 0 ? Number(dom.body.dataset.maxOutputTokens) : null;

/** The largest value an option takes with this model: max_output_tokens is the model's and the server's smaller. */
function maxOf(o, info) {
  if (o.name !== "max_output_tokens") return o.max;
  const caps = [info?.max_output_tokens, SERVER_MAX_OUTPUT].filter((n) => typeof n === "number" && n > 0);
  return caps.length ? Math.min(...caps) : undefined;
}

/** "effort high · temperature 0.7": the options a reply was sent with, in the popover's order. */
export function optionsWords(options) {
  if (!options || typeof options !== "object") return "";
  const known = OPTIONS.filter((o) => options[o.name] !== undefined && options[o.name] !== null);
  const other = Object.keys(options).filter((k) => !BY_NAME[k] && typeof options[k] !== "object");
  return [...known.map((o) => `${o.short} ${options[o.name]}`), ...other.map((k) => `${k.replaceAll("_", " ")} ${options[k]}`)].join(" · ");
}

/** "temperature, top-p": the short names of dropped options. */
export function droppedWords(names) {
  if (!Array.isArray(names)) return "";
  return names.filter((n) => typeof n === "string").map((n) => BY_NAME[n]?.short || n.replaceAll("_", " ")).join(", ");
}

/** The chosen model's facts, or null when the catalogue does not list it. */
function modelInfo() {
  const c = choiceValue();
  return c ? { choice: c, info: findModel(state.catalogue, c.provider, c.model) } : { choice: null, info: null };
}

/** The options the model takes: its `options` list (null: every one), no reasoning ones when it has none. */
export function takenBy(info) {
  return OPTIONS.filter((o) => {
    if (Array.isArray(info?.options) && !info.options.includes(o.name)) return false;
    if (o.reasoning && Array.isArray(info?.reasoning) && info.reasoning.length === 0) return false;
    return true;
  });
}

function valuesFor(o, info) {
  if (o.name === "reasoning_effort" && Array.isArray(info?.reasoning) && info.reasoning.length) {
    return info.reasoning.filter((e) => typeof e === "string");
  }
  const raw = info?.option_values?.[o.name];
  const only = Array.isArray(raw) ? raw.filter((v) => typeof v === "string") : null;
  if (only && only.length) return o.values.filter((v) => only.includes(v));
  return o.values;
}

function control(o, info) {
  const id = `opt-${o.name}`;
  const row = el("div", "option-row");
  const label = el("label", "option-label", o.label);
  label.htmlFor = id;
  let input;
  if (o.kind === "choice") {
    input = el("select", "option-input");
    input.append(new Option("Default", ""));
    const values = valuesFor(o, info);
    for (const v of values) input.append(new Option(v, v));
    const have = current[o.name];
    if (have !== undefined && have !== null && !values.includes(String(have))) input.append(new Option(String(have), String(have)));
    input.value = have === undefined || have === null ? "" : String(have);
  } else {
    input = el("input", "option-input");
    input.type = "number";
    input.min = String(o.min);
    const max = maxOf(o, info);
    if (typeof max === "number") input.max = String(max);
    input.step = String(o.step);
    input.placeholder = "Default";
    input.inputMode = o.kind === "integer" ? "numeric" : "decimal";
    const have = current[o.name];
    input.value = have === undefined || have === null ? "" : String(have);
  }
  input.id = id;
  input.name = o.name;
  const outMax = maxOf(o, info);
  const hintText = o.name === "max_output_tokens" ? (typeof outMax === "number" ? `1 to ${outMax}` : "1 or more") : o.hint;
  const error = el("span", "option-error");
  error.hidden = true;
  if (hintText) {
    const hint = el("span", "option-hint", hintText);
    hint.id = `${id}-hint`;
    input.setAttribute("aria-describedby", hint.id);
    row.append(label, input, hint, error);
  } else {
    row.append(label, input, error);
  }
  input.addEventListener("change", () => take(o, input, error, info));
  return row;
}

function take(o, input, error, info) {
  const raw = input.value.trim();
  error.hidden = true;
  input.removeAttribute("aria-invalid");
  if (raw === "") {
    delete current[o.name];
  } else if (o.kind === "choice") {
    current[o.name] = raw;
  } else {
    const n = Number(raw);
    const max = maxOf(o, info);
    const bad = !Number.isFinite(n) || n < o.min || (typeof max === "number" && n > max) || (o.kind === "integer" && !Number.isInteger(n));
    if (bad) {
      error.textContent = `Not accepted: ${o.kind === "integer" ? "a whole number" : "a number"} ${typeof max === "number" ? `from ${o.min} to ${max}` : `of ${o.min} or more`}.`;
      error.hidden = false;
      input.setAttribute("aria-invalid", "true");
      return;
    }
    current[o.name] = n;
  }
  dirty = true;
  showCount();
}

function render() {
  const { choice, info } = modelInfo();
  const shown = takenBy(info);
  ui.model.textContent = choice
    ? `${choice.provider ? `${choice.provider} · ` : ""}${choice.model}${info ? "" : " (not listed: every option is offered, the provider decides)"}`
    : "No model chosen.";
  ui.fields.replaceChildren(...shown.map((o) => control(o, info)));
  if (!shown.length) ui.fields.append(el("p", "field-hint", "This model takes none of these options."));
  const names = new Set(shown.map((o) => o.name));
  const left = Object.keys(current).filter((k) => !names.has(k));
  ui.dropped.textContent = left.length ? `Not taken by this model, so not sent: ${droppedWords(left)}.` : "";
  ui.dropped.hidden = !left.length;
}

function showCount() {
  const n = Object.keys(current).length;
  ui.count.textContent = n ? String(n) : "";
  ui.count.hidden = !n;
  ui.open.title = n ? `Model settings: ${optionsWords(current)}` : "Model settings: reasoning effort, temperature and more";
}

function isOpen() {
  return !ui.popover.hidden;
}

// The popover opens upwards from the composer: it may take only the room above it (a phone, a tall draft),
// and scrolls inside beyond that. The CSSOM is allowed by the CSP; a style attribute would not be.
function fitPopover() {
  ui.popover.style.maxHeight = "";
  const bottom = ui.popover.getBoundingClientRect().bottom;
  const room = Math.floor(bottom - 8);
  const css = parseFloat(getComputedStyle(ui.popover).maxHeight) || Infinity;
  ui.popover.style.maxHeight = `${Math.max(120, Math.min(css, room))}px`;
}

function openPopover() {
  render();
  ui.popover.hidden = false;
  fitPopover();
  ui.open.setAttribute("aria-expanded", "true");
  (ui.fields.querySelector("select, input") || ui.close).focus();
}

function closePopover(focusBack = true) {
  if (!isOpen()) return;
  ui.popover.hidden = true;
  ui.open.setAttribute("aria-expanded", "false");
  if (focusBack) ui.open.focus();
}

/** Show the options of a conversation (GET /chat `options`), or none for a new chat. */
export function showOptions(conv) {
  const id = conv?.conversation_id || null;
  if (id === convId && dirty) return; // the same conversation reloaded after a turn: keep unsent changes
  if (id !== convId && dirty) unsent.set(keyOf(convId), { ...current });
  convId = id;
  const kept = unsent.get(keyOf(id));
  current = kept ? { ...kept } : conv?.options && typeof conv.options === "object" ? { ...conv.options } : {};
  dirty = Boolean(kept);
  showCount();
  if (isOpen()) render();
}

/** The `options` field of the next turn: only when changed, and only what the chosen model takes. */
export function optionsField() {
  if (!dirty) return {};
  const names = new Set(takenBy(modelInfo().info).map((o) => o.name));
  const options = Object.fromEntries(Object.entries(current).filter(([k]) => names.has(k)));
  return { options };
}

/** A turn was accepted with the options sent: they are the conversation's now. */
export function optionsSent(conversationId) {
  unsent.delete(keyOf(conversationId));
  if (keyOf(conversationId) === keyOf(convId)) dirty = false; // the user may have moved on: theirs stay unsent
}

async function refreshModels() {
  ui.refresh.disabled = true;
  ui.refreshResult.hidden = false;
  ui.refreshResult.className = "field-hint";
  ui.refreshResult.textContent = "Reading the providers' model lists…";
  try {
    const doc = await api.refreshProviders();
    const cat = doc && Array.isArray(doc.providers) ? fromProviders(doc) : await loadCatalogue();
    if (cat) setCatalogue(cat);
    const n = (cat?.providers || []).reduce((sum, p) => sum + p.models.length, 0);
    const unlisted = (doc?.warnings || [])
      .filter((w) => w?.code === "default_not_listed")
      .map((w) => `${w.provider}'s default model ${w.model} is no longer listed: new chats with it will be refused.`);
    ui.refreshResult.textContent = [`Models refreshed: ${n} listed.`, ...unlisted].join(" ");
    render();
  } catch (e) {
    ui.refreshResult.className = "field-hint result-error";
    ui.refreshResult.textContent = `The models could not be refreshed. ${errorWords(e.code, e.message)}`;
  } finally {
    ui.refresh.disabled = false;
  }
}

export function initOptions() {
  if (!ui.popover) return;
  ui.open.addEventListener("click", () => (isOpen() ? closePopover() : openPopover()));
  ui.close.addEventListener("click", () => closePopover());
  ui.reset.addEventListener("click", () => {
    current = {};
    dirty = true;
    showCount();
    render();
  });
  ui.refresh.addEventListener("click", refreshModels);
  ui.popover.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") {
      ev.preventDefault();
      ev.stopPropagation();
      closePopover();
    }
  });
  document.addEventListener("mousedown", (ev) => {
    if (isOpen() && ev.target instanceof Node && !ui.popover.contains(ev.target) && !ui.open.contains(ev.target)) closePopover(false);
  });
  dom.model.addEventListener("choice", () => {
    if (isOpen()) render();
  });
  window.addEventListener("resize", () => {
    if (isOpen()) fitPopover();
  });
  showCount();
}
