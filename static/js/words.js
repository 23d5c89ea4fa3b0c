// Plain words for error codes and statuses, and number, cost and date formatting. No DOM.

// The page's own copy of app/messages.py (the words for each error code, and which are worth a
// retry), for errors it meets without a server answer; tests/web/test_messages.py keeps the two
// in step. `network` is the page's own.
export const ERROR_WORDS = {
  bad_request: "The request could not be accepted. Change it and try again, or reload the page.",
  bad_host: "This address is not one the server answers to. Open the chat at its usual address.",
  empty_message: "The message is empty. Type something first.",
  invalid_id: "That name or id is not valid. User names are 3 to 32 characters of a-z, 0-9, _ and -, starting with a letter or digit.",
  weak_password: "That password is too weak. Choose one of at least 12 characters that is not only spaces and has no control characters.",
  unknown_model: "The model is not known. Pick another model and try again.",
  bad_option: "An option is not accepted by this model. Remove or change it and try again.",
  bad_template: "The template has a mistake. Fix the variable it names and try again.",
  bad_attachment: "The file could not be used. Check that it is a whole image or text file and try again.",
  unsupported_input: "This model does not take images. Pick a model that does, or remove the image.",
  context_too_long: "This conversation is too long for the model. Start a new chat, or edit an earlier message.",
  unauthenticated: "You are not logged in. Log in and try again.",
  invalid_credentials: "Wrong user name or password. Check both and try again.",
  cross_site: "Requests from other sites are refused. Use the chat from its own page.",
  csrf_failed: "The page has expired. Reload it and try again.",
  signup_closed: "Creating accounts is closed on this server. Ask an administrator for an account.",
  not_found: "That conversation or message no longer exists. Pick another from the list.",
  no_turn: "No answer is being written in this conversation right now. Send a message to start one.",
  method_not_allowed: "That action is not available here. Reload the page and try again.",
  turn_in_progress: "An answer is still being written in this conversation. Wait for it to finish, or stop it.",
  history_unavailable: "This conversation's file was damaged and set aside, so its history is unavailable. Delete it to remove it from the list.",
  name_taken: "That user name is taken. Choose another one.",
  message_too_long: "The message is too long. Shorten it and try again.",
  body_too_large: "The request is too large. Send less at once.",
  unsupported_media_type: "The request was neither JSON nor a form from this site. Use the chat page.",
  rate_limited: "Too many requests right now. Wait a moment and try again.",
  budget_exceeded: "Your usage budget is used up. It resets at the start of the next period.",
  no_provider: "No model provider is configured. An administrator needs to set a provider's key (such as OPENAI_API_KEY or ANTHROPIC_API_KEY) or CHAT_PROVIDERS_FILE and restart the app.",
  storage_busy: "The server is busy saving other changes. Try again in a moment.",
  storage_full: "The server's disk is full, so this could not be saved. An administrator needs to free space.",
  internal: "Something went wrong on the server. Try again.",
  content_blocked: "The model provider refused this message. Rephrase it and try again.",
  upstream_unavailable: "The model provider could not be reached. Try again in a moment.",
  interrupted: "The answer was interrupted before it finished. Try again.",
  upstream_error: "The model provider reported an error. Try again.",
  upstream_auth: "The model provider refused the server's key. An administrator needs to check it.",
  quota_exceeded: "The model provider's quota for this server is used up. An administrator needs to check the account.",
  max_output_tokens: "The answer reached its length limit and stopped early. Continue it, or ask for less.",
  content_filter: "The model provider's content filter stopped the answer early. Rephrase the message and try again.",
  refusal: "The model declined to answer. Rephrase the message, or ask another way.",
  context_window: "The conversation filled the model's context window, so the answer stopped early. Start a new chat, or edit an earlier message.",
  reply_too_long: "The answer passed this server's length limit and was cut off. Ask for a shorter answer.",
  other: "The answer stopped early. Continue it, or try again.",
  network: "The server could not be reached. Check the connection and try again.",
};
export const RETRYABLE = new Set(["rate_limited", "storage_busy", "internal", "upstream_unavailable", "interrupted", "upstream_error", "network"]);
export const STATUS_WORDS = {
  stopped: "Stopped.",
  incomplete: "The answer stopped early",
};

// What lies behind an `upstream_unavailable` (the SSE error's `cause`, API.md "POST /chat"): a
// server error upstream is not "could not be reached", and each says what the user can do.
export const CAUSE_WORDS = {
  server_error: "The model provider had an error on its side and did not answer. Try again in a moment, or pick another model.",
  timeout: "The model provider took too long to answer. Try again in a moment, or pick another model.",
  unreachable: "The server could not connect to the model provider. Try again in a moment; if it keeps happening, an administrator needs to check the provider's address and the server's network.",
  overloaded: "The model provider is overloaded right now. Wait a minute and try again, or pick another model.",
};

