"""One conversation across four real upstream protocols (issue 11, "What must be shown"):
OpenAI -> Anthropic -> Gemini -> DeepSeek -> OpenAI over `POST /chat`, through the real adapters
and SDKs against the fake upstreams on 127.0.0.1, asserting the exact request each upstream
received (body, path, key header), the frames, what is stored and the totals (API.md "Providers",
"What the model receives", `POST /chat`, "Storage"); and a regenerate with another provider.

Imports the app only through `create_app` and the HTTP routes; no fake's private names.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from math import ceil
from pathlib import Path
from typing import Any

import genai_prices
import pytest
from genai_prices import Usage, calc_price

from tests.conftest import SENTINEL_KEY, Frame, login, parse_sse, stored
from tests.fake_upstream import FakeUpstream, Recorded
from tests.fakes import anthropic as fake_anthropic
from tests.fakes import chat_completions as fake_chat
from tests.fakes import gemini as fake_gemini
from tests.fakes.chat_bodies import usage_for
from tests.fakes.gemini_wire import input_tokens as gemini_input_tokens

INSTRUCTIONS = "Answer in one short sentence."
MAX_OUTPUT = 4096
KEYS = {
    "openai": SENTINEL_KEY,
    "anthropic": "sk-ant-test-SENTINEL-7d1e9b20c4a6f385",
    "gemini": "gemini-test-SENTINEL-2b8f6d0e4c1a9735",
    "deepseek": "sk-ds-test-SENTINEL-9c3a5e7f1b2d4068",
}
REPLIES = {
    "openai": "Paris is the capital.",
    "anthropic": "Claude agrees: Paris.",
    "gemini": "Gemini says Paris too.",
    "deepseek": "DeepSeek: yes, Paris.",
}
DEFAULT_MODELS = {
    "openai": "gpt-5.4-mini",
    "anthropic": "claude-sonnet-5-5",
    "gemini": "gemini-3.5-flash",
    "deepseek": "deepseek-v4-flash",
}
PRICE_IDS = {
    "openai": "openai",
    "anthropic": "anthropic",
    "gemini": "google",
    "deepseek": "deepseek",
}
# Cache figures the fakes report, so each adapter's normalisation shows (API.md "Usage").
ANTHROPIC_CACHE_READ, ANTHROPIC_CACHE_WRITE, GEMINI_CACHED = 5, 3, 7
OPENAI_CHAINED_CACHED = 8  # what the Responses fake reports for a known previous_response_id
DEEPSEEK_CACHE_HIT_CAP = 16  # the fake's prompt_cache_hit_tokens: min(16, prompt_tokens // 2)
UNPRICED_MODEL = "gemini-unpriced-preview-x"  # a model the price data does not know
CONVERSATION_KEYS = {
    "conversation_id",
    "chat_name",
    "user_message_id",
    "assistant_message_id",
    "model",
    "provider",
    "context_mode",
}
USAGE_FIELDS = ("input_tokens", "cached_tokens", "cache_write_tokens", "output_tokens")
TOTAL_FIELDS = (*USAGE_FIELDS, "reasoning_tokens")


# -- the four upstreams and the app -----------------------------------------------------------


@pytest.fixture
def anthropic_fake() -> Iterator[fake_anthropic.FakeAnthropic]:
    with fake_anthropic.running() as fake:
        fake.reply = REPLIES["anthropic"]
        fake.cache_read, fake.cache_write = ANTHROPIC_CACHE_READ, ANTHROPIC_CACHE_WRITE
        yield fake


@pytest.fixture
def gemini_fake() -> Iterator[fake_gemini.FakeGemini]:
    with fake_gemini.running() as fake:
        fake.reply = REPLIES["gemini"]
        fake.cached_tokens = GEMINI_CACHED
        yield fake


@pytest.fixture
def deepseek_fake() -> Iterator[fake_chat.FakeChat]:
    with fake_chat.running(fake_chat.FakeChat(style="deepseek")) as fake:
        fake.reply = REPLIES["deepseek"]
        yield fake


@pytest.fixture
def app(
    make_app: Callable[..., Any],
    upstream: FakeUpstream,
    anthropic_fake: fake_anthropic.FakeAnthropic,
    gemini_fake: fake_gemini.FakeGemini,
    deepseek_fake: fake_chat.FakeChat,
) -> Any:
    """The real app with all four providers on, each from its environment shortcut."""
    upstream.reply = REPLIES["openai"]
    return make_app(
        CHAT_INSTRUCTIONS=INSTRUCTIONS,
        CHAT_MAX_OUTPUT_TOKENS=MAX_OUTPUT,
        ANTHROPIC_API_KEY=KEYS["anthropic"],
        ANTHROPIC_BASE_URL=anthropic_fake.base_url,
        GEMINI_API_KEY=KEYS["gemini"],
        GEMINI_BASE_URL=gemini_fake.base_url,
        DEEPSEEK_API_KEY=KEYS["deepseek"],
        DEEPSEEK_BASE_URL=deepseek_fake.root_url,  # DeepSeek's own form: a root, no /v1
    )


class Session:
    """A logged-in client that keeps every response body, to look for keys in them at the end."""

    def __init__(self, app: Any) -> None:
        self.client = login(app.test_client(), app)
        self.bodies: list[bytes] = []

    def turn(self, **body: Any) -> list[Frame]:
        response = self.client.post("/chat", json=body)
        self.bodies.append(response.data)
        assert response.status_code == 200, response.data
        assert response.mimetype == "text/event-stream"
        return parse_sse(response.data)

    def get(self, url: str) -> dict[str, Any]:
        response = self.client.get(url)
        self.bodies.append(response.data)
        assert response.status_code == 200, response.data
        result: dict[str, Any] = response.get_json()
        return result

    def put(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.client.put(url, json=body)
        self.bodies.append(response.data)
        assert response.status_code == 200, response.data
        result: dict[str, Any] = response.get_json()
        return result


# -- what each fake reports, normalised as API.md "Usage" says ---------------------------------


def _deltas(text: str) -> int:
    return ceil(len(text) / 4)  # every fake sends the reply in deltas of 4 characters


def _usage(input_tokens: int, cached: int, write: int, output: int) -> dict[str, int]:
    return {
        "input_tokens": input_tokens,
        "cached_tokens": cached,
        "cache_write_tokens": write,
        "output_tokens": output,
        "reasoning_tokens": 0,
        "total_tokens": input_tokens + output,
    }


def openai_usage(body: dict[str, Any], *, chained: bool) -> dict[str, int]:
    """The Responses fake's figures (input already inclusive of cache reads)."""
    n_in = max(1, len(json.dumps(body["input"])) // 4 + len(body["instructions"]) // 4)
    cached = OPENAI_CHAINED_CACHED if chained else 0
    return _usage(n_in, cached, 0, _deltas(REPLIES["openai"]))


def anthropic_usage(body: dict[str, Any]) -> dict[str, int]:
    """Anthropic's `input_tokens` excludes cache reads and writes: the app adds them back."""
    exclusive = max(1, len(json.dumps(body["messages"])) // 4) + max(
        1, len(json.dumps(body["system"])) // 4
    )
    total_in = exclusive + ANTHROPIC_CACHE_READ + ANTHROPIC_CACHE_WRITE
    return _usage(
        total_in, ANTHROPIC_CACHE_READ, ANTHROPIC_CACHE_WRITE, _deltas(REPLIES["anthropic"])
    )


def gemini_usage(body: dict[str, Any], reply: str) -> dict[str, int]:
    """Gemini's promptTokenCount includes cachedContentTokenCount."""
    return _usage(gemini_input_tokens(body), GEMINI_CACHED, 0, _deltas(reply))


def deepseek_usage(body: dict[str, Any]) -> dict[str, int]:
    """DeepSeek's cache reads are `prompt_cache_hit_tokens`."""
    wire = usage_for(body, _deltas(REPLIES["deepseek"]), 0, "deepseek")
    assert wire["prompt_cache_hit_tokens"] == min(
        DEEPSEEK_CACHE_HIT_CAP, wire["prompt_tokens"] // 2
    )
    return _usage(
        wire["prompt_tokens"], wire["prompt_cache_hit_tokens"], 0, wire["completion_tokens"]
    )


def priced(provider: str, model: str, usage: dict[str, int]) -> tuple[float, dict[str, Any]]:
    """The cost and the rates record the price data gives for this usage, computed here."""
    calc = calc_price(
        Usage(
            input_tokens=usage["input_tokens"],
            cache_read_tokens=usage["cached_tokens"],
            cache_write_tokens=usage["cache_write_tokens"],
            output_tokens=usage["output_tokens"],
        ),
        model,
        provider_id=PRICE_IDS[provider],
    )
    mp = calc.model_price

    def rate(value: object, default: Decimal) -> float:
        # The four default models have flat rates; a tiered one would need the tier's rate.
        assert value is None or isinstance(value, Decimal), "untiered models only"
        return float(default if value is None else value)

    base = mp.input_mtok
    assert isinstance(base, Decimal) and mp.output_mtok is not None
    record = {
        "input": float(base),
        "cached_input": rate(mp.cache_read_mtok, base),
        "cache_write": rate(mp.cache_write_mtok, base),
        "output": rate(mp.output_mtok, base),
        "source": f"genai-prices {genai_prices.__version__}",
    }
    return float(calc.total_price), record


# -- shared checks ------------------------------------------------------------------------------


def text_turns(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"role": role, "content": text} for role, text in pairs]


