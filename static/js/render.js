// Model text -> Markdown (with math, footnotes and task lists) -> sanitized DOM. The whole text is re-rendered on
// every update: never a raw chunk appended, never innerHTML. Uses the vendored globals marked and hljs (classic
// scripts); the sanitiser is sanitize.js, math is math.js (KaTeX), footnotes footnotes.js.

import { footnoteExtension, linkFootnotes } from "./footnotes.js";
import { layoutMath, mathExtension } from "./math.js";
import { escapeHtml, isSafeImageUrl, sanitizeHtml } from "./sanitize.js";
import { readEventStream } from "./sse.js";
import { markWideBlocks } from "./wide-blocks.js";

export { isSafeImageUrl };

const marked = window.marked;
const hljs = window.hljs;
if (hljs) hljs.configure({ ignoreUnescapedHTML: true });

function blockedImageNote(img) {
  const span = document.createElement("span");
  span.className = "blocked-image-note";
  const alt = img.getAttribute("alt");
  span.textContent = alt ? `[image not loaded: ${alt}]` : "[image from another site not loaded]";
  span.title = "Images from other sites are not loaded, so a reply cannot leak data through them.";
  return span;
}

function decorateCodeBlock(pre) {
  const code = pre.querySelector("code");
  if (!code) return;
  const lang = (/(?:^|\s)language-([\w+#.-]+)/.exec(code.className) || [])[1] || "";
  if (hljs) {
    try {
      if (lang && hljs.getLanguage(lang)) hljs.highlightElement(code);
      else code.classList.add("hljs");
    } catch {
      /* plain text is fine */
    }
  }
  const wrap = document.createElement("div");
  wrap.className = "codeblock";
  const bar = document.createElement("div");
  bar.className = "codeblock-bar";
  const label = document.createElement("span");
  label.className = "codeblock-lang";
  label.textContent = lang || "text";
  const copy = document.createElement("button");
  copy.type = "button";
  copy.className = "copy-code";
  copy.textContent = "Copy";
  copy.setAttribute("aria-label", `Copy ${lang || "code"} to clipboard`);
  bar.append(label, copy);
  pre.replaceWith(wrap);
  wrap.append(bar, pre);
}

// Raw HTML in the model's Markdown is shown as text, never parsed: an on* attribute parsed even in
// DOMPurify's inert document counts as a CSP violation in Chromium, and nothing a reply needs is lost.
// Block HTML becomes an html code block; inline tags stay visible as text.
// Task-list items get a mark, not a checkbox: inputs stay forbidden, and a reply's list is not a form.
const md = new marked.Marked({
  async: false,
  gfm: true,
  breaks: false,
  renderer: {
    html(token) {
      const raw = token.text ?? token.raw ?? "";
      if (token.block) return `<pre><code class="language-html">${escapeHtml(raw.replace(/\n+$/, ""))}</code></pre>\n`;
      return escapeHtml(raw);
    },
    checkbox({ checked }) {
      return checked ? '<span class="task-mark task-done">☑</span> ' : '<span class="task-mark task-open">☐</span> ';
    },
    listitem(item) {
      if (!item.task) return false;
      return `<li class="task-item">${this.parser.parse(item.tokens)}</li>\n`;
    },
  },
}).use(mathExtension(), footnoteExtension());

/** Markdown text -> a sanitized DocumentFragment (no highlighting, no page decorations). */
export function sanitizeMarkdown(text) {
  return sanitizeHtml(md.parse(String(text ?? "")));
}

// Labels the sanitiser does not let through (no aria-* from model text): set here on the page's own nodes.
function labelTaskMarks(frag) {
  for (const mark of frag.querySelectorAll("span.task-mark")) {
    mark.setAttribute("role", "img");
    mark.setAttribute("aria-label", mark.classList.contains("task-done") ? "Done" : "Not done");
  }
}

// A wide formula scrolls sideways inside its block; the keyboard can reach it to scroll.
function decorateMathBlocks(frag) {
  for (const block of frag.querySelectorAll(".math-block, .katex-display")) {
    if (block.parentElement?.closest(".math-block, .katex-display")) continue;
    block.tabIndex = 0;
    block.setAttribute("role", "group");
    block.setAttribute("aria-label", "Formula");
  }
  layoutMath(frag);
}

/** Replace the children of `container` with the rendering of the FULL `text`. */
export function renderMarkdown(container, text) {
  const frag = sanitizeMarkdown(text);
  for (const img of Array.from(frag.querySelectorAll("img.blocked-image"))) {
    img.replaceWith(blockedImageNote(img));
  }
  for (const pre of Array.from(frag.querySelectorAll("pre"))) decorateCodeBlock(pre);
  markWideBlocks(frag);
  labelTaskMarks(frag);
  decorateMathBlocks(frag);
  linkFootnotes(frag);
  container.replaceChildren(frag);
}

// One delegated handler for every copy button the renderer makes.
document.addEventListener("click", (ev) => {
  const btn = ev.target instanceof Element ? ev.target.closest("button.copy-code") : null;
  if (!btn) return;
  const code = btn.closest(".codeblock")?.querySelector("pre code, pre");
  const text = code ? code.textContent : "";
  const done = (ok) => {
    btn.textContent = ok ? "Copied" : "Copy failed";
    setTimeout(() => {
      btn.textContent = "Copy";
    }, 1500);
  };
  if (navigator.clipboard?.writeText) navigator.clipboard.writeText(text).then(() => done(true), () => done(false));
  else done(false);
});

/**
 * The view of one assistant reply while it streams: keeps the full text and the reasoning summary and
 * re-renders them whole, at most once per animation frame (flush() renders at once).
 */
export class TurnView {
  constructor(bodyEl, thinkingEl = null) {
    this.bodyEl = bodyEl;
    this.thinkingEl = thinkingEl; // a <details> with a .thinking-body inside, or null
    this.text = "";
    this.reasoning = "";
    this.lastEventId = "";
    this.pending = 0;
    this.onFrameHook = null;
  }

  reset() {
    this.text = "";
    this.reasoning = "";
    this.flush();
  }

  appendText(t) {
    this.text += t;
    this.schedule();
  }

  appendReasoning(t) {
    this.reasoning += t;
    this.schedule();
  }

  schedule() {
    if (this.pending) return;
    const run = () => {
      this.pending = 0;
      this.flush();
    };
    this.pending = window.requestAnimationFrame ? requestAnimationFrame(run) : setTimeout(run, 16);
  }

  flush() {
    if (this.pending && window.cancelAnimationFrame) cancelAnimationFrame(this.pending);
    this.pending = 0;
    renderMarkdown(this.bodyEl, this.text);
    this.bodyEl.classList.toggle("empty", this.text === "");
    if (this.thinkingEl) {
      this.thinkingEl.hidden = this.reasoning === "";
      const inner = this.thinkingEl.querySelector(".thinking-body");
      if (inner) renderMarkdown(inner, this.reasoning);
    }
  }

  /** Handle one SSE frame; returns the parsed event {event, data} or null for frames it ignores. */
  handleFrame(frame) {
    if (frame.id) this.lastEventId = frame.id;
    let data;
    try {
      data = JSON.parse(frame.data);
    } catch {
      return null; // a malformed frame is skipped, never rendered
    }
    if (frame.event === "delta" && data && typeof data.text === "string") this.appendText(data.text);
    else if (frame.event === "reasoning" && data && typeof data.text === "string") this.appendReasoning(data.text);
    return { event: frame.event, data };
  }
}

/**
 * Read an SSE byte stream into a TurnView: the one path both live replies and tests go through.
 * onEvent(event, data) sees every parsed frame (conversation, delta, reasoning, done, error, ...).
 * Resolves to the last event seen ("done", "error", or another name when the stream ended early).
 */
export async function consumeTurnStream(stream, view, onEvent = null) {
  let last = null;
  try {
    await readEventStream(stream, (frame) => {
      const ev = view.handleFrame(frame);
      if (!ev) return;
      last = ev.event;
      if (onEvent) onEvent(ev.event, ev.data);
    });
  } finally {
    view.flush();
  }
  return last;
}