// Facts of this server that some words name (set once by the page from its body's data attributes).
export const pageFacts = { maxMessageChars: null };

/** "The message is too long: the limit is 100,000 characters. …", with the numbers when known. */
export function tooLongWords(limit, length = null) {
  if (typeof limit !== "number") return ERROR_WORDS.message_too_long;
  const over = typeof length === "number" && length > limit ? length - limit : null;
  const size = typeof length === "number" ? ` (${numberFmt.format(length)} characters)` : "";
  const cut = over ? `Shorten it by ${numberFmt.format(over)} ${over === 1 ? "character" : "characters"}` : "Shorten it";
  return `The message is too long${size}: the limit is ${numberFmt.format(limit)} characters. ${cut}, or save it as a .txt file and attach it.`;
}

/** The words for an error `code` (with its `cause` when the stream gave one); `fallback` for a code the page does not know. */
export function errorWords(code, fallback, cause = null) {
  if (code === "upstream_unavailable" && CAUSE_WORDS[cause]) return CAUSE_WORDS[cause];
  if (code === "message_too_long") return tooLongWords(pageFacts.maxMessageChars);
  if (ERROR_WORDS[code]) return ERROR_WORDS[code];
  const status = /^http_(\d{3})$/.exec(code || "");
  if (status) return `The server answered with an error (HTTP ${status[1]}). Try again in a moment, or reload the page.`;
  if (code === "bad_response") return "The server's answer could not be read. Reload the page and try again.";
  if (fallback) return fallback; // the server's own words (from the same table as ERROR_WORDS)
  return "Something went wrong. Try again, or reload the page.";
}

/** Whether sending the same request again may help, for an HTTP error (`code`, `status`) before any stream. */
export function canRetry(code, status) {
  if (RETRYABLE.has(code)) return true;
  // A code the page knows says for itself (no_provider is a 503, budget_exceeded a 429: waiting does not help).
  if (ERROR_WORDS[code]) return false;
  return status === 429 || status === 502 || status === 503 || status === 504;
}

// Which `incomplete` reasons can be continued (API.md `continue_message_id`): a reply cut by a
// length limit, or for no known reason; not one the provider's filter or the model refused, nor a
// full context window (going on would fail the same way).
export const CONTINUABLE_REASONS = new Set(["max_output_tokens", "reply_too_long", "other"]);

// The status line of an `incomplete` reply, by its reason: what happened, and what the user can do.
export const INCOMPLETE_WORDS = {
  max_output_tokens: "The answer stopped early: it reached its length limit. Continue it, or ask for a shorter answer.",
  reply_too_long: "The answer stopped early: it passed this server's length limit. Continue it, or ask for a shorter answer.",
  content_filter: "The answer stopped early: the model provider's content filter stopped it. Rephrase the message and try again.",
  refusal: "The answer stopped early: the model declined to go on. Rephrase the message, or ask another way.",
  context_window: "The answer stopped early: the conversation filled the model's context window. Start a new chat, or edit an earlier message.",
  other: "The answer stopped early. Continue it, or regenerate it.",
};

/** The status line of an `incomplete` reply whose reason is `code` (API.md "Storage"). */
export function incompleteWords(code) {
  return INCOMPLETE_WORDS[code] || INCOMPLETE_WORDS.other;
}


// ---------------------------------------------------------------- providers

// Why a fallback candidate was passed over (API.md "Retries and fallback"), said of its provider:
// "Answered by <model>: <provider> was rate limited." (API.md's entries carry the code only.)
export const FALLBACK_WORDS = {
  rate_limited: "was rate limited",
  upstream_unavailable: "was unavailable",
  upstream_error: "reported an error",
  quota_exceeded: "had no quota left",
  upstream_auth: "refused the server's key",
  context_too_long: "could not hold this conversation",
  unknown_model: "did not know the model",
};

/** "alpha was rate limited" for one `fallback_from` entry {provider, model, code}. */
export function fallbackReason(entry) {
  const who = entry?.provider || entry?.model || "the provider";
  const what = FALLBACK_WORDS[entry?.code] || "failed";
  return `${who} ${what}`;
}

/** The notice on a reply that a fallback answered: "Answered by beta-mini: alpha was unavailable." */
export function fallbackNotice(model, entries) {
  const reasons = (entries || []).map(fallbackReason);
  if (!reasons.length) return "";
  return `Answered by ${model || "another model"}: ${reasons.join("; ")}.`;
}