def check_frames(
    frames: list[Frame],
    *,
    provider: str,
    model: str,
    context_mode: str,
    reply: str,
    rec: Recorded,
    usage: dict[str, int],
    price: tuple[float, dict[str, Any]] | None,
) -> dict[str, Any]:
    """`conversation` first, the deltas, `done` last, numbered from 1; returns the first's data."""
    first, last = frames[0], frames[-1]
    events = [f.event for f in frames]
    assert events[0] == "conversation" and events[-1] == "done"
    assert set(events[1:-1]) == {"delta"}  # the relay may join upstream deltas into fewer frames
    mid = first.data["assistant_message_id"]
    assert [f.id for f in frames] == [f"{mid}:{n}" for n in range(1, len(frames) + 1)]
    assert set(first.data) == CONVERSATION_KEYS
    assert (first.data["provider"], first.data["model"]) == (provider, model)
    assert first.data["context_mode"] == context_mode
    assert "".join(f.data["text"] for f in frames[1:-1]) == reply
    cost, record = price if price is not None else (None, None)
    assert last.data == {
        "message_id": mid,
        "response_id": rec.response_id,
        "status": "completed",
        "usage": usage,
        "cost_usd": pytest.approx(cost, abs=1e-12) if cost is not None else None,
        "price": record,
        "model": model,
        "provider": provider,
        "context_mode": context_mode,
        "error": None,
        "fallback_from": None,
    }
    return first.data


