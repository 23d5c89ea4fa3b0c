"""The identifier rule: short tokens only, secrets redacted first; reasons normalised."""

from __future__ import annotations

import pytest

from responses_client import clean_token
from responses_client.identifiers import incomplete_reason

KEY = "sk-test-SENTINEL0123456789abcdefXYZ"


@pytest.mark.parametrize(
    "value", ["resp_abc123", "req_0f", "gpt-5.4-mini-2026-01-01", "models/gemini:1", "a" * 128]
)
def test_tokens_kept(value: str) -> None:
    assert clean_token(value, (KEY,)) == value


@pytest.mark.parametrize(
    "value",
    [None, 12, "", "a" * 129, "has space", "<script>", "line\nbreak", "é", "x" * 3000, "a*b"],
)
def test_other_values_dropped(value: object) -> None:
    assert clean_token(value) is None


@pytest.mark.parametrize("value", [KEY, f"req_{KEY}", f"{KEY[:14]}abc", f"x{KEY[:12]}"])
def test_values_holding_a_secret_are_dropped(value: str) -> None:
    assert clean_token(value) is not None  # the pattern alone would keep it
    assert clean_token(value, (KEY,)) is None


def test_short_secrets_do_not_redact_ids() -> None:
    assert clean_token("resp_k", ("k", "")) == "resp_k"


@pytest.mark.parametrize(
    ("raw", "code", "kept"),
    [
        ("max_output_tokens", "max_output_tokens", "max_output_tokens"),
        ("content_filter", "content_filter", "content_filter"),
        ("length", "max_output_tokens", "length"),
        ("SAFETY", "content_filter", "SAFETY"),
        ("max_messages", "other", "max_messages"),
        (f"leaked {KEY}", "other", None),
        (KEY, "other", None),
        ("x" * 3000, "other", None),
        (None, "other", None),
        (42, "other", None),
    ],
)
def test_incomplete_reasons(raw: object, code: str, kept: str | None) -> None:
    assert incomplete_reason(raw, (KEY,)) == (code, kept)
