// The composer's model choice: the picker under the message box, fed by the catalogue, and the
// `provider`/`model` fields a turn sends.

import { loadCatalogue } from "./catalogue.js";
import { dom, state } from "./dom.js";
import { ModelPicker } from "./picker.js";

let picker = null;

/** The default choice of a new conversation: the server's default, else the page's default model. */
export function defaultChoice() {
  const d = state.catalogue?.default;
  if (d) return d;
  return state.defaultModel ? { provider: state.defaultProvider || null, model: state.defaultModel } : null;
}

/** Show `choice` ({provider, model}) in the composer (a conversation opened, a new chat). */
export function showChoice(choice) {
  if (!picker) return;
  picker.set(choice && choice.model ? choice : defaultChoice());
}

/** The fields a turn sends for the composer's choice: {provider?, model?}. */
export function choiceFields() {
  const v = picker?.value();
  return fieldsOf(v);
}

/** The composer's choice now ({provider, model}), or null. */
export function choiceValue() {
  return picker?.value() || null;
}

export function fieldsOf(v) {
  if (!v || !v.model) return {};
  return v.provider ? { provider: v.provider, model: v.model } : { model: v.model };
}

export function setChoiceEnabled(on) {
  picker?.setEnabled(on);
}

/** Build the picker, then load the catalogue; resolves once the picker shows real data. */
export async function initChoice() {
  picker = new ModelPicker({
    input: dom.model,
    listbox: dom.modelList,
    badge: dom.modelProvider,
    toggle: dom.modelToggle,
    catalogue: () => state.catalogue,
    label: "Models by provider",
  });
  picker.set(defaultChoice());
  const cat = await loadCatalogue();
  if (!cat) return;
  state.catalogue = cat;
  if (!cat.providers.length) state.providerMissing = true;
  // The conversation on screen may have loaded first: keep its model, learn its provider.
  const shown = state.conv ? { provider: state.conv.provider || null, model: state.conv.model } : null;
  const typed = dom.model.value.trim();
  if (shown?.model) picker.set(shown);
  else if (!typed || typed === state.defaultModel) picker.set(defaultChoice());
  else picker.changed(); // what is known of the model typed has arrived
}

/** Take a fresh catalogue (the models were refreshed); the choice stays. */
export function setCatalogue(cat) {
  state.catalogue = cat;
  picker?.changed();
}
