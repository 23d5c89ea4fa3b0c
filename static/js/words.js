// Plain words for error codes and statuses, and number, cost and date formatting. No DOM.

export const ERROR_WORDS = {
  rate_limited: "The model service is busy right now (rate limited). Try again in a moment.",
  upstream_unavailable: "The model service could not be reached.",
  interrupted: "The answer was interrupted before it finished.",
  upstream_error: "The model service reported an error while answering.",
  upstream_auth: "The model service refused the server's API key. An administrator needs to check OPENAI_API_KEY.",
  quota_exceeded: "The model service account has run out of quota.",
  context_too_long: "This conversation is too long for the model. Start a new chat, or edit an earlier message.",
  unknown_model: "The model service does not know this model. Pick another model and try again.",
  bad_request: "The model service refused the request.",
  storage_full: "The server's disk is full, so the answer could not be saved.",
  storage_busy: "The server is busy saving other changes. Try again in a moment.",
  internal: "Something went wrong on the server.",
  no_provider: "No model provider is configured. Set OPENAI_API_KEY (and optionally OPENAI_BASE_URL) and restart the app.",
  turn_in_progress: "An answer is still being written in this conversation.",
  history_unavailable: "This conversation's history is not available.",
  message_too_long: "The message is too long.",
  body_too_large: "The message is too long.",
  empty_message: "The message is empty.",
  budget_exceeded: "The usage budget has been reached.",
  network: "The server could not be reached. Check the connection.",
  not_found: "That conversation or message no longer exists.",
  no_turn: "No answer is being written right now.",
};
export const RETRYABLE = new Set(["rate_limited", "upstream_unavailable", "interrupted", "upstream_error", "storage_busy", "network", "internal"]);
export const STATUS_WORDS = {
  stopped: "Stopped.",
  incomplete: "The answer stopped early",
};

export function errorWords(code, fallback) {
  return ERROR_WORDS[code] || fallback || "Something went wrong.";
}


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
