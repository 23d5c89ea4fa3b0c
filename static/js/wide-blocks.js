// Wide blocks of a rendered reply (tables, code) scroll sideways inside themselves and can be scrolled from
// the keyboard: each is a focusable, labelled region. Works on a rendered fragment; imports nothing.

const LABEL_MAX = 80;

function clip(text) {
  const t = text.replace(/\s+/g, " ").trim();
  return t.length > LABEL_MAX ? `${t.slice(0, LABEL_MAX - 1)}…` : t;
}

/** A table's label: its column headings, so two tables of one reply are told apart. */
function tableLabel(table) {
  const heads = Array.from(table.querySelectorAll("thead th, tr:first-child th"), (th) => th.textContent.trim()).filter(Boolean);
  return clip(heads.length ? `Table: ${heads.join(", ")}` : "Table");
}

/** A code block's label: its language, as the block's bar shows it. */
function codeLabel(pre) {
  const lang = pre.closest(".codeblock")?.querySelector(".codeblock-lang")?.textContent?.trim();
  return lang && lang !== "text" ? `Code: ${lang}` : "Code";
}

function focusableRegion(node, label) {
  node.tabIndex = 0;
  node.setAttribute("role", "region");
  node.setAttribute("aria-label", label);
}

/**
 * Wrap each table of `root` in a scrolling box and make each code block focusable (tabindex=0,
 * role=region with a label), so a keyboard can scroll them and a phone scrolls them instead of the page.
 */
export function markWideBlocks(root) {
  for (const table of Array.from(root.querySelectorAll("table"))) {
    if (table.parentElement?.classList.contains("table-wrap")) continue;
    const wrap = document.createElement("div");
    wrap.className = "table-wrap";
    focusableRegion(wrap, tableLabel(table));
    table.replaceWith(wrap);
    wrap.append(table);
  }
  for (const pre of Array.from(root.querySelectorAll("pre"))) {
    if (!pre.hasAttribute("tabindex")) focusableRegion(pre, codeLabel(pre));
  }
}