def check_reply(
    view: dict[str, Any], saved: dict[str, Any], done: dict[str, Any], user_text: str
) -> dict[str, Any]:
    """The branch's last two messages (GET /chat) and the file agree with the `done` frame."""
    user, reply = view["messages"][-2], view["messages"][-1]
    assert (user["role"], user["text"], user["id"]) == ("user", user_text, reply["parent_id"])
    assert reply["id"] == done["message_id"] == view["current_message_id"]
    for key in ("response_id", "status", "usage", "cost_usd", "price", "model", "provider"):
        assert reply[key] == done[key], key
    assert reply["context_mode"] == done["context_mode"]
    on_disk = {m["id"]: m for m in saved["messages"]}[reply["id"]]
    assert (on_disk["provider"], on_disk["model"]) == (done["provider"], done["model"])
    assert on_disk["usage"] == done["usage"] and on_disk["cost_usd"] == done["cost_usd"]
    return reply


def check_totals(view: dict[str, Any], saved: dict[str, Any], listing: dict[str, Any]) -> None:
    """`totals` sum the whole tree's replies; the list entry says the same."""
    replies = [m for m in saved["messages"] if m["role"] == "assistant"]
    totals = view["totals"]
    for key in TOTAL_FIELDS:
        assert totals[key] == sum(m["usage"][key] for m in replies), key
    known = [m["cost_usd"] for m in replies if m["cost_usd"] is not None]
    assert totals["cost_usd"] == pytest.approx(sum(known), abs=1e-12)
    assert totals["unpriced_messages"] == sum(m["cost_usd"] is None for m in replies)
    assert saved["totals"] == totals
    (entry,) = [c for c in listing["conversations"] if c["id"] == view["conversation_id"]]
    assert entry["totals"] == totals
    assert (entry["provider"], entry["model"]) == (view["provider"], view["model"])
    assert entry["message_count"] == len(saved["messages"])


