"""Shared set-up of the summary tests: a stateless provider on the fake upstream with a known
window (every turn replays, so long branches get trimmed), and texts of known token counts."""

from __future__ import annotations

from typing import Any

from app.turns.summarise import SUMMARY_INSTRUCTIONS

# Stateless: every turn replays the branch, fitted to 8,000 - 500 - 1,024 = 6,476 tokens.
PROVIDERS = """
default = "plain:gpt-5.4-mini"

[providers.plain]
protocol = "responses"
base_url = "{base_url}"
api_key_env = "PLAIN_KEY"
stateful = false
models = ["gpt-5.4-mini", "gpt-5.4-nano"]

[models."plain:gpt-5.4-mini"]
context_window = 8000
max_output_tokens = 500

[models."plain:gpt-5.4-nano"]
context_window = 8000
max_output_tokens = 500
"""
REPLY = "Noted" + " ok" * 49  # 50 o200k tokens


def words(word: str, n: int) -> str:
    """A text of exactly `n` o200k tokens (each ` word` is one token)."""
    return word + f" {word}" * (n - 1)


def summary_reply(body: dict[str, Any]) -> str:
    """The fake's answer: a summary naming how many messages it was given, else `REPLY`."""
    if body.get("instructions") == SUMMARY_INSTRUCTIONS:
        text = str(body.get("input"))
        return f"SUMMARY of {text.count('User: ')} user messages."
    return REPLY


def is_summary_call(body: dict[str, Any]) -> bool:
    """Whether a recorded request body is a summary call."""
    return body.get("instructions") == SUMMARY_INSTRUCTIONS