/** The notice on a reply that failed on its last candidate, `model`, after the earlier ones. */
export function fallbackFailedNotice(model, entries) {
  const reasons = (entries || []).map(fallbackReason);
  if (!reasons.length) return "";
  return `Tried before ${model || "the last model"}: ${reasons.join("; ")}.`;
}

export const PROTOCOL_WORDS = {
  responses: "Responses API",
  chat_completions: "Chat Completions",
  anthropic: "Anthropic Messages",
  gemini: "Gemini",
  fake: "test provider",
};

export const NO_PROVIDER_PLACEHOLDER =
  "No model provider is configured, so messages cannot be sent. An administrator needs to set a provider's key (such as OPENAI_API_KEY) on the server and restart it.";

// ---------------------------------------------------------------- formatting

export const numberFmt = new Intl.NumberFormat();
export function fmtTokens(usage) {
  if (!usage) return null;
  const total = usage.total_tokens ?? (usage.input_tokens || 0) + (usage.output_tokens || 0);
  return `${numberFmt.format(total)} tokens`;
}
export function fmtCost(cost) {
  if (cost === null || cost === undefined) return "price unknown";
  if (cost === 0) return "$0";
  if (cost < 0.01) return `$${cost.toPrecision(2)}`;
  return `$${cost.toFixed(cost < 1 ? 3 : 2)}`;
}
export function usageTitle(usage) {
  if (!usage) return "";
  return [
    `input ${numberFmt.format(usage.input_tokens || 0)}`,
    `cached ${numberFmt.format(usage.cached_tokens || 0)}`,
    `output ${numberFmt.format(usage.output_tokens || 0)}`,
    `reasoning ${numberFmt.format(usage.reasoning_tokens || 0)}`,
  ].join(" · ");
}
export function fmtWhen(ts) {
  if (!ts) return "";
  const d = new Date(ts * 1000);
  const now = new Date();
  const days = Math.floor((new Date(now.toDateString()) - new Date(d.toDateString())) / 86400000);
  if (days === 0) return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  if (days === 1) return "Yesterday";
  if (days < 7) return d.toLocaleDateString([], { weekday: "long" });
  return d.toLocaleDateString();
}

const compactFmt = new Intl.NumberFormat("en", { notation: "compact", maximumFractionDigits: 1 });

/** "400K context", or "context unknown" when the window is not known. */
export function fmtContext(tokens) {
  return typeof tokens === "number" ? `${compactFmt.format(tokens)} context` : "context unknown";
}

/** A rate in USD per million tokens: "$0.25", "$15", "$0". */
export function fmtRate(usd) {
  if (typeof usd !== "number") return "?";
  if (usd === 0) return "$0";
  return usd < 1 ? `$${Number(usd.toPrecision(3))}` : `$${Number(usd.toFixed(2))}`;
}

/** "$0.25 in · $2 out per 1M tokens", or "price unknown". */
export function fmtPrice(price) {
  if (!price || typeof price !== "object") return "price unknown";
  return `${fmtRate(price.input)} in · ${fmtRate(price.output)} out per 1M tokens`;
}

/** The long form of a price for a title: every rate, the tier and where it comes from. */
export function priceTitle(price) {
  if (!price || typeof price !== "object") return "The price of this model is not known.";
  const parts = [`input ${fmtRate(price.input)}`, `output ${fmtRate(price.output)}`];
  if (typeof price.cached_input === "number") parts.push(`cached input ${fmtRate(price.cached_input)}`);
  if (typeof price.cache_write === "number") parts.push(`cache write ${fmtRate(price.cache_write)}`);
  let text = `USD per million tokens: ${parts.join(", ")}`;
  if (price.tier) text += ` (tier ${price.tier})`;
  if (price.source) text += `. Source: ${price.source}`;
  return text + ".";
}

/** "text, image", or "input unknown". */
export function fmtInput(kinds) {
  return Array.isArray(kinds) ? (kinds.length ? kinds.join(", ") : "no input kinds") : "input unknown";
}

/** "reasoning: low, medium, high", "no reasoning", or "reasoning unknown". */
export function fmtReasoning(efforts) {
  if (!Array.isArray(efforts)) return "reasoning unknown";
  return efforts.length ? `reasoning: ${efforts.join(", ")}` : "no reasoning";
}

/** "128K out" (the longest reply), or "output limit unknown". */
export function fmtMaxOutput(tokens) {
  return typeof tokens === "number" ? `${compactFmt.format(tokens)} out` : "output limit unknown";
}
