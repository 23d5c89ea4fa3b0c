"""Offline token counts: tiktoken with the bundled encodings, the per-script estimate, calibration by
the provider's reported input tokens, and the per-message cache."""

from __future__ import annotations

import socket
from typing import Any

import pytest

import conversation_manager as cm
from app.context import TokenCounter, calibration, counter_for, encoding_for_model, estimate_tokens
from app.context import tokens as tokens_module


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-5.4-mini", "o200k_base"),
        ("gpt-4o-2024-08-06", "o200k_base"),
        ("gpt-4.1-nano", "o200k_base"),
        ("o3-mini", "o200k_base"),
        ("openai/gpt-5.4", "o200k_base"),  # a router's vendor prefix
        ("gpt-4-turbo", "cl100k_base"),
        ("gpt-3.5-turbo", "cl100k_base"),
        ("claude-sonnet-5-5", None),
        ("llama-4-8b", None),
        ("", None),
    ],
)
def test_the_encoding_follows_the_model(model: str, encoding: str | None) -> None:
    assert encoding_for_model(model) == encoding


def test_tiktoken_counts_offline_as_the_reference_tokenizer_does(monkeypatch: Any) -> None:
    # No network at all: any connection attempt fails the test.
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("token counting tried the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    samples = {
        "hello world": {"o200k_base": 2, "cl100k_base": 2},
        "Ünïcödé 日本語のテキスト <|endoftext|>": {"o200k_base": None, "cl100k_base": 21},
    }
    for text, expected in samples.items():
        for encoding, count in expected.items():
            got = TokenCounter(encoding).raw(text)
            if count is not None:
                assert got == count
            assert got > 0
    # A special token's text in a message is counted as text, never refused.
    assert TokenCounter("o200k_base").raw("<|endoftext|>") > 1


def test_the_estimate_counts_by_script() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd" * 10) == 10  # Latin: four characters a token
    assert estimate_tokens("日本語のテキスト") == 8  # CJK and kana: one a character
    assert estimate_tokens("한국어") == 3  # Hangul
    assert estimate_tokens("Привет") == 3  # other alphabets: two characters a token
    assert estimate_tokens("hi 😀") == 2  # one for "hi " and one for the emoji


def reply(mid: str, *, model: str, reported: int, raw: int, chained: int = 0) -> cm.Message:
    return cm.Message(
        id=mid,
        parent_id=None,
        role="assistant",
        text="x",
        timestamp=1.0,
        status="completed",
        provider="p",
        model=model,
        usage=cm.Usage(input_tokens=reported, output_tokens=1),
        metadata={"token_count": {"method": "estimate", "raw": raw, "chained": chained}},
    )


def conv(*messages: cm.Message) -> cm.Conversation:
    return cm.Conversation(
        id="c_1", chat_name="t", created_at=0, last_update=0, model="m", provider="p",
        messages=list(messages),
    )  # fmt: skip


def test_calibration_is_the_newest_report_over_the_estimate_clamped() -> None:
    assert calibration(conv(), "p", "m") == 1.0
    assert calibration(conv(reply("a", model="m", reported=150, raw=100)), "p", "m") == 1.5
    # The newest reply of that model counts; other models' replies do not.
    two = conv(
        reply("a", model="m", reported=150, raw=100),
        reply("b", model="m", reported=120, raw=100),
        reply("c", model="other", reported=50, raw=100),
    )
    assert calibration(two, "p", "m") == 1.2
    assert calibration(two, "p", "other") == 0.5
    assert calibration(conv(reply("a", model="m", reported=900, raw=100)), "p", "m") == 2.0
    # A chain's reported tokens are the provider's own count: only the rest is compared.
    chained = conv(reply("a", model="m", reported=1100, raw=50, chained=1000))
    assert calibration(chained, "p", "m") == 2.0
    assert (
        calibration(conv(reply("a", model="m", reported=1050, raw=100, chained=1000)), "p", "m")
        == 0.5
    )


def test_the_calibrated_counter_scales_the_estimate_but_never_tiktoken() -> None:
    c = conv(
        reply("a", model="llama", reported=150, raw=100),
        reply("b", model="gpt-5.4", reported=999, raw=1),
    )
    assert counter_for(c, "p", "llama") == TokenCounter("estimate", 1.5)
    assert counter_for(c, "p", "gpt-5.4") == TokenCounter("o200k_base")
    assert TokenCounter("estimate", 1.5).text("abcd" * 10) == 21  # ceil((10 + 4) * 1.5)


def test_message_counts_are_cached_by_id_and_recounted_when_the_text_grows(
    monkeypatch: Any,
) -> None:
    calls: list[str] = []
    real = tokens_module._raw

    def counting(method: str, text: str) -> int:
        calls.append(text)
        return real(method, text)

    monkeypatch.setattr(tokens_module, "_raw", counting)
    counter = TokenCounter()
    message = cm.Message(id="m_cache_1", role="user", text="abcd" * 5, timestamp=1.0)
    assert counter.message(message) == 5 + tokens_module.TURN_OVERHEAD
    assert counter.message(message) == 5 + tokens_module.TURN_OVERHEAD
    assert len(calls) == 1
    message.text += "abcd"  # a continuation: the same id, a longer text
    assert counter.message(message) == 6 + tokens_module.TURN_OVERHEAD
    assert len(calls) == 2
    assert counter.message(cm.Message(id="m_cache_2", role="user", text="", timestamp=1)) == 0


def test_the_cache_keeps_conversations_apart() -> None:
    # The same message id and length in two conversations (a copied or imported one): no mix-up.
    counter = TokenCounter("o200k_base")
    one = cm.Message(id="m_same", role="user", text="hello world", timestamp=1.0)
    two = cm.Message(id="m_same", role="user", text="h e l l o w", timestamp=1.0)
    assert len(one.text) == len(two.text)
    assert counter.message(one, "c_one") == counter.text(one.text)
    assert counter.message(two, "c_two") == counter.text(two.text) != counter.text(one.text)
