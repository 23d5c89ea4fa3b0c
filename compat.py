"""The old Assistants-based app's per-user thread files and their conversion into conversations.

Legacy formats (pydantic), their conversion, and the migration run through the conversation store.
Imports no Flask; the openai SDK only inside the opt-in fetch.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, model_validator

from conversation_manager import (
    ConversationError,
    ConversationExists,
    HistoryUnavailable,
    InvalidId,
    JsonConversationStore,
    Legacy,
    Message,
    StorageBusy,
    StorageFull,
    user_dir,
    validate_conversation_id,
    validate_user,
)

History = Literal["imported", "unavailable", "fetched"]

# Citation markers the Assistants API embedded in text, e.g. "【4:0†source】" (fallback when the
# annotations that name them are missing).
CITATION_MARKER = re.compile(r"【\d+(?::\d+)*†[^】]*】")
DEFAULT_CHAT_NAME = "Imported conversation"
_NAME_CHARS = 60
_MS_THRESHOLD = 1e11  # a number this large is milliseconds, not seconds (seconds reach it in 5138)


class MigrationError(Exception):
    """The migration cannot run at all (e.g. the source is not a directory)."""


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


# ---------------------------------------------------------------- conversion


@dataclass(frozen=True)
class Defaults:
    """The app's defaults given to every migrated conversation."""

    model: str
    provider: str
    instructions: str


@dataclass(frozen=True)
class ConversationPlan:
    """Everything `JsonConversationStore.create` needs for one migrated thread."""

    user: str
    conversation_id: str
    chat_name: str
    created_at: float
    last_update: float
    metadata: dict[str, Any]
    history: History
    messages: tuple[dict[str, Any], ...]

    def create_kwargs(self, defaults: Defaults) -> dict[str, Any]:
        """Keyword arguments for the store's `create` (records built with the store's models)."""
        return {
            "chat_name": self.chat_name,
            "model": defaults.model,
            "provider": defaults.provider,
            "instructions": defaults.instructions,
            "metadata": self.metadata,
            "legacy": Legacy(thread_id=self.conversation_id, history=self.history),
            "conversation_id": self.conversation_id,
            "created_at": self.created_at,
            "last_update": self.last_update,
            "messages": [Message.model_validate(m) for m in self.messages],
        }


def message_id(thread_id: str, index: int) -> str:
    """A stable message id, so that a rerun or a dry run plans the very same records."""
    digest = hashlib.sha256(f"{thread_id}\x00{index}".encode()).hexdigest()
    return f"m_{digest[:24]}"


def _chat_name(entry: OldEntry, messages: list[OldMessage]) -> str:
    if entry.chat_name and entry.chat_name.strip():
        return entry.chat_name.strip()[:200]
    metadata = entry.data.metadata or {}
    for key in ("chat_name", "title", "name"):
        value = metadata.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()[:200]
    for message in messages:
        if message.role == "user" and message.text.strip():
            line = message.text.strip().splitlines()[0]
            return line if len(line) <= _NAME_CHARS else line[: _NAME_CHARS - 1].rstrip() + "…"
    return DEFAULT_CHAT_NAME


def plan_conversation(
    record: OldThreadRecord,
    messages: list[OldMessage] | None = None,
    history: History | None = None,
) -> ConversationPlan:
    """Convert one old thread (with its cached or fetched messages) into a conversation plan."""
    entry = record.entry
    if messages is None:
        messages = list(entry.messages or [])
    stamps = [m.timestamp for m in messages if m.timestamp is not None]
    created = next(
        (t for t in (entry.data.created_at, entry.last_update, *stamps) if t is not None), None
    )
    if created is None:
        raise ValueError("neither data.created_at nor last_update nor any message time")
    last_update = entry.last_update
    if last_update is None:
        last_update = max([created, *stamps])

    records: list[dict[str, Any]] = []
    parent: str | None = None
    previous = created
    for index, message in enumerate(messages):
        stamp = message.timestamp if message.timestamp is not None else previous
        previous = stamp
        mid = message_id(record.thread_id, index)
        item: dict[str, Any] = {
            "id": mid,
            "parent_id": parent,
            "role": message.role,
            "text": message.text,
            "timestamp": stamp,
            "response_id": None,
            "metadata": {"imported": True},
        }
        if message.role == "assistant":
            item.update(status="completed", context_mode=None)
        records.append(item)
        parent = mid

    if history is None:
        history = "imported" if records else "unavailable"
    return ConversationPlan(
        user=record.user,
        conversation_id=record.thread_id,
        chat_name=_chat_name(entry, messages),
        created_at=created,
        last_update=last_update,
        metadata={"legacy_metadata": dict(entry.data.metadata or {})},
        history=history,
        messages=tuple(records),
    )


# ---------------------------------------------------------------- fetching (opt-in network)


