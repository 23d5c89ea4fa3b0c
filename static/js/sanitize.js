// The sanitiser for model output: DOMPurify (the vendored global) with the page's allow-list. Only what Markdown
// produces, plus the MathML elements and attributes KaTeX's `output: "mathml"` emits; everything else (forms,
// inputs, buttons, style, iframes, objects, svg, MathML that KaTeX never writes, media that would load from
// elsewhere) is dropped. Imports no page module.

const DOMPurify = window.DOMPurify;

const HTML_TAGS = [
  "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "div", "dl", "dt", "em", "h1", "h2",
  "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "samp",
  "section", "small", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead",
  "tr", "u", "ul", "var",
];
// What KaTeX 0.19's MathML builders create (src/mathMLTree.js and the functions' mathmlBuilder), except mglyph
// (\includegraphics, which needs `trust`) and anything that can carry markup or links (annotation-xml, maction).
const MATHML_TAGS = [
  "math", "semantics", "annotation", "mrow", "mi", "mn", "mo", "mtext", "mspace", "msup", "msub", "msubsup",
  "mfrac", "msqrt", "mroot", "mstyle", "mpadded", "mphantom", "mover", "munder", "munderover", "mtable", "mtr",
  "mtd", "mlabeledtr", "menclose",
];
const HTML_ATTR = ["href", "src", "alt", "title", "class", "start", "align", "colspan", "rowspan", "open"];
// The attributes KaTeX sets on MathML nodes (no style, no href: `\href` needs `trust`, and the CSP refuses style).
const MATHML_ATTR = [
  "display", "encoding", "mathvariant", "stretchy", "fence", "separator", "lspace", "rspace", "minsize",
  "maxsize", "largeop", "accent", "accentunder", "displaystyle", "scriptlevel", "linethickness", "notation",
  "width", "height", "depth", "voffset", "columnalign", "columnlines", "columnspacing", "rowlines", "rowspacing",
  "mathcolor", "mathbackground", "mathsize", "linebreak",
];
const MATHML_ATTR_SET = new Set(MATHML_ATTR);
const FORBID_TAGS = [
  "form", "input", "button", "textarea", "select", "option", "style", "link", "meta", "base", "script",
  "iframe", "frame", "frameset", "object", "embed", "applet", "svg", "video", "audio", "source", "track",
  "picture", "template", "dialog", "portal", "annotation-xml", "maction", "mglyph", "malignmark", "ms",
];
const FORBID_ATTR = ["style", "srcset", "action", "formaction", "background", "poster", "ping", "xlink:href", "xmlns"];

const CONFIG = {
  ALLOWED_TAGS: [...HTML_TAGS, ...MATHML_TAGS],
  ALLOWED_ATTR: [...HTML_ATTR, ...MATHML_ATTR],
  FORBID_TAGS,
  FORBID_ATTR,
  ALLOW_DATA_ATTR: false,
  ALLOW_ARIA_ATTR: false,
  ALLOW_UNKNOWN_PROTOCOLS: false,
  ALLOWED_URI_REGEXP: /^(?:https?:|mailto:|data:image\/|[^a-z]|[a-z+.-]+(?:[^a-z+.\-:]|$))/i,
  RETURN_DOM_FRAGMENT: true,
};

const MATHML_NS = "http://www.w3.org/1998/Math/MathML";
const LINK_PROTOCOLS = new Set(["http:", "https:", "mailto:"]);
// The page's own classes the renderer's Markdown extensions write (raw HTML in a reply is never parsed, so a
// reply cannot set a class itself): code languages, KaTeX's wrappers and equation-number cells, footnotes and
// task marks.
const OWN_CLASSES = new Set([
  "katex", "katex-display", "math-block", "math-error", "math-source", "fn-ref", "fn-back", "footnotes",
  "task-item", "task-mark", "task-done", "task-open", "mtr-glue", "mml-eqn-num",
]);
// KaTeX lengths: a number with its unit. Negative space is kept small and sizes bounded, so a formula cannot
// be made to reach over the text or the page around it.
const LENGTH = /^([+-]?)(\d*\.?\d+)(em|ex|pt|px|mu|%|width)?$/;
const LIMITS = { em: 25, ex: 50, pt: 250, px: 330, mu: 450, "%": 100, width: 1, "": 25 };

function lengthOk(value) {
  const m = LENGTH.exec(value.trim());
  if (!m) return false;
  const n = Number(m[2]);
  const limit = LIMITS[m[3] || ""];
  return m[1] === "-" ? n <= Math.min(limit, 3) && (m[3] !== "%" || n === 0) : n <= limit;
}

const MATHML_VALUE_CHECKS = {
  width: lengthOk, height: lengthOk, depth: lengthOk, lspace: lengthOk, rspace: lengthOk, voffset: lengthOk,
  minsize: lengthOk, maxsize: lengthOk, mathsize: lengthOk,
  encoding: (v) => v === "application/x-tex",
  mathcolor: (v) => /^(?:#[0-9a-f]{3,8}|[a-z]{3,20})$/i.test(v),
  mathbackground: (v) => /^(?:#[0-9a-f]{3,8}|[a-z]{3,20})$/i.test(v),
};

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

function checkMathAttributes(node) {
  for (const attr of Array.from(node.attributes || [])) {
    const check = MATHML_VALUE_CHECKS[attr.name];
    if (check && !check(attr.value)) node.removeAttribute(attr.name);
  }
}

/** `s` as HTML text (for markup the renderer builds as a string before sanitising). */
export function escapeHtml(s) {
  return String(s)
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
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
    if (node.namespaceURI === MATHML_NS) {
      checkMathAttributes(node);
    } else {
      // MathML's attributes (width, height, display...) mean nothing on HTML elements here: drop them there.
      for (const attr of Array.from(node.attributes || [])) {
        if (MATHML_ATTR_SET.has(attr.name)) node.removeAttribute(attr.name);
      }
    }
    if (node.nodeName === "A") {
      const href = node.getAttribute("href");
      if (href !== null && href.trim().startsWith("#")) {
        // A fragment-only link in model output would jump to (or, in a new tab, reopen) a part of the page
        // itself. Footnote references keep only their number: footnotes.js links them to their own notes.
        const n = /^#fn-(\d{1,4})$/.exec(href.trim());
        if (n && /(^|\s)fn-ref(\s|$)/.test(node.getAttribute("class") || "")) node.setAttribute("data-fn-note", n[1]);
        node.removeAttribute("href");
      }
      const u = node.hasAttribute("href") ? resolve(href) : null;
      if (node.hasAttribute("href") && (!u || !LINK_PROTOCOLS.has(u.protocol))) node.removeAttribute("href");
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
        return;
      }
      node.removeAttribute("class");
      return;
    }
    if (node.hasAttribute && node.hasAttribute("class")) {
      // Keep only the language-* classes marked puts on code blocks and the renderer's own: model text must
      // not borrow the page's classes.
      const keep = (node.getAttribute("class") || "")
        .split(/\s+/)
        .filter((c) => /^language-[\w+#.-]{1,40}$/.test(c) || OWN_CLASSES.has(c));
      if (keep.length) node.setAttribute("class", keep.join(" "));
      else node.removeAttribute("class");
    }
  });
}

/** Sanitise the renderer's HTML into a DocumentFragment (inert until the caller inserts it). */
export function sanitizeHtml(html) {
  installHooks();
  return DOMPurify.sanitize(html, CONFIG);
}
