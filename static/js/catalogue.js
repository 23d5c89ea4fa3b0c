// The providers and models the server offers (GET /providers, API.md "Providers"), normalised for the
// picker; GET /models (its short form) when /providers is not there. No DOM.

import { api } from "./api.js";

const str = (v) => (typeof v === "string" && v ? v : null);
const num = (v) => (typeof v === "number" && Number.isFinite(v) ? v : null);
const list = (v) => (Array.isArray(v) ? v.filter((x) => typeof x === "string") : null);

function normaliseModel(m) {
  if (typeof m === "string") m = { id: m };
  const id = str(m?.id) || str(m?.name);
  if (!id) return null;
  return {
    id,
    context_window: num(m.context_window),
    max_output_tokens: num(m.max_output_tokens),
    input: list(m.input),
    reasoning: list(m.reasoning),
    options: list(m.options),
    // {option: [values]} for a choice the model takes only in part (o4-mini's summaries, ...).
    option_values: m.option_values && typeof m.option_values === "object" ? m.option_values : null,
    listed: typeof m.listed === "boolean" ? m.listed : null, // false: its cached list lacks it
    price: m.price && typeof m.price === "object" ? m.price : null,
  };
}

function normaliseProvider(p) {
  const name = str(p?.name);
  if (!name) return null;
  const seen = new Set();
  const models = [];
  for (const raw of Array.isArray(p.models) ? p.models : []) {
    const m = normaliseModel(raw);
    if (m && !seen.has(m.id)) {
      seen.add(m.id);
      models.push(m);
    }
  }
  const fallback = (Array.isArray(p.fallback) ? p.fallback : [])
    .filter((f) => str(f?.provider) && str(f?.model))
    .map((f) => ({ provider: f.provider, model: f.model }));
  return { name, protocol: str(p.protocol), stateful: p.stateful === true, models, fallback };
}

/** A catalogue from a GET /providers answer. */
export function fromProviders(data) {
  const providers = (Array.isArray(data?.providers) ? data.providers : []).map(normaliseProvider).filter(Boolean);
  const d = data?.default;
  const def = d && str(d.provider) && str(d.model) ? { provider: d.provider, model: d.model } : null;
  return { default: def, providers };
}

/** A catalogue from the short form, GET /models: {default, models, providers: [names]}. */
export function fromModels(data) {
  const names = (Array.isArray(data?.providers) ? data.providers : [])
    .map((p) => (typeof p === "string" ? p : str(p?.name)))
    .filter(Boolean);
  if (!names.length) return { default: null, providers: [] };
  const provider = normaliseProvider({ name: names[0], models: data?.models || [] });
  const rest = names.slice(1).map((name) => normaliseProvider({ name, models: [] }));
  const model = str(data?.default) || provider.models[0]?.id || null;
  return { default: model ? { provider: names[0], model } : null, providers: [provider, ...rest] };
}

/** Load the catalogue: /providers, else /models; null when neither answers. */
export async function loadCatalogue() {
  try {
    return fromProviders(await api.providers());
  } catch (e) {
    if (e?.status !== 404) return null;
  }
  try {
    return fromModels(await api.models());
  } catch {
    return null;
  }
}

export function findProvider(catalogue, name) {
  return catalogue?.providers.find((p) => p.name === name) || null;
}

/** What is known of provider:model, or null when the catalogue does not list it. */
export function findModel(catalogue, provider, model) {
  return findProvider(catalogue, provider)?.models.find((m) => m.id === model) || null;
}

/**
 * The choice a typed text names: "provider:model" when the part before the first colon is a
 * configured provider, else a model listed under `current`'s provider, else the first provider
 * that lists it, else that model with the current provider (the server decides whether it exists).
 */
export function resolveText(catalogue, text, currentProvider) {
  const t = (text || "").trim();
  if (!t) return null;
  const colon = t.indexOf(":");
  if (colon > 0 && findProvider(catalogue, t.slice(0, colon)) && t.slice(colon + 1)) {
    return { provider: t.slice(0, colon), model: t.slice(colon + 1) };
  }
  if (currentProvider && findModel(catalogue, currentProvider, t)) return { provider: currentProvider, model: t };
  for (const p of catalogue?.providers || []) {
    if (p.models.some((m) => m.id === t)) return { provider: p.name, model: t };
  }
  return { provider: currentProvider || null, model: t };
}
