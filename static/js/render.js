// Model text -> Markdown -> sanitized DOM. The whole text is re-rendered on every update: never a raw chunk
// appended, never innerHTML. Uses the vendored globals marked, DOMPurify and hljs (classic scripts).

import { readEventStream } from "./sse.js";

const marked = window.marked;
const DOMPurify = window.DOMPurify;
const hljs = window.hljs;
if (hljs) hljs.configure({ ignoreUnescapedHTML: true });

// Only what Markdown produces; everything else (forms, inputs, buttons, style, iframes, objects, svg, math,
// media that would load from elsewhere) is dropped with its content kept as text where DOMPurify can.
const ALLOWED_TAGS = [
  "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "div", "dl", "dt", "em", "h1", "h2",
  "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "samp",
  "small", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr",
  "u", "ul", "var",
];
const ALLOWED_ATTR = ["href", "src", "alt", "title", "class", "start", "align", "colspan", "rowspan", "open"];
const FORBID_TAGS = [
  "form", "input", "button", "textarea", "select", "option", "style", "link", "meta", "base", "script",
  "iframe", "frame", "frameset", "object", "embed", "applet", "svg", "math", "video", "audio", "source",
  "track", "picture", "template", "dialog", "portal",
];
const FORBID_ATTR = ["style", "srcset", "action", "formaction", "background", "poster", "ping", "xlink:href"];

const PURIFY_CONFIG = {
  ALLOWED_TAGS,
  ALLOWED_ATTR,
  FORBID_TAGS,
  FORBID_ATTR,
  ALLOW_DATA_ATTR: false,
  ALLOW_ARIA_ATTR: false,
  ALLOW_UNKNOWN_PROTOCOLS: false,
  ALLOWED_URI_REGEXP: /^(?:https?:|mailto:|data:image\/|[^a-z]|[a-z+.-]+(?:[^a-z+.\-:]|$))/i,
  RETURN_DOM_FRAGMENT: true,
};

const LINK_PROTOCOLS = new Set(["http:", "https:", "mailto:"]);

function resolve(url) {
  try {
    return new URL(url, window.location.href);
  } catch {
    return null;
  }
}

/** True when an image URL may be loaded: the page's own origin, or inline data: images. */
export function isSafeImageUrl(url) {
  const u = resolve(url);
  if (!u) return false;
  if (u.protocol === "data:") return /^data:image\//i.test(url.trim());
  return u.origin === window.location.origin;
}

let hooksInstalled = false;
function installHooks() {
  if (hooksInstalled) return;
  hooksInstalled = true;
  DOMPurify.addHook("afterSanitizeAttributes", (node) => {
    // Any attribute named on* that slipped through (none should) goes, whatever the element.
    for (const attr of Array.from(node.attributes || [])) {
      if (/^on/i.test(attr.name)) node.removeAttribute(attr.name);
    }
    if (node.nodeName === "A") {
      const href = node.getAttribute("href");
      const u = href === null ? null : resolve(href);
      if (href !== null && (!u || !LINK_PROTOCOLS.has(u.protocol))) node.removeAttribute("href");
      if (node.hasAttribute("href")) {
        node.setAttribute("rel", "noopener noreferrer");
        node.setAttribute("target", "_blank");
      }
    } else if (node.nodeName === "IMG") {
      // Removed here, inside DOMPurify's inert document, before the node is imported into the page:
      // an <img src> in the live document would start loading even while detached.
      const src = node.getAttribute("src");
      if (src === null || !isSafeImageUrl(src)) {
        node.removeAttribute("src");
        node.setAttribute("class", "blocked-image");
      } else {
        node.removeAttribute("class");
      }
    } else if (node.hasAttribute && node.hasAttribute("class")) {
      // Keep only the language-* classes marked puts on code blocks: model text must not borrow the page's own.
      const keep = (node.getAttribute("class") || "")
        .split(/\s+/)
        .filter((c) => /^language-[\w+#.-]{1,40}$/.test(c));
      if (keep.length) node.setAttribute("class", keep.join(" "));
      else node.removeAttribute("class");
    }
  });
}

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

function escapeHtml(s) {
  return String(s)
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

// Raw HTML in the model's Markdown is shown as text, never parsed: an on* attribute parsed even in
// DOMPurify's inert document counts as a CSP violation in Chromium, and nothing a reply needs is lost.
// Block HTML becomes an html code block; inline tags stay visible as text.
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
  },
});

/** Markdown text -> a sanitized DocumentFragment (no highlighting, no page decorations). */
export function sanitizeMarkdown(text) {
  installHooks();
  const html = md.parse(String(text ?? ""));
  return DOMPurify.sanitize(html, PURIFY_CONFIG);
}

/** Replace the children of `container` with the rendering of the FULL `text`. */
export function renderMarkdown(container, text) {
  const frag = sanitizeMarkdown(text);
  for (const img of Array.from(frag.querySelectorAll("img.blocked-image"))) {
    img.replaceWith(blockedImageNote(img));
  }
  for (const pre of Array.from(frag.querySelectorAll("pre"))) decorateCodeBlock(pre);
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