class FetchFailed(Exception):
    """Fetching a thread's messages failed; `reason` is short and never holds upstream text."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


Fetcher = Callable[[str], list[OldMessage]]


def make_fetcher(*, max_retries: int = 1, timeout: float = 30.0) -> Fetcher:
    """Build a fetcher over the openai SDK (OPENAI_API_KEY and OPENAI_BASE_URL from the env)."""
    import openai  # here, not at the top: only the opt-in fetch loads the SDK

    client = openai.OpenAI(max_retries=max_retries, timeout=timeout)

    def fetch(thread_id: str) -> list[OldMessage]:
        return fetch_thread_messages(client, thread_id)

    return fetch


def fetch_thread_messages(client: Any, thread_id: str) -> list[OldMessage]:
    """List a thread's messages oldest first through all pages; SDK objects never leave here."""
    import openai

    out: list[OldMessage] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            pages = client.beta.threads.messages.list(thread_id, order="asc", limit=100)
            for item in pages:
                raw = item.model_dump(mode="json")
                out.append(OldMessage.model_validate(raw))
    except openai.NotFoundError:
        raise FetchFailed("not_found (404)") from None
    except openai.APIStatusError as exc:
        raise FetchFailed(f"http_{exc.status_code}") from None
    except openai.APITimeoutError:
        raise FetchFailed("timeout") from None
    except openai.APIConnectionError:
        raise FetchFailed("connection_error") from None
    except ValidationError:
        raise FetchFailed("unexpected_message_format") from None
    except openai.OpenAIError as exc:
        raise FetchFailed(type(exc).__name__) from None
    return out


# ---------------------------------------------------------------- the run


@dataclass
class MigrationReport:
    """What a run did (or, dry, would do); `as_dict` is the JSON summary."""

    source: str
    dest: str
    dry_run: bool
    fetch_messages: bool
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    migrated: int = 0
    already_present: int = 0
    messages_imported: int = 0
    messages_fetched: int = 0
    users: dict[str, dict[str, int]] = field(default_factory=dict)
    skipped: list[Skip] = field(default_factory=list)
    fetch_failures: list[dict[str, str]] = field(default_factory=list)
    damaged_present: list[dict[str, str]] = field(default_factory=list)
    plan: list[dict[str, Any]] = field(default_factory=list)
    accounts_needed: list[str] = field(default_factory=list)

    def user_counts(self, user: str) -> dict[str, int]:
        """The per-user counters, created on first use."""
        return self.users.setdefault(user, {"migrated": 0, "already_present": 0, "skipped": 0})

    def count_present(self, user: str) -> None:
        """Record a thread whose conversation already exists (left alone)."""
        self.already_present += 1
        self.user_counts(user)["already_present"] += 1

    def skip(self, skip: Skip) -> None:
        """Record something set aside."""
        self.skipped.append(skip)
        if skip.user is not None and skip.thread_id is not None:
            self.user_counts(skip.user)["skipped"] += 1

    @property
    def exit_code(self) -> int:
        """0 when everything migrated or was already there, 2 when anything was set aside."""
        return 2 if self.skipped else 0

    def as_dict(self) -> dict[str, Any]:
        """The JSON summary."""
        reasons = Counter(s.reason for s in self.skipped)
        return {
            "source": self.source,
            "dest": self.dest,
            "dry_run": self.dry_run,
            "fetch_messages": self.fetch_messages,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "conversations": {
                "migrated": self.migrated,
                "already_present": self.already_present,
                "skipped": sum(1 for s in self.skipped if s.thread_id is not None),
            },
            "files_skipped": sum(1 for s in self.skipped if s.thread_id is None),
            "messages_imported": self.messages_imported,
            "messages_fetched": self.messages_fetched,
            "users": self.users,
            "skipped_reasons": dict(sorted(reasons.items())),
            "skipped": [asdict(s) for s in self.skipped],
            "fetch_failures": self.fetch_failures,
            "damaged_present": self.damaged_present,
            "accounts_needed": self.accounts_needed,
            "exit_code": self.exit_code,
        }


def accounts_needed(dest: Path, users: Iterable[str]) -> list[str]:
    """List `users create` commands for users without `<dest>/.app/users/<name>.json`.

    Before the auth module has made `.app/users/`, every user is listed.
    """
    accounts = Path(dest) / ".app" / "users"
    known = accounts.is_dir()
    return [
        f"flask --app app users create {name}"
        for name in sorted(set(users))
        if not (known and (accounts / f"{name}.json").is_file())
    ]


def _duplicates(files: list[OldFile]) -> set[str]:
    seen: Counter[str] = Counter()
    doubled: set[str] = set()
    for old in files:
        doubled |= old.duplicate_keys
        seen.update({t.thread_id for t in old.threads} | old.duplicate_keys)
    return doubled | {tid for tid, n in seen.items() if n > 1}


