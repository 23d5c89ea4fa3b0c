// Footnotes in model text (GFM style: `text[^1]` and `[^1]: the note`, a note's further lines indented four
// spaces): a small marked extension, and the step that links them once the sanitised fragment is built.
// The notes are numbered in the order they are first cited and listed at the end of the reply. A label never
// reaches an attribute: the markup carries numbers only, and ids are given here, unique on the page, so two
// replies' notes never collide and following a note never changes the address (the hash names the conversation).
// Imports no page module.

const LABEL = /^\[\^([^\]\s^]{1,60})\]/;
const DEFINITION = /^ {0,3}\[\^([^\]\s^]{1,60})\]:[ \t]*([^\n]*(?:\n(?:[ \t]*\n)*(?: {4}|\t)[^\n]*)*)(?:\n+|$)/;

// marked parses synchronously: the notes of the text being parsed, reset before each parse.
let notes = new Map(); // label -> {tokens, number (0 until cited), refs}
let cited = [];

function definitionStart(src) {
  const i = src.search(/^ {0,3}\[\^[^\]\s^]{1,60}\]:/m);
  return i < 0 ? undefined : i;
}

/** The marked extension: `.use(footnoteExtension())`. */
export function footnoteExtension() {
  return {
    hooks: {
      preprocess(src) {
        notes = new Map();
        cited = [];
        return src;
      },
      processAllTokens(tokens) {
        if (cited.length) tokens.push({ type: "footnotes", raw: "", notes: cited.slice() });
        return tokens;
      },
    },
    extensions: [
      {
        name: "footnoteDefinition",
        level: "block",
        start: definitionStart,
        tokenizer(src) {
          const m = DEFINITION.exec(src);
          if (!m) return undefined;
          const body = m[2].replace(/\n(?: {4}|\t)/g, "\n");
          const token = { type: "footnoteDefinition", raw: m[0], label: m[1], tokens: [] };
          this.lexer.blockTokens(body, token.tokens);
          if (!notes.has(m[1])) notes.set(m[1], { tokens: token.tokens, number: 0, refs: 0 });
          return token;
        },
        renderer() {
          return "";
        },
      },
      {
        name: "footnoteRef",
        level: "inline",
        start(src) {
          const i = src.indexOf("[^");
          return i < 0 ? undefined : i;
        },
        tokenizer(src) {
          const m = LABEL.exec(src);
          const note = m ? notes.get(m[1]) : undefined;
          if (!note) return undefined;
          if (!note.number) {
            cited.push(note);
            note.number = cited.length;
          }
          note.refs += 1;
          return { type: "footnoteRef", raw: m[0], number: note.number, ref: note.refs };
        },
        renderer(token) {
          const n = token.number;
          return `<sup class="fn-ref"><a href="#fn-${n}" class="fn-ref">${n}</a></sup>`;
        },
      },
      {
        name: "footnotes",
        renderer(token) {
          const items = token.notes.map((note) => {
            const body = this.parser.parse(note.tokens).trimEnd();
            const back = `<a href="#fnref-${note.number}" class="fn-back">↩</a>`;
            // The way back sits at the end of the note's last paragraph, as on GitHub.
            if (body.endsWith("</p>")) return `<li>${body.slice(0, -4)} ${back}</p></li>\n`;
            return `<li>${body} ${back}</li>\n`;
          });
          return `<section class="footnotes"><ol>\n${items.join("")}</ol></section>\n`;
        },
      },
    ],
  };
}

let renders = 0;

/**
 * Link the notes of one rendered reply (a sanitised fragment): unique ids, hrefs to them, labels for
 * screen readers. `fragment` is the page's own DOM by now, built from sanitised markup.
 */
export function linkFootnotes(fragment) {
  const section = fragment.querySelector("section.footnotes");
  if (!section) return;
  const prefix = `fn${++renders}`;
  const heading = document.createElement("h2");
  heading.className = "visually-hidden";
  heading.id = `${prefix}-label`;
  heading.textContent = "Notes";
  section.prepend(heading);
  section.setAttribute("aria-labelledby", heading.id);
  const items = Array.from(section.querySelectorAll(":scope > ol > li"));
  items.forEach((li, i) => {
    li.id = `${prefix}-note-${i + 1}`;
    li.tabIndex = -1;
    const back = li.querySelector("a.fn-back");
    if (back) {
      back.removeAttribute("target");
      back.removeAttribute("rel");
      back.setAttribute("href", `#${prefix}-ref-${i + 1}`);
      back.setAttribute("aria-label", `Back to the text of note ${i + 1}`);
    }
  });
  const seen = new Set();
  for (const a of fragment.querySelectorAll("a.fn-ref")) {
    const n = Number(a.getAttribute("data-fn-note") || 0); // the sanitiser kept only the note's number
    a.removeAttribute("data-fn-note");
    if (!n || !items[n - 1]) continue;
    a.setAttribute("href", `#${prefix}-note-${n}`);
    a.removeAttribute("target");
    a.removeAttribute("rel");
    a.setAttribute("aria-label", `Note ${n}`);
    // The first citation of a note is where "back" returns to.
    if (!seen.has(n)) {
      seen.add(n);
      a.id = `${prefix}-ref-${n}`;
    }
  }
  for (const back of section.querySelectorAll("a.fn-back")) {
    if (!/^#fn\d+-ref-/.test(back.getAttribute("href") || "")) back.removeAttribute("href");
  }
}

function noteLink(ev) {
  return ev.target instanceof Element ? ev.target.closest(".md a.fn-ref, .md a.fn-back") : null;
}

// Following a note moves the view and the focus inside the page without touching the address (nor opening a
// tab whose address would name a conversation that does not exist).
document.addEventListener("click", (ev) => {
  const a = noteLink(ev);
  if (!a) return;
  ev.preventDefault();
  const id = (a.getAttribute("href") || "").slice(1);
  const target = id ? document.getElementById(id) : null;
  if (!target) return;
  target.scrollIntoView({ block: "center" });
  target.focus({ preventScroll: true });
});
document.addEventListener("auxclick", (ev) => {
  if (noteLink(ev)) ev.preventDefault();
});
