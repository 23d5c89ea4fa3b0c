// Math in model text: a marked extension that takes $…$, $$…$$, \(…\) and \[…\] out of the Markdown before
// marked treats them as text (so backslashes, underscores and asterisks inside stay as written: `x^2\,dx`), and
// renders them with the vendored KaTeX as MathML only (no KaTeX CSS or fonts, nothing for `style-src 'self'` to
// refuse). The HTML it returns still goes through DOMPurify in render.js. Imports only sanitize.js (escapeHtml).

import "../vendor/katex/katex.min.js";
import { escapeHtml } from "./sanitize.js";

const katex = self.katex;

// Sizes the model may ask for (\rule, \kern, \hspace) are capped so a reply cannot draw over the page.
const KATEX_OPTIONS = {
  output: "mathml",
  throwOnError: true,
  trust: false,
  strict: "ignore",
  maxSize: 20,
  maxExpand: 500,
};

// KaTeX sets a style on a few nodes (\pmb's shadow, \fcolorbox's border, the error colour). The sanitiser would
// drop them, but Chromium reports an inline style parsed even in DOMPurify's inert document as a CSP violation:
// they are taken off KaTeX's tree before it becomes markup.
function dropStyles(node) {
  if (!node || typeof node !== "object") return;
  if (node.attributes && "style" in node.attributes) delete node.attributes.style;
  if (node.style && typeof node.style === "object") node.style = {};
  for (const child of node.children || []) dropStyles(child);
}

// A streamed reply is re-rendered whole at every frame: the formulas already rendered are kept, not typeset again.
const CACHE_MAX = 1000;
const cache = new Map(); // `${display}\u0000${raw}\u0000${tex}` -> markup, oldest first

function typeset(tex, display, raw) {
  if (!katex) return `<code class="math-source">${escapeHtml(raw)}</code>`;
  try {
    const tree = katex.__renderToDomTree(tex, { ...KATEX_OPTIONS, displayMode: display });
    dropStyles(tree);
    return tree.toMarkup();
  } catch (e) {
    const why = e && e.message ? String(e.message) : "not valid TeX";
    return `<code class="math-error" title="${escapeHtml(why)}">${escapeHtml(raw)}</code>`;
  }
}

/** TeX -> MathML markup (KaTeX); on a TeX error, the source as written in a code span saying why. */
export function renderMath(tex, display, raw = tex) {
  const key = `${display ? 1 : 0}\u0000${raw}\u0000${tex}`;
  let html = cache.get(key);
  if (html === undefined) {
    html = typeset(tex, display, raw);
    if (katex) cache.set(key, html);
    if (cache.size > CACHE_MAX) cache.delete(cache.keys().next().value);
  } else {
    cache.delete(key); // most recently used goes last
    cache.set(key, html);
  }
  return html;
}

// Inline: `$$…$$` (display), `$…$` by the usual rules (no space after the opening `$`, none before the closing
// one, and the closing one not followed by a digit, so "$5 and $10" stays text), `\(…\)`, `\[…\]`.
const DOUBLE = /^\$\$(?!\$)((?:\\[\s\S]|[^\\$])+?)\$\$/;
const SINGLE = /^\$(?![\s$])((?:\\[\s\S]|[^\\$\n]|\n(?![ \t]*\n))+?)\$(?!\d)/;
const PAREN = /^\\\(([\s\S]+?)\\\)/;
const BRACKET = /^\\\[([\s\S]+?)\\\]/;
// Block: a display formula that starts a line (up to 3 spaces in, as Markdown allows) and ends its line; a bare
// \begin{equation}…\end{equation} (align, alignat, gather, CD, starred or not) is one too, as KaTeX's
// auto-render takes it.
const BLOCK = /^ {0,3}(?:\$\$((?:\\[\s\S]|[^\\$])+?)\$\$|\\\[([\s\S]+?)\\\]|(\\begin\{((?:equation|align|alignat|gather|CD)\*?)\}[\s\S]+?\\end\{\4\}))[ \t]*(?:\n+|$)/;

function inlineMatch(src) {
  let m = DOUBLE.exec(src);
  if (m && m[1].trim()) return { raw: m[0], text: m[1], display: true };
  if (src.startsWith("$$")) return null;
  m = SINGLE.exec(src);
  if (m && !/\s$/.test(m[1])) return { raw: m[0], text: m[1], display: false };
  m = PAREN.exec(src);
  if (m && m[1].trim()) return { raw: m[0], text: m[1], display: false };
  m = BRACKET.exec(src);
  if (m && m[1].trim()) return { raw: m[0], text: m[1], display: true };
  return null;
}

