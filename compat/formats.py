"""The old app's per-user thread file format (pydantic), its times and content, and reading one file.

Read-only: the old files are never changed. Imports no Flask and no SDK.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, model_validator

from conversation_manager import InvalidId, validate_conversation_id, validate_user

# Citation markers the Assistants API embedded in text, e.g. "【4:0†source】" (fallback when the
# annotations that name them are missing).
CITATION_MARKER = re.compile(r"【\d+(?::\d+)*†[^】]*】")
_MS_THRESHOLD = 1e11  # a number this large is milliseconds, not seconds (seconds reach it in 5138)


# ---------------------------------------------------------------- times and content


def to_unix(value: Any) -> float | None:
    """Turn Unix seconds (or milliseconds), a numeric or an ISO 8601 string into Unix seconds."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError("a boolean is not a time")
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            number = float(text)
        except ValueError:
            try:
                parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
            except ValueError:
                raise ValueError(f"not a time: {text[:40]!r}") from None
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            return parsed.timestamp()
    elif isinstance(value, int | float):
        number = float(value)
    else:
        raise ValueError(f"not a time: {type(value).__name__}")
    if not math.isfinite(number) or number < 0:
        raise ValueError("time out of range")
    return number / 1000.0 if number >= _MS_THRESHOLD else number


Timestamp = Annotated[float | None, BeforeValidator(to_unix)]


def strip_citations(value: str, annotations: Iterable[Any] = ()) -> str:
    """Remove a text part's citation markers: the annotations' own `text` first, then a regex."""
    for annotation in annotations:
        ann = annotation if isinstance(annotation, dict) else {}
        marker = ann.get("text")
        if not isinstance(marker, str) or not marker:
            continue
        replacement = ""
        file_path = ann.get("file_path")
        if ann.get("type") == "file_path" and isinstance(file_path, dict):
            replacement = f"[file: {file_path.get('file_id', '')}]"
        value = value.replace(marker, replacement)
    return CITATION_MARKER.sub("", value)


def _part_text(part: Any) -> str:
    if isinstance(part, str):
        return strip_citations(part)
    if not isinstance(part, dict):
        raise ValueError(f"content part of type {type(part).__name__}")
    kind = part.get("type", "text")
    if kind in ("text", "input_text", "output_text"):
        text = part.get("text")
        if isinstance(text, dict):  # Assistants wire format: {"value", "annotations"}
            value = text.get("value", "")
            if not isinstance(value, str):
                raise ValueError("text part without a string value")
            return strip_citations(value, text.get("annotations") or ())
        if not isinstance(text, str):
            raise ValueError("text part without text")
        return strip_citations(text, part.get("annotations") or ())
    if kind == "image_file":
        image = part.get("image_file") or {}
        return f"[image: {image.get('file_id', 'file')}]"
    if kind == "image_url":
        url = str((part.get("image_url") or {}).get("url", ""))
        return "[image]" if not url or url.startswith("data:") else f"[image: {url[:200]}]"
    if kind == "refusal":
        return str(part.get("refusal") or "")
    return f"[{str(kind)[:40]} omitted]"


def content_text(content: Any) -> str:
    """Flatten an old message's content (a string or a list of parts) into plain text."""
    if isinstance(content, str):
        return strip_citations(content)
    if isinstance(content, dict):
        content = [content]
    if not isinstance(content, list):
        raise ValueError(f"content of type {type(content).__name__}")
    return "\n".join(t for t in (_part_text(p) for p in content) if t)


# ---------------------------------------------------------------- old formats


