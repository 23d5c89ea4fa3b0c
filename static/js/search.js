// Search in the sidebar: the filter box also asks GET /search (debounced) and lists the messages
// found under the conversation list; a click opens the conversation on the hit's branch and
// jumps to the message. Snippets reach the DOM as text nodes and <mark> elements only.

import { api, errorFrom } from "./api.js";
import { setSidebar } from "./conversations.js";
import { dom, el, hooks, isPhone, state } from "./dom.js";
import { showBanner } from "./notices.js";
import { errorWords, fmtWhen } from "./words.js";

const DEBOUNCE_MS = 250;
const FLASH_MS = 2500;
// Scripts written without spaces: one character already says something.
const NO_SPACE = /[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]/;

let section = null;
let results = null;
let status = null;
let timer = null;
let seq = 0;
let inFlight = null;

/** Build the results section under the conversation list (once). */
function ensureSection() {
  if (section) return;
  section = el("section", "search-results");
  section.id = "search-results";
  section.setAttribute("aria-label", "Messages found");
  section.hidden = true;
  const head = el("h2", "search-head", "In messages");
  status = el("p", "search-status");
  status.setAttribute("role", "status");
  results = el("ul", "search-list");
  section.append(head, status, results);
  dom.list.closest("nav").append(section);
}

/** The snippet as text nodes with <mark> around each highlight (offsets are code points). */
export function snippetNodes(snippet, highlights) {
  const chars = Array.from(snippet || "");
  const nodes = [];
  let at = 0;
  for (const [start, end] of highlights || []) {
    if (!(start >= at && end > start && end <= chars.length)) continue;
    if (start > at) nodes.push(document.createTextNode(chars.slice(at, start).join("")));
    const mark = document.createElement("mark");
    mark.textContent = chars.slice(start, end).join("");
    nodes.push(mark);
    at = end;
  }
  if (at < chars.length) nodes.push(document.createTextNode(chars.slice(at).join("")));
  return nodes;
}

function hitItem(hit) {
  const li = el("li", "search-hit");
  const open = el("button", "search-open");
  open.type = "button";
  open.dataset.conversationId = hit.conversation_id;
  if (hit.message_id) open.dataset.messageId = hit.message_id;
  const name = el("span", "search-name", hit.chat_name || "Untitled");
  const who = hit.message_id ? (hit.role === "user" ? "You" : "Assistant") : "Title";
  const meta = el("span", "search-meta", `${who} · ${fmtWhen(hit.timestamp)}`);
  const text = el("span", "search-snippet");
  text.append(...snippetNodes(hit.snippet, hit.highlights));
  open.append(name, text, meta);
  open.addEventListener("click", () => jumpTo(hit));
  li.append(open);
  return li;
}

/** Words for a refused query: the server's detail says what was wrong ("a quotation mark is not
 * closed"); the generic words only when it sent none. */
export function refusedWords(message) {
  const detail = /\(([^()]+)\)\s*$/.exec(message || "");
  if (detail) return `This search cannot be run: ${detail[1]}.`;
  return message || "This search cannot be run; check its quotation marks.";
}

function searchable(q) {
  return q.length >= 2 || NO_SPACE.test(q);
}

async function run(q) {
  const mine = ++seq;
  inFlight?.abort();
  inFlight = new AbortController();
  let data;
  try {
    const res = await fetch(`/search?${new URLSearchParams({ q, limit: "20" })}`, {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
      signal: inFlight.signal,
    });
    if (!res.ok) throw await errorFrom(res);
    data = await res.json();
  } catch (e) {
    if (e.name === "AbortError" || mine !== seq) return;
    results.replaceChildren();
    status.textContent = e.code === "bad_request" ? refusedWords(e.message) : errorWords(e.code, e.message);
    section.hidden = false;
    return;
  }
  if (mine !== seq) return;
  const hits = (data?.results || []).filter((h) => h.message_id);
  results.replaceChildren(...hits.map(hitItem));
  status.textContent = hits.length ? `${hits.length} ${hits.length === 1 ? "message" : "messages"} found.` : "No message matches.";
  section.hidden = false;
}

/** Called on every input in the filter box: the title filter is immediate, the search debounced. */
export function onFilterInput() {
  ensureSection();
  clearTimeout(timer);
  const q = dom.filter.value.trim();
  if (!searchable(q)) {
    seq++;
    inFlight?.abort();
    section.hidden = true;
    results.replaceChildren();
    return;
  }
  timer = setTimeout(() => run(q), DEBOUNCE_MS);
}

/** Open the hit's conversation on the hit's branch and bring the message into view. */
export async function jumpTo(hit) {
  const { conversation_id: id, message_id: mid } = hit;
  if (isPhone()) setSidebar(false);
  if (!mid) {
    await hooks.openConversation(id);
    return;
  }
  const onScreen = () => (state.conv?.messages || []).some((m) => m.id === mid);
  if (!(state.currentId === id && onScreen())) {
    try {
      const conv = await api.getConversation(id);
      if (!(conv.messages || []).some((m) => m.id === mid)) {
        // The hit is on another branch: show that branch first (API "Search").
        await api.setCurrent(id, mid);
      }
    } catch (e) {
      showBanner(errorWords(e.code, e.message));
      return;
    }
    // Reload it even when it is on screen (another branch), unless its turn is running there.
    if (state.currentId === id && state.turn?.conversationId !== id) state.currentId = null;
    await hooks.openConversation(id);
  }
  flash(mid);
}

function flash(mid) {
  const node = dom.messages.querySelector(`[data-id="${CSS.escape(mid)}"]`);
  if (!node) return;
  node.scrollIntoView({ block: "center" });
  node.classList.remove("search-target");
  void node.offsetWidth; // restart the animation when the same message is found twice
  node.classList.add("search-target");
  if (!node.hasAttribute("tabindex")) node.setAttribute("tabindex", "-1");
  node.focus({ preventScroll: true });
  setTimeout(() => node.classList.remove("search-target"), FLASH_MS);
}

export function initSearch() {
  ensureSection();
  dom.filter.placeholder = "Search conversations";
  const label = document.querySelector('label[for="filter"]');
  if (label) label.textContent = "Search conversation names and messages";
  dom.filter.addEventListener("input", onFilterInput);
}
