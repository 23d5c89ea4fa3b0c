// Scrolling of the conversation: the floating "Jump to latest" button shown while the view is away from the
// end, and keeping a message in view (and focus on its ‹ n/m › switcher) when its versions are switched.
// Imports only dom.js; the page's higher modules call in.

import { dom, el, icon } from "./dom.js";

// Farther than this from the end (px) and the button shows; the same margin view.js uses to keep following.
const AWAY = 160;

let button = null;

function reducedMotion() {
  return window.matchMedia("(prefers-reduced-motion: reduce)").matches;
}

/** True when the conversation is scrolled away from its end (and there is a conversation to scroll). */
export function awayFromEnd() {
  const s = dom.scroller;
  return !dom.messages.hidden && s.scrollHeight - s.scrollTop - s.clientHeight > AWAY;
}

function update() {
  if (button) button.parentElement.hidden = !awayFromEnd();
}

let updatePending = false;
function updateSoon() {
  if (updatePending) return;
  updatePending = true;
  requestAnimationFrame(() => {
    updatePending = false;
    update();
  });
}

/** Scroll to the end of the conversation; a keyboard user lands on the latest message. */
export function jumpToLatest() {
  const hadFocus = document.activeElement === button;
  dom.scroller.scrollTo({ top: dom.scroller.scrollHeight, behavior: reducedMotion() ? "auto" : "smooth" });
  button.parentElement.hidden = true;
  if (hadFocus) {
    const last = dom.messages.querySelector("article.msg:last-of-type");
    if (last) {
      // Reachable by script only: reading goes on from the latest message, the tab order is unchanged.
      if (!last.hasAttribute("tabindex")) last.tabIndex = -1;
      last.focus({ preventScroll: true });
    } else {
      dom.input.focus({ preventScroll: true });
    }
  }
}

function buildButton() {
  // A zero-height sticky row at the end of the scroller: the button floats over the bottom of the view
  // whatever the composer's height, and takes no room in the conversation.
  const row = el("div", "jump-latest-row");
  row.hidden = true;
  const b = el("button", "jump-latest");
  b.type = "button";
  b.id = "jump-latest";
  b.title = "Scroll to the latest message";
  b.append(icon("arrowDown"), el("span", null, "Jump to latest"));
  b.addEventListener("click", jumpToLatest);
  row.append(b);
  dom.scroller.append(row);
  return b;
}

/** Create the button and follow the scroller (scrolling, the reply growing, the window resizing). */
export function initScrolling() {
  if (button || !dom.scroller) return;
  button = buildButton();
  dom.scroller.addEventListener("scroll", updateSoon, { passive: true });
  const ro = new ResizeObserver(updateSoon);
  ro.observe(dom.scroller);
  ro.observe(dom.messages);
  // A new conversation replaces the messages; the empty state hides them.
  new MutationObserver(updateSoon).observe(dom.messages, { childList: true, attributes: true, attributeFilter: ["hidden"] });
  update();
}

/**
 * Before switching a message's versions: where its article is (from the top of the view) and which
 * switcher button has focus. Returns a function to call once the new branch is on screen, with the
 * id of the version now shown.
 */
export function holdInView(art, which) {
  const top = art ? art.getBoundingClientRect().top - dom.scroller.getBoundingClientRect().top : 0;
  return (newId) => {
    const now = dom.messages.querySelector(`article[data-id="${CSS.escape(newId)}"]`);
    if (!now) return;
    const nowTop = now.getBoundingClientRect().top - dom.scroller.getBoundingClientRect().top;
    dom.scroller.scrollTop += nowTop - top;
    // Keep the keyboard where it was: the same button, or its twin when that end is reached.
    const nav = now.querySelector(".sibling-nav");
    if (!nav) return;
    const same = nav.querySelector(which === "prev" ? ".sib-prev" : ".sib-next");
    const other = nav.querySelector(which === "prev" ? ".sib-next" : ".sib-prev");
    const target = same && !same.disabled ? same : other && !other.disabled ? other : null;
    target?.focus({ preventScroll: true });
    update();
  };
}

initScrolling();
