"""The JSON backend of conversation templates.

A user's private templates live in `<user>/.templates.json` (beside the user's conversations, a
dot-name so it never collides with one); shared ones in `.app/templates/shared.json`, each with
its owner. Both are one small JSON object `{id: template}`, rewritten atomically under its sidecar
lock. Making a template shared or private moves it: the new place is written first, then the old
one, so a crash in between leaves a copy in both, and readers prefer the shared one, which the
next change of that template tidies. Implements `TemplateRecords` of
`conversation_manager.store`; imports neither Flask nor an SDK, nor `app`.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..atomic_files import make_private_dir
from ..errors import InvalidId
from ..names import validate_user
from ..store import TemplateRecord
from .layout import check_dir, user_dir
from .state_files import app_dir, locked, os_errors, read_json, write_json_atomic

DEFAULT_LOCK_TIMEOUT = 10.0
TEMPLATES_NAME = ".templates.json"
_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")

__all__ = ["JsonTemplateRecords", "validate_template_id"]


def validate_template_id(template_id: object) -> str:
    """Return `template_id` when it matches the id pattern, else raise InvalidId."""
    if not isinstance(template_id, str) or _ID_RE.fullmatch(template_id) is None:
        raise InvalidId("template_id")
    return template_id


def _text(value: Any, default: str = "") -> str:
    return value if isinstance(value, str) else default


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _entries(value: Any) -> tuple[dict[str, str], ...]:
    if not isinstance(value, list):
        return ()
    return tuple(
        {k: v for k, v in e.items() if isinstance(k, str) and isinstance(v, str)}
        for e in value
        if isinstance(e, dict)
    )


def _record(tid: str, data: Any) -> TemplateRecord | None:
    """The record stored under `tid`, or None when it is malformed (skipped, never an error)."""
    if not isinstance(data, dict) or not isinstance(data.get("owner"), str):
        return None
    if not isinstance(data.get("name"), str) or not isinstance(data.get("instructions"), str):
        return None
    options = data.get("options")
    provider, model = data.get("provider"), data.get("model")
    return TemplateRecord(
        id=tid,
        owner=data["owner"],
        name=data["name"],
        instructions=data["instructions"],
        description=_text(data.get("description")),
        variables=_entries(data.get("variables")),
        messages=_entries(data.get("messages")),
        provider=provider if isinstance(provider, str) else None,
        model=model if isinstance(model, str) else None,
        options=options if isinstance(options, dict) else None,
        shared=bool(data.get("shared")),
        created=_number(data.get("created")),
        updated=_number(data.get("updated")),
    )


def _data(record: TemplateRecord) -> dict[str, Any]:
    return {
        "owner": record.owner,
        "name": record.name,
        "description": record.description,
        "instructions": record.instructions,
        "variables": [dict(v) for v in record.variables],
        "messages": [dict(m) for m in record.messages],
        "provider": record.provider,
        "model": record.model,
        "options": dict(record.options) if record.options is not None else None,
        "shared": record.shared,
        "created": record.created,
        "updated": record.updated,
    }


def _load(path: Path) -> dict[str, Any]:
    try:
        data = read_json(path)
    except ValueError:
        data = None  # a damaged file reads as empty; the next write replaces it
    return data if isinstance(data, dict) else {}


class JsonTemplateRecords:
    """Private templates per user directory, shared ones in one app-wide file."""

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        durable: bool = True,
    ) -> None:
        self.data_dir = Path(os.path.realpath(data_dir))
        self.shared_path = app_dir(self.data_dir, "templates") / "shared.json"
        self.lock_timeout = lock_timeout
        self.durable = durable

    def _own_path(self, user: str, *, create: bool) -> Path | None:
        udir = user_dir(self.data_dir, validate_user(user))
        if not check_dir(udir):
            if not create:
                return None
            with os_errors("creating the user directory"):
                make_private_dir(udir, durable=self.durable)
        return udir / TEMPLATES_NAME

    @contextlib.contextmanager
    def _both(self, owner: str) -> Iterator[tuple[Path, dict[str, Any], dict[str, Any]]]:
        """Hold the owner's lock, then the shared one (always in this order), with both read."""
        own = self._own_path(owner, create=True)
        assert own is not None
        with (
            locked(own, self.lock_timeout),
            locked(self.shared_path, self.lock_timeout),
            os_errors("changing a template"),
        ):
            yield own, _load(own), _load(self.shared_path)

    def _write(self, path: Path, data: dict[str, Any]) -> None:
        write_json_atomic(path, data, durable=self.durable)

    def visible(self, user: str) -> list[TemplateRecord]:
        """Return the user's own templates and every shared one, oldest first."""
        own = self._own_path(user, create=False)
        with os_errors("listing templates"):
            found: dict[str, TemplateRecord] = {}
            for tid, data in (_load(own) if own is not None else {}).items():
                record = _record(tid, data)
                if record is not None and record.owner == user and not record.shared:
                    found[tid] = record
            for tid, data in _load(self.shared_path).items():
                record = _record(tid, data)
                if record is not None and record.shared:
                    found[tid] = record  # a copy left by a crashed move: the shared one wins
        return sorted(found.values(), key=lambda r: (r.created, r.id))

    def get(self, user: str, template_id: str) -> TemplateRecord | None:
        """Return the template when `user` owns it or it is shared, else None."""
        validate_template_id(template_id)
        with os_errors("reading a template"):
            record = _record(template_id, _load(self.shared_path).get(template_id))
            if record is not None and record.shared:
                return record
            own = self._own_path(user, create=False)
            if own is None:
                return None
            record = _record(template_id, _load(own).get(template_id))
        if record is None or record.owner != user or record.shared:
            return None
        return record

    def put(self, record: TemplateRecord) -> None:
        """Store a new template of `record.owner` in its place (the shared file when shared)."""
        validate_template_id(record.id)
        with self._both(record.owner) as (own_path, own, shared):
            if record.shared:
                shared[record.id] = _data(record)
                self._write(self.shared_path, shared)
            else:
                own[record.id] = _data(record)
                self._write(own_path, own)

    def _owned(
        self, owner: str, tid: str, own: dict[str, Any], shared: dict[str, Any]
    ) -> TemplateRecord | None:
        record = _record(tid, shared.get(tid))
        if record is not None and record.owner == owner and record.shared:
            return record
        if record is not None:
            return None  # another user's shared template
        record = _record(tid, own.get(tid))
        return record if record is not None and record.owner == owner else None

    def update(
        self, owner: str, template_id: str, change: Callable[[TemplateRecord], TemplateRecord]
    ) -> TemplateRecord | None:
        """Apply `change` to one of the owner's templates; move it when `shared` changes."""
        validate_template_id(template_id)
        with self._both(owner) as (own_path, own, shared):
            old = self._owned(owner, template_id, own, shared)
            if old is None:
                return None
            new = change(old)
            if new.id != old.id or new.owner != old.owner:
                raise ValueError("a template's id and owner cannot change")
            into, into_path, other, other_path = (
                (shared, self.shared_path, own, own_path)
                if new.shared
                else (own, own_path, shared, self.shared_path)
            )
            into[template_id] = _data(new)
            self._write(into_path, into)  # the new place first: a crash leaves a copy, not a loss
            if other.pop(template_id, None) is not None:
                self._write(other_path, other)
            return new

    def delete(self, owner: str, template_id: str) -> bool:
        """Remove one of the owner's templates (both places, should a crash have left two)."""
        validate_template_id(template_id)
        with self._both(owner) as (own_path, own, shared):
            if self._owned(owner, template_id, own, shared) is None:
                return False
            for data, path in ((shared, self.shared_path), (own, own_path)):
                record = _record(template_id, data.get(template_id))
                if record is not None and record.owner == owner:
                    del data[template_id]
                    self._write(path, data)
            return True