function inlineStart(src) {
  const i = src.search(/\$|\\[([]/);
  return i < 0 ? undefined : i;
}

// The closers of *emphasis* are searched in a masked copy of the text: math spans are masked too, so a `*` or
// `_` inside a formula never closes emphasis opened before it.
function maskMath(src) {
  return src.replace(/\$\$(?:\\[\s\S]|[^\\$])+?\$\$|\$(?![\s$])(?:\\[\s\S]|[^\\$\n])+?\$(?!\d)/g, (s) =>
    s[0] + "a".repeat(s.length - 2) + s[s.length - 1],
  );
}

/** The marked extension: `new marked.Marked(mathExtension())` or `.use(mathExtension())`. */
export function mathExtension() {
  return {
    hooks: { emStrongMask: maskMath },
    extensions: [
      {
        name: "mathBlock",
        level: "block",
        start(src) {
          const i = src.search(/^ {0,3}(?:\$\$|\\\[|\\begin\{(?:equation|align|alignat|gather|CD)\*?\})/m);
          return i < 0 ? undefined : i;
        },
        tokenizer(src) {
          const m = BLOCK.exec(src);
          const text = m ? (m[1] ?? m[2] ?? m[3]) : "";
          if (!m || !text.trim()) return undefined;
          return { type: "mathBlock", raw: m[0], text, source: m[0].trim() };
        },
        renderer(token) {
          return `<div class="math-block">${renderMath(token.text, true, token.source)}</div>\n`;
        },
      },
      {
        name: "mathInline",
        level: "inline",
        start: inlineStart,
        tokenizer(src) {
          const m = inlineMatch(src);
          if (!m) return undefined;
          return { type: "mathInline", raw: m.raw, text: m.text, display: m.display };
        },
        renderer(token) {
          const html = renderMath(token.text, token.display, token.raw);
          // A display formula inside a paragraph still gets a block of its own that scrolls sideways.
          return token.display ? `<span class="math-block">${html}</span>` : html;
        },
      },
    ],
  };
}

// Copying a selection that holds formulas copies their TeX (`$…$`, `$$…$$`), as written, instead of the
// characters the MathML shows; a selection that starts or ends inside a formula takes the whole formula.
function formulaOf(node) {
  const el = node && (node.nodeType === 1 ? node : node.parentElement);
  return el ? el.closest(".md span.katex") : null;
}

function texOf(katexSpan) {
  const tex = katexSpan.querySelector("annotation")?.textContent;
  if (tex == null) return null;
  return katexSpan.querySelector("math")?.getAttribute("display") === "block" ? `$$${tex}$$` : `$${tex}$`;
}

document.addEventListener("copy", (ev) => {
  const sel = window.getSelection();
  if (!sel || sel.isCollapsed || !sel.rangeCount || !ev.clipboardData) return;
  const range = sel.getRangeAt(0).cloneRange();
  const startIn = formulaOf(range.startContainer);
  const endIn = formulaOf(range.endContainer);
  if (startIn) range.setStartBefore(startIn);
  if (endIn) range.setEndAfter(endIn);
  const frag = range.cloneContents();
  const formulas = frag.querySelectorAll("span.katex");
  if (!formulas.length) return;
  const html = document.createElement("div");
  html.append(frag.cloneNode(true));
  for (const k of formulas) {
    const tex = texOf(k);
    if (tex !== null) k.replaceWith(tex);
  }
  // The text keeps its line breaks only where it is laid out: measured off screen, then removed.
  const box = document.createElement("div");
  box.className = "md";
  box.style.position = "fixed";
  box.style.left = "-10000px";
  box.style.top = "0";
  box.style.whiteSpace = "normal";
  box.append(frag);
  document.body.append(box);
  const text = box.innerText;
  box.remove();
  ev.clipboardData.setData("text/plain", text);
  ev.clipboardData.setData("text/html", html.innerHTML);
  ev.preventDefault();
});

function listAttr(el, name) {
  return (el.getAttribute(name) || "").split(/\s+/).filter(Boolean);
}

function nth(list, i) {
  return list.length ? list[Math.min(i, list.length - 1)] : "";
}

/**
 * Chromium's MathML (MathML Core) ignores mtable's columnalign, columnlines and rowlines, which KaTeX uses for
 * align, array and matrices: they become the CSS of the cells here, through the CSSOM (which the CSP allows).
 * `root` is a sanitised fragment, now the page's own DOM.
 */
export function layoutMath(root) {
  for (const table of root.querySelectorAll("mtable")) {
    const aligns = listAttr(table, "columnalign");
    const colLines = listAttr(table, "columnlines");
    const rowLines = listAttr(table, "rowlines");
    const rows = Array.from(table.children).filter((r) => r.localName === "mtr" || r.localName === "mlabeledtr");
    rows.forEach((row, r) => {
      const cells = Array.from(row.children).filter(
        (c) => c.localName === "mtd" && !c.classList.contains("mtr-glue") && !c.classList.contains("mml-eqn-num"),
      );
      cells.forEach((cell, c) => {
        const align = nth(aligns, c);
        if (align === "left" || align === "right" || align === "center") cell.style.textAlign = align;
        const col = nth(colLines, c);
        if (c < cells.length - 1 && (col === "solid" || col === "dashed")) {
          cell.style.borderRight = `0.06em ${col} currentColor`;
        }
        const line = nth(rowLines, r);
        if (r < rows.length - 1 && (line === "solid" || line === "dashed")) {
          cell.style.borderBottom = `0.06em ${line} currentColor`;
        }
      });
    });
  }
}