class OldMessage(BaseModel):
    """A message cached in an old entry, or fetched from a thread: a role and its text."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    role: Literal["user", "assistant"]
    text: str
    timestamp: Timestamp = None

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, raw: Any) -> Any:
        if not isinstance(raw, dict):
            raise ValueError("a message must be an object")
        role = raw.get("role")
        if isinstance(role, str):
            role = role.strip().lower()
        if "text" in raw and raw["text"] is not None:
            text = raw["text"]
            if isinstance(text, dict):
                text = content_text([{"type": "text", "text": text}])
            if not isinstance(text, str):
                raise ValueError("text must be a string")
            text = strip_citations(text)
        elif "content" in raw and raw["content"] is not None:
            text = content_text(raw["content"])
        else:
            raise ValueError("a message needs text or content")
        stamp = raw.get("timestamp", raw.get("created_at"))
        return {"role": role, "text": text, "timestamp": stamp}


class OldThread(BaseModel):
    """The Assistants API thread object the old app kept under `data`."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str | None = None
    object: Literal["thread"] = "thread"
    created_at: Timestamp = None
    metadata: dict[str, Any] | None = None


class OldEntry(BaseModel):
    """One entry of `static/chats/<user>.json`, keyed by thread id."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    data: OldThread
    chat_name: str | None = None
    last_update: Timestamp = None
    messages: list[OldMessage] | None = None


@dataclass(frozen=True)
class Skip:
    """Something set aside: a file, a user or one thread, and why."""

    file: str
    reason: str
    detail: str = ""
    user: str | None = None
    thread_id: str | None = None


@dataclass(frozen=True)
class OldThreadRecord:
    """A parsed, valid old entry with its owner and thread id."""

    user: str
    thread_id: str
    entry: OldEntry
    file: str


@dataclass(frozen=True)
class OldFile:
    """The outcome of reading one old user file: its valid threads and what was set aside."""

    user: str
    file: str
    threads: tuple[OldThreadRecord, ...]
    skips: tuple[Skip, ...]
    duplicate_keys: frozenset[str] = frozenset()


def _load_json(raw: bytes) -> tuple[Any, set[str]]:
    """Parse JSON, noting the keys repeated in the top-level object (json keeps only the last)."""
    repeated: dict[int, set[str]] = {}

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) != len(pairs):
            counts = Counter(k for k, _ in pairs)
            repeated[id(obj)] = {k for k, n in counts.items() if n > 1}
        return obj

    value = json.loads(raw.decode("utf-8-sig"), object_pairs_hook=pairs_hook)
    return value, repeated.get(id(value), set())


def _error_text(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "entry"
    return f"{where}: {first.get('msg', 'invalid')}"[:200]


def read_old_file(path: Path) -> OldFile:
    """Read one `<user>.json` read-only; never raises for bad content, it reports it."""
    name = path.name
    user = path.stem
    try:
        validate_user(user)
    except InvalidId:
        return OldFile(user, name, (), (Skip(name, "invalid_user_name", repr(user)),))

    def whole(reason: str, detail: str = "") -> OldFile:
        return OldFile(user, name, (), (Skip(name, reason, detail, user=user),))

    try:
        with open(path, "rb") as handle:  # read-only: the old files are never changed
            raw = handle.read()
    except OSError as exc:
        return whole("unreadable_file", exc.strerror or type(exc).__name__)
    if not raw.strip():
        return whole("empty_file")
    try:
        document, repeated = _load_json(raw)
    except UnicodeDecodeError:
        return whole("bad_encoding", "not UTF-8")
    except (json.JSONDecodeError, RecursionError) as exc:
        return whole("bad_json", str(exc)[:200])
    if not isinstance(document, dict):
        return whole("not_an_object", type(document).__name__)

    threads: list[OldThreadRecord] = []
    skips: list[Skip] = []
    for thread_id, raw_entry in document.items():
        try:
            validate_conversation_id(thread_id)
        except InvalidId:
            skips.append(Skip(name, "invalid_thread_id", "", user, thread_id[:80]))
            continue
        try:
            entry = OldEntry.model_validate(raw_entry)
        except ValidationError as exc:
            skips.append(Skip(name, "invalid_entry", _error_text(exc), user, thread_id))
            continue
        if entry.data.id is not None and entry.data.id != thread_id:
            detail = f"data.id {entry.data.id[:64]!r} differs from its key"
            skips.append(Skip(name, "invalid_entry", detail, user, thread_id))
            continue
        threads.append(OldThreadRecord(user, thread_id, entry, name))
    return OldFile(user, name, tuple(threads), tuple(skips), frozenset(repeated))