def check_headers(rec: Recorded, provider: str) -> None:
    """The key in its provider's header form, and no other provider's key."""
    headers = rec.headers
    key = KEYS[provider]
    if provider == "gemini":
        assert headers["x-goog-api-key"] == key and "authorization" not in headers
    else:
        assert headers["authorization"] == f"Bearer {key}"
    if provider == "anthropic":
        assert headers["anthropic-version"] == "2026-10-21" and "x-api-key" not in headers
    others = [k for name, k in KEYS.items() if name != provider]
    assert not [k for k in others if any(k in v for v in headers.values())]
    assert not [k for k in KEYS.values() if k in json.dumps(rec.body)]


def check_no_key_anywhere(session: Session, data_dir: Path) -> None:
    """No key in any response the app gave, nor in anything it wrote."""
    written = [p.read_bytes() for p in data_dir.rglob("*") if p.is_file()]
    for key in KEYS.values():
        assert not [b for b in session.bodies if key.encode() in b], key
        assert not [b for b in written if key.encode() in b], key


# -- the tests ----------------------------------------------------------------------------------


def test_one_conversation_across_four_providers_and_back(
    app: Any,
    data_dir: Path,
    upstream: FakeUpstream,
    anthropic_fake: fake_anthropic.FakeAnthropic,
    gemini_fake: fake_gemini.FakeGemini,
    deepseek_fake: fake_chat.FakeChat,
) -> None:
    session = Session(app)
    said = {n: f"Question {n}: the capital of France?" for n in range(1, 6)}
    a = REPLIES
    model = DEFAULT_MODELS

    def after(frames: list[Frame], user_text: str) -> tuple[dict[str, Any], dict[str, Any]]:
        view = session.get(f"/chat?conversation_id={frames[0].data['conversation_id']}")
        saved = stored(data_dir, "alice", view["conversation_id"])
        reply = check_reply(view, saved, frames[-1].data, user_text)
        check_totals(view, saved, session.get("/get-all-conversations"))
        return view, reply

    # Turn 1, openai (the default): first, the message as input, instructions, store.
    frames = session.turn(message=said[1])
    (rec1,) = upstream.responses_requests()
    assert (rec1.path, rec1.body) == (
        "/v1/responses",
        {
            "model": model["openai"],
            "stream": True,
            "input": said[1],
            "instructions": INSTRUCTIONS,
            "max_output_tokens": MAX_OUTPUT,
            "store": True,
            "stream_options": {"include_obfuscation": False},
        },
    )
    check_headers(rec1, "openai")
    usage = openai_usage(rec1.body, chained=False)
    first = check_frames(
        frames,
        provider="openai",
        model=model["openai"],
        context_mode="first",
        reply=a["openai"],
        rec=rec1,
        usage=usage,
        price=priced("openai", model["openai"], usage),
    )
    cid = first["conversation_id"]
    view, reply1 = after(frames, said[1])
    assert reply1["context_mode"] == "first" and "replayed_messages" not in reply1["metadata"]
    assert (view["provider"], view["model"]) == ("openai", model["openai"])
    assert view["last_response_id"] == rec1.response_id

    # Turn 2 names anthropic: the branch replayed as text, instructions as `system`.
    frames = session.turn(message=said[2], conversation_id=cid, provider="anthropic")
    (rec2,) = anthropic_fake.messages_requests()
    assert (rec2.path, rec2.body) == (
        "/v1/messages",
        {
            "max_tokens": MAX_OUTPUT,
            "messages": text_turns(
                ("user", said[1]), ("assistant", a["openai"]), ("user", said[2])
            ),
            "model": model["anthropic"],
            "stream": True,
            "system": INSTRUCTIONS,
        },
    )
    check_headers(rec2, "anthropic")
    usage = anthropic_usage(rec2.body)
    check_frames(
        frames,
        provider="anthropic",
        model=model["anthropic"],
        context_mode="replayed",
        reply=a["anthropic"],
        rec=rec2,
        usage=usage,
        price=priced("anthropic", model["anthropic"], usage),
    )
    view, _ = after(frames, said[2])
    assert (view["provider"], view["model"]) == ("anthropic", model["anthropic"])
    assert view["last_response_id"] is None  # anthropic (not stateful) chains from nothing

    # Turn 3 names gemini: contents with roles user/model, systemInstruction, on v1beta.
    frames = session.turn(message=said[3], conversation_id=cid, provider="gemini")
    (rec3,) = gemini_fake.requests
    history3 = [
        ("user", said[1]),
        ("model", a["openai"]),
        ("user", said[2]),
        ("model", a["anthropic"]),
        ("user", said[3]),
    ]
    assert (rec3.path, rec3.query, rec3.body) == (
        f"/v1beta/models/{model['gemini']}:streamGenerateContent",
        {"alt": ["sse"]},
        {
            "contents": [{"parts": [{"text": text}], "role": role} for role, text in history3],
            "systemInstruction": {"parts": [{"text": INSTRUCTIONS}], "role": "user"},
            "generationConfig": {
                "maxOutputTokens": MAX_OUTPUT,
                "thinkingConfig": {"include_thoughts": True},
            },
        },
    )
    check_headers(rec3, "gemini")
    usage = gemini_usage(rec3.body, a["gemini"])
    check_frames(
        frames,
        provider="gemini",
        model=model["gemini"],
        context_mode="replayed",
        reply=a["gemini"],
        rec=rec3,
        usage=usage,
        price=priced("gemini", model["gemini"], usage),
    )
    view, _ = after(frames, said[3])
    assert (view["provider"], view["model"]) == ("gemini", model["gemini"])
    assert view["last_response_id"] is None

    # Turn 4 names deepseek: Chat Completions, a system message first, usage in the stream.
    frames = session.turn(message=said[4], conversation_id=cid, provider="deepseek")
    (rec4,) = deepseek_fake.requests
    later = text_turns(
        ("user", said[2]),
        ("assistant", a["anthropic"]),
        ("user", said[3]),
        ("assistant", a["gemini"]),
        ("user", said[4]),
        ("assistant", a["deepseek"]),
    )
    assert (rec4.path, rec4.body) == (
        "/chat/completions",
        {
            "model": model["deepseek"],
            "stream": True,
            "messages": [
                {"role": "system", "content": INSTRUCTIONS},
                *text_turns(("user", said[1]), ("assistant", a["openai"])),
                *later[:5],
            ],
            "stream_options": {"include_usage": True},
            "max_tokens": MAX_OUTPUT,
        },
    )
    check_headers(rec4, "deepseek")
    usage = deepseek_usage(rec4.body)
    check_frames(
        frames,
        provider="deepseek",
        model=model["deepseek"],
        context_mode="replayed",
        reply=a["deepseek"],
        rec=rec4,
        usage=usage,
        price=priced("deepseek", model["deepseek"], usage),
    )
    view, _ = after(frames, said[4])
    assert (view["provider"], view["model"]) == ("deepseek", model["deepseek"])
    assert view["last_response_id"] is None

    # Turn 5 back to openai: the hybrid chain from turn 1's reply, the later turns as text.
    frames = session.turn(message=said[5], conversation_id=cid, provider="openai")
    assert len(upstream.responses_requests()) == 2
    rec5 = upstream.responses_requests()[-1]
    assert (rec5.path, rec5.body) == (
        "/v1/responses",
        {
            "model": model["openai"],
            "stream": True,
            "input": [*later, {"role": "user", "content": said[5]}],
            "instructions": INSTRUCTIONS,
            "max_output_tokens": MAX_OUTPUT,
            "previous_response_id": rec1.response_id,
            "store": True,
            "stream_options": {"include_obfuscation": False},
        },
    )
    check_headers(rec5, "openai")
    usage = openai_usage(rec5.body, chained=True)
    check_frames(
        frames,
        provider="openai",
        model=model["openai"],
        context_mode="chained",
        reply=a["openai"],
        rec=rec5,
        usage=usage,
        price=priced("openai", model["openai"], usage),
    )
    view, reply5 = after(frames, said[5])
    assert reply5["metadata"]["replayed_messages"] == 6
    assert (view["provider"], view["model"]) == ("openai", model["openai"])
    assert view["last_response_id"] == rec5.response_id

    # The whole branch, each reply labelled with who answered; one call per turn, no retries.
    labels = [(m["role"], m.get("provider"), m.get("model")) for m in view["messages"]]
    assert labels == [
        x
        for name in ("openai", "anthropic", "gemini", "deepseek", "openai")
        for x in (("user", None, None), ("assistant", name, model[name]))
    ]
    assert [m["context_mode"] for m in view["messages"][1::2]] == [
        "first",
        "replayed",
        "replayed",
        "replayed",
        "chained",
    ]
    assert len(anthropic_fake.requests) == len(gemini_fake.requests) == 1
    assert len(deepseek_fake.requests) == 1 and len(upstream.requests) == 2
    assert view["totals"]["unpriced_messages"] == 0
    session.get("/providers")
    check_no_key_anywhere(session, data_dir)