def _exists(dest: Path, plan: ConversationPlan) -> bool:
    """Whether the conversation's file is there: a cheap look that reads and writes nothing.

    The store's `create` has the last word under its lock (ConversationExists, HistoryUnavailable).
    """
    return os.path.lexists(user_dir(dest, plan.user) / f"{plan.conversation_id}.json")


def _create(store: JsonConversationStore, plan: ConversationPlan, defaults: Defaults) -> None:
    """Create one conversation, waiting out a busy lock a few times (the app may be writing)."""
    for attempt in range(4):
        try:
            store.create(plan.user, **plan.create_kwargs(defaults))
            return
        except StorageBusy as exc:
            if attempt == 3:
                raise
            time.sleep(min(float(getattr(exc, "retry_after", 1.0) or 1.0), 2.0))


def _migrate_one(
    *,
    record: OldThreadRecord,
    store: JsonConversationStore | None,
    dest: Path,
    defaults: Defaults,
    fetcher: Fetcher | None,
    report: MigrationReport,
) -> None:
    """Plan, check and create one thread's conversation (store None: a dry run), into the report."""

    def skip(reason: str, detail: str = "") -> None:
        report.skip(Skip(record.file, reason, detail, record.user, record.thread_id))

    try:
        plan = plan_conversation(record)
        present = _exists(dest, plan)
    except ValueError as exc:
        return skip("invalid_entry", str(exc)[:200])
    except InvalidId:
        return skip("invalid_thread_id", record.thread_id[:80])
    if present:
        report.count_present(record.user)
        return None

    if fetcher is not None and store is not None:
        try:
            fetched = fetcher(record.thread_id)
        except FetchFailed as exc:
            failure = {"user": record.user, "thread_id": record.thread_id, "reason": exc.reason}
            report.fetch_failures.append(failure)
        else:
            if fetched:
                plan = plan_conversation(record, fetched, "fetched")

    if store is None:
        report.plan.append(
            {
                "user": plan.user,
                "thread_id": plan.conversation_id,
                "chat_name": plan.chat_name,
                "messages": len(plan.messages),
                "history": plan.history,
            }
        )
    else:
        try:
            _create(store, plan, defaults)
        except StorageFull:
            raise
        except StorageBusy:
            return skip("storage_busy", "the store's lock was not had in time; rerun")
        except ConversationExists:  # another run created it meanwhile
            report.count_present(record.user)
            return None
        except HistoryUnavailable:  # its file was damaged and set aside by the app: left alone
            report.count_present(record.user)
            report.damaged_present.append({"user": record.user, "thread_id": record.thread_id})
            return None
        except ConversationError as exc:
            return skip("storage_error", type(exc).__name__)
    report.migrated += 1
    report.user_counts(record.user)["migrated"] += 1
    if plan.history == "fetched":
        report.messages_fetched += len(plan.messages)
    else:
        report.messages_imported += len(plan.messages)
    return None


def migrate(
    source: Path,
    dest: Path,
    defaults: Defaults,
    *,
    dry_run: bool = False,
    only_user: str | None = None,
    fetcher: Fetcher | None = None,
    on_progress: Callable[[int, int, str], None] | None = None,
) -> MigrationReport:
    """Migrate every old user file under `source` into the store at `dest` (see docs)."""
    source, dest = Path(source), Path(dest)
    if not source.is_dir():
        raise MigrationError(f"source {source} is not a directory")
    report = MigrationReport(str(source), str(dest), dry_run, fetcher is not None)
    paths = sorted(
        p for p in source.iterdir() if p.suffix == ".json" and not p.name.startswith(".")
    )
    if only_user is not None and not (source / f"{only_user}.json").is_file():
        raise MigrationError(f"no file {only_user}.json under {source}")
    files = [read_old_file(p) for p in paths]
    doubled = _duplicates(files)
    if only_user is not None:
        files = [f for f in files if f.file == f"{only_user}.json"]

    todo: list[OldThreadRecord] = []
    for old in files:
        for skip in old.skips:
            report.skip(skip)
        for tid in sorted(old.duplicate_keys):
            report.skip(
                Skip(old.file, "duplicate_thread_id", "repeated in this file", old.user, tid)
            )
        for record in old.threads:
            if record.thread_id in doubled:
                if record.thread_id not in old.duplicate_keys:
                    detail = "the same thread id appears in another user's file"
                    report.skip(
                        Skip(
                            record.file,
                            "duplicate_thread_id",
                            detail,
                            record.user,
                            record.thread_id,
                        )
                    )
                continue
            todo.append(record)

    store = None if dry_run else JsonConversationStore(dest)
    for done, record in enumerate(todo, start=1):
        _migrate_one(
            record=record, store=store, dest=dest, defaults=defaults, fetcher=fetcher, report=report
        )
        if on_progress:
            on_progress(done, len(todo), record.user)

    present_users = [u for u, n in report.users.items() if n["migrated"] or n["already_present"]]
    report.accounts_needed = accounts_needed(dest, present_users)
    report.finished_at = time.time()
    return report
