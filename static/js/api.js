// fetch() wrappers for the JSON API (API.md). Errors become ApiError with the server's code and status.

export class ApiError extends Error {
  constructor(status, code, message, retryAfter = null) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code || "http_" + status;
    this.retryAfter = retryAfter;
  }
}

function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]')?.getAttribute("content") || "";
}

function headers(extra = {}) {
  return { Accept: "application/json", "X-CSRF-Token": csrfToken(), ...extra };
}

/** Turn a non-2xx response into an ApiError (reading the JSON error body when there is one). */
export async function errorFrom(res) {
  let code = null;
  let message = null;
  try {
    const body = await res.json();
    code = body?.error?.code || null;
    message = body?.error?.message || null;
  } catch {
    /* not JSON: keep the status */
  }
  if (res.status === 401 && code !== "invalid_credentials") {
    // The session ended: the login page will bring the user back (and drafts.js stops keeping what is typed).
    window.dispatchEvent(new Event("sessionended"));
    window.location.assign("/login");
  }
  const ra = res.headers.get("Retry-After");
  return new ApiError(res.status, code, message, ra ? Number(ra) : null);
}

/** A JSON request to the API with the CSRF header; resolves to the parsed body (null for 204 or a
 * body that is not JSON), throws ApiError. */
export async function request(method, url, body) {
  const init = { method, headers: headers(), credentials: "same-origin" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(url, init);
  } catch {
    throw new ApiError(0, "network", "The server could not be reached.");
  }
  if (!res.ok) throw await errorFrom(res);
  if (res.status === 204) return null;
  const type = res.headers.get("Content-Type") || "";
  return type.includes("application/json") ? res.json() : null;
}

const enc = encodeURIComponent;

export const api = {
  listConversations: () => request("GET", "/get-all-conversations"),
  getConversation: (id) => request("GET", `/chat?conversation_id=${enc(id)}`),
  rename: (id, chatName) => request("PATCH", `/conversations/${enc(id)}`, { chat_name: chatName }),
  remove: (id) => request("DELETE", `/conversations/${enc(id)}`),
  setCurrent: (id, messageId) => request("PUT", `/conversations/${enc(id)}/current`, { message_id: messageId }),
  stop: (id) => request("POST", `/conversations/${enc(id)}/stop`, {}),
  models: () => request("GET", "/models"),
  providers: () => request("GET", "/providers"),
  refreshProviders: () => request("POST", "/providers/refresh", {}),
  changePassword: (current, fresh) =>
    request("POST", "/account/password", { current_password: current, new_password: fresh }),
  createShare: (id) => request("POST", `/conversations/${enc(id)}/share`, {}),
  listShares: (id) => request("GET", `/conversations/${enc(id)}/shares`),
  revokeShare: (shareId) => request("DELETE", `/shares/${enc(shareId)}`),

  /** POST /chat; resolves to the Response once it is known to be an event stream. */
  async chat(body, signal) {
    let res;
    try {
      res = await fetch("/chat", {
        method: "POST",
        headers: headers({ "Content-Type": "application/json", Accept: "text/event-stream" }),
        credentials: "same-origin",
        body: JSON.stringify(body),
        signal,
      });
    } catch (e) {
      if (e?.name === "AbortError") throw e;
      throw new ApiError(0, "network", "The server could not be reached.");
    }
    if (!res.ok) throw await errorFrom(res);
    if (!(res.headers.get("Content-Type") || "").includes("text/event-stream")) {
      throw new ApiError(res.status, "bad_response", "The server answered with something other than a stream.");
    }
    return res;
  },

  /** GET /conversations/ID/events, optionally after Last-Event-ID. */
  async events(id, lastEventId, signal) {
    const h = headers({ Accept: "text/event-stream" });
    if (lastEventId) h["Last-Event-ID"] = lastEventId;
    let res;
    try {
      res = await fetch(`/conversations/${enc(id)}/events`, { headers: h, credentials: "same-origin", signal });
    } catch (e) {
      if (e?.name === "AbortError") throw e;
      throw new ApiError(0, "network", "The server could not be reached.");
    }
    if (!res.ok) throw await errorFrom(res);
    return res;
  },
};
