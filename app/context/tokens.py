"""Count tokens offline (API "Context"): tiktoken with the encodings bundled in the `bpe-openai` wheel
for OpenAI-family models, a calibrated estimate by script for every other model.

Nothing is downloaded, ever: the encodings are read from the installed package and checked against
tiktoken's own sha256 before use. The estimate is corrected by the `input_tokens` a provider reported
for what this app estimated it sent (`metadata.token_count` on each reply, written by the turn's
finish), taken from the conversation itself, so a preview and the turn it predicts agree in every
process.

Counts of stored messages are cached in process by (method, message id, text length): a message's
text only ever changes by growing (a continuation, a repaired interruption), so its length tells a
stale entry; the cache is derived data and never written anywhere.

Imports no Flask and no SDK; tiktoken and the encodings are loaded on first use.
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import importlib.util
import math
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import tiktoken

    from conversation_manager import Conversation, Message

__all__ = [
    "ESTIMATE",
    "TURN_OVERHEAD",
    "TokenCounter",
    "calibration",
    "clear_cache",
    "counter_for",
    "encoding_for_model",
    "estimate_tokens",
    "token_record",
]

ESTIMATE = "estimate"
# Each message costs a few tokens of framing beside its text (role, separators); the same for
# every method, so the estimate and tiktoken agree on what a message is.
TURN_OVERHEAD = 4
# Calibration is clamped: one odd report (a cached prompt, a tool call) must not swing the next
# estimate wildly.
MIN_FACTOR = 0.5
MAX_FACTOR = 2.0
CACHE_LIMIT = 200_000

_ENDOFTEXT = "<|endoftext|>"
_ENDOFPROMPT = "<|endofprompt|>"
# tiktoken's own definitions (tiktoken_ext.openai_public), with the sha256 of each decompressed
# file; a bundled file that does not match is refused.
_O200K_PATTERN = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)
_CL100K_PATTERN = r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
_ENCODINGS: dict[str, tuple[str, str, dict[str, int]]] = {
    "o200k_base": (
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        _O200K_PATTERN,
        {_ENDOFTEXT: 199999, _ENDOFPROMPT: 200018},
    ),
    "cl100k_base": (
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        _CL100K_PATTERN,
        {
            _ENDOFTEXT: 100257,
            "<|fim_prefix|>": 100258,
            "<|fim_middle|>": 100259,
            "<|fim_suffix|>": 100260,
            _ENDOFPROMPT: 100276,
        },
    ),
}
# Model name prefixes (after any `vendor/` part) and their encoding; the first match wins, so the
# longer prefixes come first. o200k_base: gpt-4o, gpt-4.1, gpt-4.5, gpt-5.x, the o-series and
# gpt-oss; cl100k_base: gpt-4, gpt-3.5 and the embedding models.
_MODEL_ENCODINGS = (
    ("gpt-4o", "o200k_base"),
    ("chatgpt-4o", "o200k_base"),
    ("gpt-4.1", "o200k_base"),
    ("gpt-4.5", "o200k_base"),
    ("gpt-5", "o200k_base"),
    ("gpt-oss", "o200k_base"),
    ("o1", "o200k_base"),
    ("o3", "o200k_base"),
    ("o4", "o200k_base"),
    ("codex-", "o200k_base"),
    ("computer-use", "o200k_base"),
    ("gpt-4", "cl100k_base"),
    ("gpt-3.5", "cl100k_base"),
    ("text-embedding-3", "cl100k_base"),
    ("text-embedding-ada", "cl100k_base"),
)
# Scripts written without spaces between words, about one token a character in every tokenizer.
_DENSE = re.compile(
    "[\u1100-\u11ff\u2e80-\u9fff\ua960-\ua97f\uac00-\ud7ff\uf900-\ufaff\uff00-\uffef"
    "\U00020000-\U0003ffff]"
)
# Latin text: about four characters a token; other alphabets (Cyrillic, Greek, Arabic, Hebrew,
# Indic...): about two; emoji and other symbols outside the BMP: about one.
LATIN_CHARS_PER_TOKEN = 4
OTHER_CHARS_PER_TOKEN = 2
_ASTRAL = re.compile("[\U00010000-\U0001ffff]")

# (method, conversation id, message id) -> (text length, raw count)
_cache: dict[tuple[str, str, str], tuple[int, int]] = {}
_load_lock = threading.Lock()


def encoding_for_model(model: str | None) -> str | None:
    """The tiktoken encoding of an OpenAI-family model, or None (the estimate counts it)."""
    if not model:
        return None
    name = model.lower().rpartition("/")[2]
    for prefix, encoding in _MODEL_ENCODINGS:
        if name.startswith(prefix):
            return encoding
    return None


def _bundle() -> Path:
    """The folder of the encodings in the installed `bpe-openai` wheel (its code is not run)."""
    spec = importlib.util.find_spec("bpe_openai")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the bpe-openai package (the bundled encodings) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


@functools.cache
def _encoding(name: str) -> tiktoken.Encoding:
    """The tiktoken Encoding `name`, built from the file bundled in `bpe-openai` (no network)."""
    import tiktoken

    expected, pattern, special = _ENCODINGS[name]
    with _load_lock:
        packed = (_bundle() / f"{name}.tiktoken.gz").read_bytes()
        data = gzip.decompress(packed)
        if hashlib.sha256(data).hexdigest() != expected:
            raise RuntimeError(f"the bundled {name} encoding is not the one tiktoken expects")
        ranks = {
            base64.b64decode(token): int(rank)
            for token, rank in (line.split() for line in data.splitlines() if line)
        }
    return tiktoken.Encoding(name, pat_str=pattern, mergeable_ranks=ranks, special_tokens=special)


def estimate_tokens(text: str) -> int:
    """Estimate the tokens of `text` by script, without a tokenizer (never below 1 for text)."""
    if not text:
        return 0
    if text.isascii():
        return math.ceil(len(text) / LATIN_CHARS_PER_TOKEN)
    dense = len(_DENSE.findall(text))
    astral = len(_ASTRAL.findall(text))
    ascii_chars = len(text.encode("ascii", "ignore"))
    other = len(text) - dense - astral - ascii_chars
    return (
        dense
        + astral
        + math.ceil(ascii_chars / LATIN_CHARS_PER_TOKEN)
        + math.ceil(other / OTHER_CHARS_PER_TOKEN)
    )


def _raw(method: str, text: str) -> int:
    if method == ESTIMATE:
        return estimate_tokens(text)
    return len(_encoding(method).encode_ordinary(text))


@dataclass(frozen=True)
class TokenCounter:
    """Counts for one model: `method` is a tiktoken encoding or `estimate`; `factor` calibrates the
    estimate (always 1 for tiktoken, which is the model's own tokenizer)."""

    method: str = ESTIMATE
    factor: float = 1.0

    def raw(self, text: str) -> int:
        """The uncalibrated count of `text`."""
        return _raw(self.method, text)

    def scale(self, raw: int) -> int:
        """A raw count, calibrated."""
        return raw if self.factor == 1.0 else math.ceil(raw * self.factor)

    def text(self, text: str) -> int:
        """Tokens of `text` as one message of the request (0 for no text)."""
        return self.scale(self.raw(text) + TURN_OVERHEAD) if text else 0

    def message_raw(self, message: Message, scope: str = "") -> int:
        """The uncalibrated tokens of a stored message, framing included (cached by `scope`, its
        conversation's id, and its own id: ids are unique within a conversation)."""
        if not message.text:
            return 0
        key = (self.method, scope, message.id)
        hit = _cache.get(key)
        if hit is not None and hit[0] == len(message.text):
            return hit[1]
        count = _raw(self.method, message.text) + TURN_OVERHEAD
        if len(_cache) >= CACHE_LIMIT:
            _cache.clear()  # derived data: dropping it costs one recount per message
        _cache[key] = (len(message.text), count)
        return count

    def message(self, message: Message, scope: str = "") -> int:
        """Tokens of a stored message as sent in a replay."""
        return self.scale(self.message_raw(message, scope))

    def chars(self, chars: int) -> int:
        """Tokens of a message of `chars` characters not yet written (the preview's new message),
        counted as Latin text."""
        if chars <= 0:
            return 0
        return self.scale(math.ceil(chars / LATIN_CHARS_PER_TOKEN) + TURN_OVERHEAD)


def clear_cache() -> None:
    """Forget every cached message count (benchmarks measure the cold count with it)."""
    _cache.clear()


def calibration(conversation: Conversation | None, provider: str, model: str) -> float:
    """The estimate's correction for `provider:model`: reported / estimated input tokens of the
    newest reply of that model in the conversation that recorded both, clamped; 1 without one."""
    if conversation is None:
        return 1.0
    for message in reversed(conversation.messages):
        if message.role != "assistant" or message.usage is None:
            continue
        if (message.provider or conversation.provider, message.model) != (provider, model):
            continue
        record = message.metadata.get("token_count")
        if not isinstance(record, dict) or record.get("method") != ESTIMATE:
            continue
        raw, chained = record.get("raw"), record.get("chained") or 0
        if not isinstance(raw, int) or not isinstance(chained, int) or raw <= 0:
            continue
        reported = message.usage.input_tokens - chained
        if reported <= 0:
            continue
        return round(min(MAX_FACTOR, max(MIN_FACTOR, reported / raw)), 4)
    return 1.0


def counter_for(conversation: Conversation | None, provider: str, model: str) -> TokenCounter:
    """The counter of `provider:model`: tiktoken when the model is OpenAI's, else the calibrated
    estimate."""
    encoding = encoding_for_model(model)
    if encoding is not None:
        return TokenCounter(encoding)
    return TokenCounter(ESTIMATE, calibration(conversation, provider, model))


def token_record(method: str, raw: int, chained: int) -> dict[str, Any]:
    """What a reply keeps of the estimate (`metadata.token_count`), for the next calibration."""
    return {"method": method, "raw": raw, "chained": chained}
