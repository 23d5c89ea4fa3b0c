"""Markdown details and math in real Chromium (issue 14, points 1 and 10).

Math through KaTeX as MathML ($…$, $$…$$, \\(…\\), \\[…\\]) with the TeX kept exactly as written, prices that
stay prices, the sanitiser's MathML allow-list, task lists as marks, footnotes that never touch the address,
Copy giving the Markdown source (replies and user messages), and each message's time on hover and focus.
Screenshots 80-84.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Server, goto, shot
from tests.browser.test_layout_a11y import assert_axe_clean

pytestmark = pytest.mark.browser

expect.set_options(timeout=20_000)

MATH_REPLY = r"""The area is $\int_0^1 x^2\,dx = \frac{1}{3}$, and with \(a_1 + b_1\) as well:

$$
\sum_{i=1}^{n} i = \frac{n(n+1)}{2}
$$

\[
e^{i\pi} + 1 = 0
\]

Prices stay prices: it costs $5 and $10, or $20/month. An escaped \$x\$ too.

Code is left alone: `$x$` and

```latex
$$ \alpha_1 $$
```

A broken one: $\frac{1}{$ end.

\begin{align}
a &= b + c \\
d &= e
\end{align}
"""

TEX = [
    r"\int_0^1 x^2\,dx = \frac{1}{3}",
    r"a_1 + b_1",
    "\n\\sum_{i=1}^{n} i = \\frac{n(n+1)}{2}\n",
    "\ne^{i\\pi} + 1 = 0\n",
    "\\begin{align}\na &= b + c \\\\\nd &= e\n\\end{align}",
]

DETAILS_REPLY = """Plan for today:

- [x] write the parser
- [ ] test it
- plain item

Markdown keeps notes too[^1], even named ones[^why], and cites the first again[^1].

[^1]: The first note.
[^why]: Because a reply may cite its sources.

    A second paragraph of that note.
"""

# The tags and attributes KaTeX's MathML output may use (render's allow-list), checked from the page.
MATHML_CHECK = r"""
(root) => {
  const tags = new Set(['math', 'semantics', 'annotation', 'mrow', 'mi', 'mn', 'mo', 'mtext', 'mspace', 'msup',
    'msub', 'msubsup', 'mfrac', 'msqrt', 'mroot', 'mstyle', 'mpadded', 'mphantom', 'mover', 'munder',
    'munderover', 'mtable', 'mtr', 'mtd', 'mlabeledtr', 'menclose']);
  const attrs = new Set(['display', 'encoding', 'mathvariant', 'stretchy', 'fence', 'separator', 'lspace',
    'rspace', 'minsize', 'maxsize', 'largeop', 'accent', 'accentunder', 'displaystyle', 'scriptlevel',
    'linethickness', 'notation', 'width', 'height', 'depth', 'voffset', 'columnalign', 'columnlines',
    'columnspacing', 'rowlines', 'rowspacing', 'mathcolor', 'mathbackground', 'mathsize', 'linebreak', 'class']);
  const bad = [];
  for (const e of root.querySelectorAll('*')) {
    if (e.namespaceURI !== 'http://www.w3.org/1998/Math/MathML') continue;
    if (!tags.has(e.localName)) bad.push('tag ' + e.localName);
    for (const a of e.attributes) {
      if (a.name === 'style' && ['mtable', 'mtd'].includes(e.localName)) continue;
      if (!attrs.has(a.name)) bad.push(e.localName + '@' + a.name);
    }
    // The page's own layout of tables (math.js layoutMath, through the CSSOM): alignment, lines, width only.
    for (let i = 0; i < e.style.length; i++) {
      if (!/^(text-align|border-(right|bottom)(-.*)?)$/.test(e.style[i])) bad.push(e.localName + ' style ' + e.style[i]);
    }
    const cls = e.getAttribute('class');
    if (cls !== null && !['mtr-glue', 'mml-eqn-num'].includes(cls)) bad.push(e.localName + '.' + cls);
  }
  return bad;
}
"""


def send(page: Any, text: str) -> None:
    box = page.locator("#composer-input")
    box.fill(text)
    box.press("Enter")


def wait_idle(page: Any) -> None:
    expect(page.locator("#send")).to_be_visible()
    expect(page.locator("article.pending")).to_have_count(0)


def clipboard(page: Any) -> str:
    return str(page.evaluate("navigator.clipboard.readText()"))


def test_math_renders_as_mathml_and_keeps_the_tex(server: Server, open_page: Any) -> None:
    user = server.new_user("math")
    page, guard = open_page(user, permissions=["clipboard-read", "clipboard-write"])
    goto(page, server.url + "/")
    server.upstream.reply = MATH_REPLY
    send(page, r"What is $\int_0^1 x^2\,dx$?")
    wait_idle(page)
    reply = page.locator("article.msg-assistant").last
    body = reply.locator(".msg-body")

    # Four formulas: two inline, two display; the TeX each came from is exactly what the model wrote.
    expect(body.locator("math")).to_have_count(5)
    annotations = body.locator("math annotation").all_text_contents()
    assert annotations == TEX
    assert body.locator("math[display=block]").count() == 3
    expect(body.locator(".math-block")).to_have_count(3)
    # A numbered environment is numbered (1), (2) per reply, by CSS counters on KaTeX's number cells.
    numbers = body.locator("mtd.mml-eqn-num")
    expect(numbers).to_have_count(2)
    assert "counter(mmlEqnNo)" in numbers.first.evaluate(
        "(e) => getComputedStyle(e, '::before').content"
    )
    expect(body.locator(".math-block").first).to_have_attribute("tabindex", "0")
    expect(body.locator(".math-block").first).to_have_attribute("aria-label", "Formula")
    # The thin space survives: KaTeX saw `\,` (a space), not the `,` Markdown used to leave.
    first = body.locator("p").first.locator("math").first
    assert "," not in (first.locator("mrow").first.text_content() or "")

    # Prices are not math, an escaped dollar is a dollar, code is not touched.
    prices = body.locator("p", has_text="Prices stay prices")
    expect(prices).to_have_text(
        "Prices stay prices: it costs $5 and $10, or $20/month. An escaped $x$ too."
    )
    assert prices.locator("math").count() == 0
    expect(body.locator("p code").first).to_have_text("$x$")
    expect(body.locator("pre code")).to_contain_text(r"$$ \alpha_1 $$")
    # TeX that does not parse is shown as written, with the reason on hover.
    broken = body.locator("code.math-error")
    expect(broken).to_have_text(r"$\frac{1}{$")
    assert "KaTeX parse error" in (broken.get_attribute("title") or "")

    # Only what KaTeX emits got through, and no style attribute anywhere.
    assert page.evaluate(f"({MATHML_CHECK})(document.querySelector('#messages'))") == []
    assert page.locator("#messages [style]:not(mtable, mtd)").count() == 0
    # Chromium ignores columnalign: the cells of align are aligned by the page (right, then left).
    cells = (
        body.locator("mtable")
        .first.locator("mtr")
        .first.locator("mtd:not(.mtr-glue, .mml-eqn-num)")
    )
    assert [c.evaluate("(e) => e.style.textAlign") for c in cells.all()] == ["right", "left"]

    # Copying a selection copies the formulas' TeX; a selection inside a formula takes the whole formula.
    select = """([sel, start, end]) => {
      const p = document.querySelector(sel);
      const r = document.createRange();
      if (start === null) r.selectNodeContents(p);
      else {
        const walker = document.createTreeWalker(p, NodeFilter.SHOW_TEXT);
        const texts = [];
        while (walker.nextNode()) texts.push(walker.currentNode);
        r.setStart(texts[start], 0);
        r.setEnd(texts[end], 1);
      }
      getSelection().removeAllRanges();
      getSelection().addRange(r);
    }"""
    first_p = "#messages article.msg-assistant:last-of-type .msg-body p"
    page.evaluate(select, [first_p, None, None])
    page.keyboard.press("Control+C")
    assert clipboard(page) == (
        r"The area is $\int_0^1 x^2\,dx = \frac{1}{3}$, and with $a_1 + b_1$ as well:"
    )
    first_math = first_p + " math mrow"
    page.evaluate(select, [first_math, 1, 2])
    page.keyboard.press("Control+C")
    assert clipboard(page) == r"$\int_0^1 x^2\,dx = \frac{1}{3}$"
    page.evaluate("getSelection().removeAllRanges()")

    # Copy gives the Markdown source, backslashes and all; so does a user message's Copy.
    reply.hover()
    reply.get_by_role("button", name="Copy", exact=True).click()
    expect(reply.get_by_role("button", name="Copied")).to_be_visible()
    assert clipboard(page) == MATH_REPLY
    mine = page.locator("article.msg-user").last
    mine.hover()
    mine.get_by_role("button", name="Copy", exact=True).click()
    expect(mine.get_by_role("button", name="Copied")).to_be_visible()
    assert clipboard(page) == r"What is $\int_0^1 x^2\,dx$?"
    # The user's own text is plain text: no math rendered there.
    expect(mine.locator(".msg-body")).to_have_text(r"What is $\int_0^1 x^2\,dx$?")
    page.mouse.move(5, 5)
    expect(mine.get_by_role("button", name="Copy", exact=True)).to_be_visible()
    expect(reply.get_by_role("button", name="Copy", exact=True)).to_be_visible()
    shot(page, "80-math")
    assert_axe_clean(page, server, "a reply with math")

    # A reload renders the stored text the same way.
    page.reload()
    expect(page.locator("article.msg-assistant").last.locator(".msg-body math")).to_have_count(5)
    guard.check()


def test_math_streams_in_small_pieces_and_in_dark_on_a_phone(
    server: Server, open_page: Any
) -> None:
    user = server.new_user("mathphone")
    page, guard = open_page(
        user,
        color_scheme="dark",
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
    )
    goto(page, server.url + "/")
    wide = r"$$\sum_{k=0}^{\infty} \frac{x^k}{k!} = 1 + x + \frac{x^2}{2} + \frac{x^3}{6} + \frac{x^4}{24} + \frac{x^5}{120} + \cdots = e^x$$"
    server.upstream.reply = MATH_REPLY + "\n" + wide + "\n"
    server.upstream.chunk_size = 3
    send(page, "Math on a phone")
    wait_idle(page)
    body = page.locator("article.msg-assistant").last.locator(".msg-body")
    expect(body.locator("math")).to_have_count(6)
    # The wide formula scrolls inside its own block; the page does not scroll sideways.
    block = body.locator(".math-block").last
    sizes = block.evaluate("(e) => [e.scrollWidth, e.clientWidth]")
    assert sizes[0] > sizes[1], sizes
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    # Time is always shown where there is no hover.
    expect(page.locator("article.msg-assistant time.msg-time").last).to_have_css("opacity", "1")
    block.scroll_into_view_if_needed()
    shot(page, "82-math-phone-dark")
    assert_axe_clean(page, server, "a reply with math on a phone, dark")
    guard.check()


def test_sanitiser_lets_through_only_katex_mathml(server: Server, open_page: Any) -> None:
    user = server.new_user("mathsan")
    page, guard = open_page(user)
    goto(page, server.url + "/")
    hostile = [
        r"$\href{javascript:window.__pwned=1}{x}$",
        r"$\url{javascript:alert(1)}$",
        r"$\htmlStyle{background:url(https://attacker.example/m)}{x}$",
        r"$\htmlClass{sidebar}{x}\htmlId{send}{y}\htmlData{a=b}{z}$",
        r"$\includegraphics{https://attacker.example/i.png}$",
        r"$$\rule{1000em}{1000em}$$",
        r"$a\kern{-50em}b\mkern{-900mu}c\hspace{-80em}d$",
        r"$\raisebox{-40em}{x}$",
        r"$\fcolorbox{red}{blue}{boxed}\colorbox{yellow}{y}\color{#0a0}{g}$",
        r"$\text{<img src=x onerror=alert(1)>}$",
        r"$\pmb{x}\boldsymbol{y}$",
        r"$$\begin{pmatrix}a&b\\c&d\end{pmatrix}\tag{1}$$",
        r"$$\begin{aligned}x&=1\\y&=2\end{aligned}$$",
        r"$\sqrt[3]{x}\overbrace{a+b}^{n}\underbrace{c}_{m}\xrightarrow{f}\cancel{5}\not=\llap{l}\rlap{r}$",
    ]
    result = page.evaluate(
        f"""(items) => {{
      const check = {MATHML_CHECK};
      const out = [];
      for (const src of items) {{
        const box = document.createElement('div');
        box.className = 'md';
        window.chatRender.renderMarkdown(box, src);
        document.getElementById('messages').append(box);
        const bad = check(box);
        for (const e of box.querySelectorAll('*')) {{
          for (const a of e.attributes) {{
            if (a.name === 'style' && ['mtable', 'mtd'].includes(e.localName)) continue;  // checked above
            if (/^on|^style$|href$|^src$|^id$/i.test(a.name)) bad.push(e.localName + '@' + a.name);
          }}
          if (e.classList.contains('sidebar')) bad.push('page class');
        }}
        const spaces = [...box.querySelectorAll('[width],[lspace],[voffset],[height],[depth]')].flatMap(
          (e) => ['width', 'lspace', 'voffset', 'height', 'depth'].map((n) => e.getAttribute(n)).filter(Boolean));
        out.push({{src, bad, spaces, math: box.querySelectorAll('math').length, html: box.innerHTML.length}});
        box.remove();
      }}
      return out;
    }}""",
        hostile,
    )
    for r in result:
        assert r["bad"] == [], r
        for value in r["spaces"]:
            # No length over the caps survives (maxSize 20em from KaTeX; negative space at most 3em).
            number = float(value.rstrip("emptxuwidh%").lstrip("+") or 0)
            assert -3 <= number <= 250, (r["src"], value)
    by_src = {r["src"]: r for r in result}
    assert by_src[hostile[5]]["math"] == 1
    assert all(r["math"] == 1 for r in result), [r["src"] for r in result if r["math"] != 1]
    guard.check()


def test_task_lists_and_footnotes(server: Server, open_page: Any) -> None:
    user = server.new_user("details")
    page, guard = open_page(user)
    goto(page, server.url + "/")
    server.upstream.reply = DETAILS_REPLY
    send(page, "Plan?")
    wait_idle(page)
    body = page.locator("article.msg-assistant").last.locator(".msg-body")

    # Task items: marks with a label, no checkbox (inputs stay forbidden).
    assert body.locator("input").count() == 0
    expect(body.get_by_role("img", name="Done", exact=True)).to_have_count(1)
    expect(body.get_by_role("img", name="Not done", exact=True)).to_have_count(1)
    expect(body.locator("li.task-item")).to_have_count(2)
    expect(body.locator("li").nth(2)).to_have_text("plain item")

    # Footnotes: numbered in citation order, listed at the end, in a labelled section.
    refs = body.locator("sup.fn-ref a")
    expect(refs).to_have_count(3)
    assert refs.all_text_contents() == ["1", "2", "1"]
    notes = body.get_by_role("region", name="Notes")
    expect(notes.locator("li")).to_have_count(2)
    expect(notes.locator("li").first).to_contain_text("The first note.")
    expect(notes.locator("li").nth(1)).to_contain_text("A second paragraph of that note.")
    hash_before = page.evaluate("location.hash")
    refs.nth(1).click()
    expect(notes.locator("li").nth(1)).to_be_focused()
    assert page.evaluate("location.hash") == hash_before
    notes.locator("li").nth(1).get_by_role("link", name="Back to the text of note 2").click()
    expect(refs.nth(1)).to_be_focused()
    assert page.evaluate("location.hash") == hash_before
    shot(page, "81-task-list-and-footnotes")
    assert_axe_clean(page, server, "a reply with a task list and footnotes")

    # A second reply with notes: ids stay unique on the page.
    send(page, "Again?")
    wait_idle(page)
    ids = page.evaluate(
        "[...document.querySelectorAll('#messages [id]')].map((e) => e.id).filter((i) => /^fn/.test(i))"
    )
    assert len(ids) == len(set(ids)) and len(ids) == 2 * 5, ids

    # The same conversation in dark mode.
    dark, dark_guard = open_page(user, color_scheme="dark")
    goto(dark, page.url)
    expect(dark.locator("article.msg-assistant")).to_have_count(2)
    dark.locator("article.msg-assistant").first.locator(
        "section.footnotes"
    ).scroll_into_view_if_needed()
    shot(dark, "81-task-list-and-footnotes-dark")
    assert_axe_clean(dark, server, "a reply with a task list and footnotes, dark")
    dark_guard.check()
    guard.check()


def test_message_time_on_hover_and_focus(server: Server, open_page: Any) -> None:
    user = server.new_user("clock")
    page, guard = open_page(user)
    goto(page, server.url + "/")
    server.upstream.reply = "A short answer."
    send(page, "What time is it?")
    wait_idle(page)
    page.mouse.move(5, 5)
    for role in ("user", "assistant"):
        art = page.locator(f"article.msg-{role}").last
        time_el = art.locator("time.msg-time")
        expect(time_el).to_have_count(1)
        stamp = time_el.get_attribute("datetime") or ""
        assert stamp.endswith("Z") and "T" in stamp, stamp
        assert len(time_el.get_attribute("title") or "") > 10
        expect(time_el).to_have_css("opacity", "0")
        art.hover()
        expect(time_el).to_have_css("opacity", "1")
        page.mouse.move(5, 5)
        expect(time_el).to_have_css("opacity", "0")
    # Keyboard: focus inside the reply (its Copy button) shows its time.
    reply = page.locator("article.msg-assistant").last
    reply.get_by_role("button", name="Copy", exact=True).focus()
    expect(reply.locator("time.msg-time")).to_have_css("opacity", "1")
    shot(page, "83-message-time-on-focus")
    guard.check()


def test_share_page_renders_math_and_notes(server: Server, open_page: Any) -> None:
    user = server.new_user("mathshare")
    token = server.app.extensions["shares"].create(
        user,
        "c_math",
        {
            "chat_name": "Math shared",
            "messages": [
                {"role": "user", "text": "Area?", "timestamp": 1767378354.1},
                {
                    "role": "assistant",
                    "text": r"It is $\frac{1}{3}$[^1].\n\n[^1]: By $\int_0^1 x^2\,dx$.".replace(
                        r"\n", "\n"
                    ),
                    "timestamp": 1767378360.2,
                },
            ],
        },
    )
    page, guard = open_page(color_scheme="dark")
    page.goto(f"{server.url}/share/{token}")
    reply = page.locator(".msg-assistant")
    expect(reply.locator("math")).to_have_count(2)
    assert json.dumps(reply.locator("math annotation").all_text_contents()) == json.dumps(
        [r"\frac{1}{3}", r"\int_0^1 x^2\,dx"]
    )
    expect(reply.locator("section.footnotes li")).to_have_count(1)
    shot(page, "84-share-math-dark")
    guard.check()


EDGE_CASES = [
    # (source, TeX of each formula in order, text the rendering shows, or None to skip that check)
    (r"*em $a*b$ em*", ["a*b"], None),
    (r"__strong $a_1 + b_2$ strong__", ["a_1 + b_2"], None),
    (r"$x$5 stays", [], "$x$5 stays"),
    (r"a $ b $ c", [], "a $ b $ c"),
    (r"US$5 and $6 or $7.50", [], "US$5 and $6 or $7.50"),
    (r"from $1,000 to $2,000", [], "from $1,000 to $2,000"),
    (r"escaped \$5 and \$6", [], "escaped $5 and $6"),
    (r"inline display $$x^2$$ here", ["x^2"], None),
    ("| a | b |\n|---|---|\n| $x_1$ | $y^2$ |", ["x_1", "y^2"], None),
    (r"no note [^1] here", [], "no note [^1] here"),
    (r"half a formula $x^2", [], "half a formula $x^2"),
    (r"code `\(x\)` and `$y$`", [], r"code \(x\) and $y$"),
    ("$$\na\\\\\nb\n$$", ["\na\\\\\nb\n"], None),
    (r"\[x\] then \(y\)", ["x", "y"], None),
]


def test_math_edge_cases_through_the_page_renderer(server: Server, open_page: Any) -> None:
    user = server.new_user("mathedge")
    page, guard = open_page(user)
    goto(page, server.url + "/")
    results = page.evaluate(
        """(items) => items.map((src) => {
      const box = document.createElement('div');
      window.chatRender.renderMarkdown(box, src);
      return {
        tex: [...box.querySelectorAll('math annotation')].map((a) => a.textContent),
        text: box.textContent.trim(),
        emMath: box.querySelectorAll('em math, strong math').length,
      };
    })""",
        [src for src, _, _ in EDGE_CASES],
    )
    for (src, tex, text), got in zip(EDGE_CASES, results, strict=True):
        assert got["tex"] == tex, (src, got)
        if text is not None:
            assert got["text"] == text, (src, got)
    # Emphasis around a formula with * or _ inside still closes after it.
    assert results[0]["emMath"] == 1 and results[1]["emMath"] == 1, results[:2]
    guard.check()


def test_array_lines_and_alignment_become_cell_styles(server: Server, open_page: Any) -> None:
    user = server.new_user("matharray")
    page, guard = open_page(user)
    goto(page, server.url + "/")
    styles = page.evaluate(
        r"""(src) => {
      const box = document.createElement('div');
      box.className = 'md';
      window.chatRender.renderMarkdown(box, src);
      document.getElementById('messages').append(box);
      const rows = [...box.querySelectorAll('mtable > mtr')];
      const out = rows.map((r) => [...r.children].map((c) => [c.style.textAlign, c.style.borderRightStyle,
        c.style.borderBottomStyle]));
      box.remove();
      return out;
    }""",
        r"$$\begin{array}{l|r}a & bb \\ \hline ccc & d\end{array}$$",
    )
    assert styles == [
        [["left", "solid", "solid"], ["right", "", "solid"]],
        [["left", "solid", ""], ["right", "", ""]],
    ], styles
    guard.check()