def test_regenerate_with_another_provider_makes_a_labelled_sibling(
    app: Any,
    data_dir: Path,
    upstream: FakeUpstream,
    anthropic_fake: fake_anthropic.FakeAnthropic,
    gemini_fake: fake_gemini.FakeGemini,
) -> None:
    session = Session(app)
    a = REPLIES
    cid = session.turn(message="one")[0].data["conversation_id"]
    second = session.turn(message="two", conversation_id=cid, provider="anthropic")
    user2, claude = second[0].data["user_message_id"], second[0].data["assistant_message_id"]
    with pytest.raises(LookupError):  # the price data does not know this model: cost unknown
        calc_price(Usage(input_tokens=1, output_tokens=1), UNPRICED_MODEL, provider_id="google")

    # Regenerate turn 2's user message with gemini: the branch up to that message, replayed.
    gemini_fake.reply = "Gemini's own answer."
    frames = session.turn(
        conversation_id=cid,
        parent_message_id=user2,
        regenerate=True,
        provider="gemini",
        model=UNPRICED_MODEL,
    )
    (rec,) = gemini_fake.requests
    assert rec.path == f"/v1beta/models/{UNPRICED_MODEL}:streamGenerateContent"
    assert rec.body["contents"] == [
        {"parts": [{"text": "one"}], "role": "user"},
        {"parts": [{"text": a["openai"]}], "role": "model"},
        {"parts": [{"text": "two"}], "role": "user"},
    ]
    check_headers(rec, "gemini")
    first = check_frames(
        frames,
        provider="gemini",
        model=UNPRICED_MODEL,
        context_mode="replayed",
        reply="Gemini's own answer.",
        rec=rec,
        usage=gemini_usage(rec.body, "Gemini's own answer."),
        price=None,  # cost_usd null, price null: never 0, never a guess
    )
    assert first["user_message_id"] == user2
    sibling = first["assistant_message_id"]
    view = session.get(f"/chat?conversation_id={cid}")
    saved = stored(data_dir, "alice", cid)
    reply = check_reply(view, saved, frames[-1].data, "two")
    assert reply["sibling_ids"] == [claude, sibling]
    assert (reply["provider"], reply["model"]) == ("gemini", UNPRICED_MODEL)
    assert (view["provider"], view["model"]) == ("gemini", UNPRICED_MODEL)
    assert view["last_response_id"] is None
    check_totals(view, saved, session.get("/get-all-conversations"))
    assert view["totals"]["unpriced_messages"] == 1
    assert len(anthropic_fake.requests) == 1  # the earlier answer is kept, not asked again

    # The conversation goes on from the sibling: back to openai, chained from turn 1.
    frames = session.turn(message="three", conversation_id=cid, provider="openai")
    rec1, rec3 = upstream.responses_requests()
    assert rec3.body["previous_response_id"] == rec1.response_id
    assert rec3.body["input"] == text_turns(
        ("user", "two"), ("assistant", "Gemini's own answer."), ("user", "three")
    )
    assert frames[-1].data["context_mode"] == "chained"
    view = session.get(f"/chat?conversation_id={cid}")
    assert view["messages"][-1]["metadata"]["replayed_messages"] == 2
    assert (view["provider"], view["model"]) == ("openai", DEFAULT_MODELS["openai"])

    # Showing Claude's answer again and going on from it sends that branch, not the sibling.
    shown = session.put(f"/conversations/{cid}/current", {"message_id": claude})
    assert shown["current_message_id"] == claude
    # openai, the conversation's provider, would chain there from turn 1 (rule 2).
    assert shown["last_response_id"] == rec1.response_id
    assert [m["id"] for m in shown["messages"]][-2:] == [user2, claude]
    frames = session.turn(message="three again", conversation_id=cid)
    rec4 = upstream.responses_requests()[-1]
    assert rec4.body["previous_response_id"] == rec1.response_id
    assert rec4.body["input"] == text_turns(
        ("user", "two"), ("assistant", a["anthropic"]), ("user", "three again")
    )
    assert (frames[-1].data["provider"], frames[-1].data["context_mode"]) == ("openai", "chained")
    view = session.get(f"/chat?conversation_id={cid}")
    saved = stored(data_dir, "alice", cid)
    check_totals(view, saved, session.get("/get-all-conversations"))
    assert len(saved["messages"]) == 9  # 2 + 2 + the sibling + 2 + 2
    check_no_key_anywhere(session, data_dir)
