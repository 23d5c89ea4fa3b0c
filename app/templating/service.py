"""Templates per user: list, create, change, delete, and the start of a conversation from one.

Who sees what (API "Templates"): a user's own templates, and the shared ones while sharing is on
(`CHAT_SHARED_TEMPLATES`); another user's private template does not exist for them (NotFound), and
only the owner may change or delete one. The records are `conversation_manager.store.
TemplateRecords`. Imports no Flask.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import conversation_manager as cm
from conversation_manager.models import SEEDED_MARK
from conversation_manager.store import TemplateRecord, TemplateRecords

from .checks import BadTemplate, check, render

# The fields a user may set; `owner`, `id` and the times are the service's.
FIELDS = frozenset(
    {
        "name",
        "description",
        "instructions",
        "variables",
        "messages",
        "provider",
        "model",
        "options",
        "shared",
    }
)


class SharingOff(ValueError):
    """`shared: true` where the server does not share templates: the request, not the template, is
    wrong (400 `bad_request`); `detail` is the whole sentence a person reads."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def new_template_id() -> str:
    """Return a fresh template id (`t_` + 24 hex digits)."""
    return "t_" + secrets.token_hex(12)


@dataclass(frozen=True)
class TemplateStart:
    """What a conversation started from a template begins with (API "Templates")."""

    template_id: str
    name: str
    instructions: str
    seeded: tuple[tuple[str, str], ...]  # (role, text) before the turn's own message
    text: str  # the turn's user message: the template's trailing user message and/or the turn's
    variables: Mapping[str, str]
    provider: str | None = None
    model: str | None = None
    options: Mapping[str, Any] | None = None

    def messages(self, now: float) -> list[cm.Message]:
        """The seeded messages as a chain: ordinary messages, replies `completed` by no provider."""
        out: list[cm.Message] = []
        for role, text in self.seeded:
            parent = out[-1].id if out else None
            if role == "assistant":
                message = cm.Message(
                    id=cm.new_message_id(),
                    parent_id=parent,
                    role="assistant",
                    text=text,
                    timestamp=now,
                    status="completed",
                    metadata={SEEDED_MARK: True},
                )
            else:
                message = cm.Message(
                    id=cm.new_message_id(), parent_id=parent, role="user", text=text, timestamp=now
                )
            out.append(message)
        return out


class TemplateService:
    """The rules over the template records; every user-facing error is `BadTemplate`, `SharingOff`
    or NotFound."""

    def __init__(
        self,
        records: TemplateRecords,
        *,
        shared_enabled: bool,
        max_chars: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.records = records
        self.shared_enabled = shared_enabled
        self.max_chars = max_chars
        self.clock = clock

    def _may_see(self, user: str, record: TemplateRecord) -> bool:
        return record.owner == user or (record.shared and self.shared_enabled)

    def list(self, user: str) -> list[TemplateRecord]:
        """The user's own templates and the shared ones, oldest first."""
        return [r for r in self.records.visible(user) if self._may_see(user, r)]

    def get(self, user: str, template_id: str) -> TemplateRecord:
        """One template the user may see; NotFound otherwise."""
        record = self.records.get(user, template_id)
        if record is None or not self._may_see(user, record):
            raise cm.NotFound("template")
        return record

    def _checked(self, record: TemplateRecord, was_shared: bool = False) -> TemplateRecord:
        if record.shared and not was_shared and not self.shared_enabled:
            raise SharingOff(
                "Sharing templates is off on this server (CHAT_SHARED_TEMPLATES). "
                "Save the template without sharing it."
            )
        check(record, max_chars=self.max_chars)
        return record

    @staticmethod
    def _apply(record: TemplateRecord, fields: Mapping[str, Any]) -> TemplateRecord:
        changes = {k: v for k, v in fields.items() if k in FIELDS}
        for key in ("variables", "messages"):
            if key in changes:
                changes[key] = tuple(
                    {k: v for k, v in dict(e).items() if v is not None} for e in changes[key] or ()
                )
        if "description" in changes and changes["description"] is None:
            changes["description"] = ""
        if "shared" in changes:
            changes["shared"] = bool(changes["shared"])
        return dataclasses.replace(record, **changes)

    def create(self, user: str, fields: Mapping[str, Any]) -> TemplateRecord:
        """Check and store a new template of `user`; `BadTemplate` names what is wrong."""
        now = self.clock()
        base = TemplateRecord(
            id=new_template_id(),
            owner=user,
            name="",
            instructions="",
            created=now,
            updated=now,
        )
        record = self._checked(self._apply(base, fields))
        self.records.put(record)
        return record

    def update(self, user: str, template_id: str, fields: Mapping[str, Any]) -> TemplateRecord:
        """Change one of the user's templates (checked again as a whole); NotFound for others'."""

        def change(old: TemplateRecord) -> TemplateRecord:
            new = self._apply(old, fields)
            return self._checked(dataclasses.replace(new, updated=self.clock()), old.shared)

        record = self.records.update(user, template_id, change)
        if record is None:
            raise cm.NotFound("template")
        return record

    def delete(self, user: str, template_id: str) -> None:
        """Delete one of the user's templates; NotFound for others' (shared ones included)."""
        if not self.records.delete(user, template_id):
            raise cm.NotFound("template")

    def start(
        self, user: str, template_id: str, variables: Mapping[str, str] | None, message: str
    ) -> TemplateStart:
        """Render the template for a new conversation; the turn's `message` follows its messages
        (joined to a trailing user message of the template, which it may leave empty)."""
        record = self.get(user, template_id)
        rendered = render(record, variables, max_chars=self.max_chars)
        seeded = list(rendered.messages)
        for n, (_, seeded_text) in enumerate(seeded[:-1] if seeded else [], 1):
            if not seeded_text.strip():
                raise BadTemplate(f"message {n} renders empty: give its variables a value")
        if seeded and seeded[-1][0] == "assistant" and not seeded[-1][1].strip():
            raise BadTemplate(f"message {len(seeded)} renders empty: give its variables a value")
        text = message
        if seeded and seeded[-1][0] == "user":
            last = seeded.pop()[1]
            text = f"{last}\n\n{message}" if message.strip() else last
        return TemplateStart(
            template_id=record.id,
            name=record.name,
            instructions=rendered.instructions,
            seeded=tuple(seeded),
            text=text,
            variables=dict(rendered.variables),
            provider=record.provider,
            model=record.model,
            options=record.options,
        )
