"""The store Protocols every backend implements (the JSON files today, PostgreSQL later).

One section per kind of state. Each backend passes the same contract suite
(tests/store/test_contract.py and its siblings). Imports neither Flask nor an SDK, and no backend.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from .models import (
    Attachment,
    ChatNameSource,
    ContextMode,
    Conversation,
    ConversationSummary,
    FinishStatus,
    Legacy,
    Message,
    MessageError,
    Summary,
    Usage,
)
from .search import SearchHit, SearchQuery
from .usage import UsageRow

# --- conversations and their message tree ---------------------------------------------------

# Every operation below refuses a user name or conversation id outside its pattern with InvalidId
# before touching anything, and may raise StorageError (an I/O failure; nothing was written).
# Every write takes the user's lock and raises StorageBusy when it is not had within the store's
# lock timeout (never later), and StorageFull when the disk is full (nothing was changed).
# A conversation of another user is NotFound, as is one that does not exist. A damaged record is
# set aside: every operation on it raises HistoryUnavailable until it is deleted, and `list`
# keeps it with `history_available` False.


class ConversationStore(Protocol):
    """Conversations and their message tree, per user; the JSON files today, PostgreSQL later."""

    def sweep(self, *, older_than: float = 60.0) -> int:
        """Remove leftovers of interrupted writes older than `older_than` seconds; return how many.

        Run at start; a busy or broken user is skipped (logged), so it never raises StorageBusy.
        """
        ...

    def turn_dir(self, user: str) -> Path:
        """Return (creating it) the local directory where the user's turns in flight keep files.

        The turn lock, journal and stop file live there; the same user gets the same directory.
        """
        ...

    def create(
        self,
        user: str,
        *,
        chat_name: str,
        model: str,
        provider: str,
        instructions: str,
        metadata: dict[str, Any] | None = None,
        legacy: Legacy | dict[str, Any] | None = None,
        conversation_id: str | None = None,
        created_at: float | None = None,
        last_update: float | None = None,
        messages: Sequence[Message | dict[str, Any]] | None = None,
        chat_name_source: ChatNameSource = "user",
        template_id: str | None = None,
        template_variables: Mapping[str, str] | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> Conversation:
        """Create and save a conversation, with imported `messages` in creation order if given.

        `template_id`, `template_variables` and `options` are kept as given (a template's start).

        `chat_name_source` says where `chat_name` came from ("message": the first message, which
        a model-written title may replace).

        Raises ConversationExists for an id in use, HistoryUnavailable for the id of a damaged
        record not yet deleted, InvalidParent when `messages` do not form a tree. The newest leaf
        becomes current; `last_update` defaults to the newest message (or `created_at`).
        """
        ...

    def get(self, user: str, cid: str) -> Conversation:
        """Return the conversation; NotFound, HistoryUnavailable."""
        ...

    def exists(self, user: str, cid: str) -> bool:
        """Whether `cid` has a stored record, readable or damaged (one set aside does not count).

        A cheap look that takes no lock and writes nothing; `create` has the last word.
        """
        ...

    def list(self, user: str) -> builtins.list[ConversationSummary]:
        """Return the user's conversations, newest `last_update` first (an unknown user: none).

        A damaged record stays in the list with `history_available` False.
        """
        ...

    def rename(self, user: str, cid: str, chat_name: str) -> ConversationSummary:
        """Rename a conversation, keeping its `last_update`; NotFound, HistoryUnavailable."""
        ...

    def update(
        self,
        user: str,
        cid: str,
        *,
        chat_name: str | None = None,
        instructions: str | None = None,
        pinned: bool | None = None,
        archived: bool | None = None,
    ) -> ConversationSummary:
        """Change the fields given (None: kept as is), keeping `last_update`; a new `chat_name`
        sets `chat_name_source` "user". Return the list entry; NotFound, HistoryUnavailable."""
        ...

    def delete(self, user: str, cid: str) -> None:
        """Delete a conversation, damaged or not, with everything set aside for it; NotFound."""
        ...

    def set_title(
        self, user: str, cid: str, title: str, call: Mapping[str, Any]
    ) -> ConversationSummary | None:
        """Record a model-written title's call in `metadata[TITLE_CALL]` (it counts in totals and
        statistics) and, only while `chat_name_source` is "message", make `title` the name with
        source "model", keeping `last_update`; return the list entry, or None when the name was
        kept (the user's own name always wins). NotFound, HistoryUnavailable.
        """
        ...

    def begin_turn(
        self,
        user: str,
        cid: str,
        *,
        text: str | None,
        parent_id: str | None,
        model: str,
        provider: str,
        context_mode: ContextMode,
        user_message_id: str | None = None,
        assistant_message_id: str | None = None,
        attachments: Sequence[Attachment] = (),
        options: Mapping[str, Any] | None = None,
    ) -> tuple[Conversation, Message | None, Message]:
        """Add the user message and an `in_progress` reply in one commit; return both with the tree.
        `options` (not None) become the conversation's per-model options in that commit.

        `text` None regenerates: the reply goes under the user message `parent_id`. Otherwise the
        user message goes under the assistant message `parent_id` (None or ROOT: a new root). The
        reply becomes current; the conversation takes `model` and `provider`. The ids may be
        chosen by the caller. NotFound for an unknown parent, InvalidParent for one of the wrong
        role (or a regenerate without one), HistoryUnavailable.
        """
        ...

    def finish_assistant_message(
        self,
        user: str,
        cid: str,
        mid: str,
        *,
        text: str,
        status: FinishStatus,
        response_id: str | None = None,
        usage: Usage | dict[str, Any] | None = None,
        cost_usd: float | None = None,
        error: MessageError | dict[str, Any] | None = None,
        reasoning_summary: str | None = None,
        request_id: str | None = None,
        latency_ms: Mapping[str, int | float | None] | None = None,
        metadata: dict[str, Any] | None = None,
        context_mode: ContextMode | None = None,
        model: str | None = None,
        provider: str | None = None,
        price: Mapping[str, Any] | None = None,
        fallback_from: Sequence[Mapping[str, Any]] | None = None,
    ) -> Message:
        """Record how a reply ended; the totals and `last_response_id` follow.

        ValueError for a status that is not final. NotFound when the conversation was deleted
        meanwhile (it is never re-created) or `mid` is not an assistant message of it.
        """
        ...

    def begin_continuation(
        self, user: str, cid: str, mid: str, *, options: Mapping[str, Any] | None = None
    ) -> tuple[Conversation, Message]:
        """Mark the `stopped` or `incomplete` reply `mid` `in_progress` for a continuation, in one
        commit (conversation_manager.continuations); `options` (not None) become the
        conversation's. NotFound, InvalidParent for a user message or another status."""
        ...

    def finish_continuation(
        self,
        user: str,
        cid: str,
        mid: str,
        *,
        text: str,
        status: FinishStatus,
        response_id: str | None = None,
        usage: Usage | dict[str, Any] | None = None,
        cost_usd: float | None = None,
        error: MessageError | dict[str, Any] | None = None,
        reasoning_summary: str | None = None,
        request_id: str | None = None,
        latency_ms: Mapping[str, int | float | None] | None = None,
        metadata: dict[str, Any] | None = None,
        context_mode: ContextMode | None = None,
        model: str | None = None,
        provider: str | None = None,
        price: Mapping[str, Any] | None = None,
        fallback_from: Sequence[Mapping[str, Any]] | None = None,
    ) -> Message:
        """Record how a continuation of `mid` ended, from the call's own values (its added
        `text`, usage and cost), and return the reply as merged; NotFound when the conversation
        was deleted meanwhile."""
        ...

    def set_current(self, user: str, cid: str, message_id: str) -> Conversation:
        """Show the branch of the newest leaf under `message_id` (ROOT: the whole tree); NotFound."""
        ...

    def mark_interrupted(
        self, user: str, cid: str, mid: str, text: str, *, message: str
    ) -> Conversation:
        """Mark an `in_progress` reply `failed` with code `interrupted`, keeping `text`.

        `message` is the error's words (the caller's: a library keeps none).

        A reply that has finished is left as it is (a real result is never overwritten).
        NotFound when `mid` is not an assistant message of the conversation.
        """
        ...

    def add_summary(self, user: str, cid: str, summary: Summary) -> Conversation:
        """Keep `summary` with the conversation (its cost counts in the totals), keeping
        `last_update`; one with the same id is replaced. NotFound, HistoryUnavailable."""
        ...

    def usage_rows(
        self, user: str, *, since: float | None = None, until: float | None = None
    ) -> builtins.list[UsageRow]:
        """Every model call in the user's existing conversations with `since <= timestamp < until`
        (replies of any status, summaries, titles; see `conversation_manager.usage`).

        Damaged conversations are left out. Derived data may serve it, repaired when stale.
        """
        ...

    def search(self, user: str, query: SearchQuery) -> builtins.list[SearchHit]:
        """Ranked full-text search over the user's conversation names and message texts, every
        branch, best first (API "Search"); QuerySyntaxError for a query that cannot be parsed.

        Never answers from a partial or stale index: what changed is re-read first.
        """
        ...

    def rebuild_search(self, user: str) -> int:
        """Rebuild the user's search data from the conversations; return how many were read."""
        ...


# --- accounts, sessions and shares ----------------------------------------------------------
# The records are plain data; the rules over them (argon2id hashing, the password rule, login
# throttling, token hashing, expiry) stay in `app.accounts` and `app.shares`. Every method may raise
# `StorageBusy` (a lock not had in time) or `StorageFull` (nothing was changed); user names given
# here have passed `names.validate_user` (a backend refuses others with `InvalidId`).


@dataclass(frozen=True)
class AccountRecord:
    """One account: its name, the password hash (never the password) and two times."""

    name: str
    password_hash: str
    created: float
    password_changed: float
    default_instructions: str | None = None  # of the user's new conversations; None: the app's


CreateOutcome = Literal["created", "taken", "closed"]


class AccountRecords(Protocol):
    """The accounts, one row per user name (a PostgreSQL table with `name` as primary key)."""

    def create(self, record: AccountRecord, *, only_if_none: bool = False) -> CreateOutcome:
        """Add an account unless its name exists ("taken"), or, with `only_if_none`, unless any
        account exists ("closed"); the check and the insert are one step across processes."""
        ...

    def get(self, name: str) -> AccountRecord | None:
        """Return the account, or None (unknown, or its record is damaged)."""
        ...

    def update(
        self, name: str, change: Callable[[AccountRecord], AccountRecord | None]
    ) -> AccountRecord | None:
        """Apply `change` under the account's lock and store what it returns (None: keep as is);
        return the stored record, or None when there is no such account."""
        ...

    def names(self) -> list[str]:
        """Return every account name, sorted."""
        ...

    def any(self) -> bool:
        """Tell whether at least one account exists."""
        ...


@dataclass(frozen=True)
class SessionRecord:
    """One server-side session; it is found by the sha256 of its id, which is never stored."""

    user: str
    created: float
    expires: float
    last_seen: float


class SessionRecords(Protocol):
    """Sessions keyed by the 64 hex digits of sha256(session id)."""

    def put(self, key: str, record: SessionRecord) -> None:
        """Store a new session."""
        ...

    def get(self, key: str) -> SessionRecord | None:
        """Return the session with its last use, or None (unknown, revoked or damaged)."""
        ...

    def touch(self, key: str, at: float) -> None:
        """Set the last use to `at`; a deleted session stays deleted."""
        ...

    def delete(self, key: str) -> bool:
        """Remove one session; tell whether it existed."""
        ...

    def delete_user(self, user: str, except_key: str | None = None) -> int:
        """Remove every session of `user` but `except_key`; return how many went."""
        ...

    def sweep(self, *, expires_before: float, seen_before: float | None) -> int:
        """Remove sessions that expire at or before `expires_before`, were last used at or
        before `seen_before` (when given), or are damaged; return how many went."""
        ...


# One failed (or not yet checked) login attempt: (time, nonce).
Attempt = tuple[float, str]


class LoginAttemptRecords(Protocol):
    """The recent login attempts per key (`user-<name>` or `ip-<32 hex>`), for throttling."""

    def update(self, key: str, change: Callable[[list[Attempt]], list[Attempt]]) -> None:
        """Replace the key's attempts by `change(attempts)` in one step across processes."""
        ...

    def sweep(self, before: float) -> int:
        """Forget every key whose newest attempt is older than `before`; return how many went."""
        ...


class SecretKeyRecord(Protocol):
    """The app's generated secret key, made once."""

    def get_or_create(self, candidate: bytes) -> bytes:
        """Return the stored key, storing `candidate` first when there is none (one racer wins)."""
        ...


@dataclass(frozen=True)
class ShareSummary:
    """What the owner's listing shows of one share (no snapshot, never the token)."""

    digest: str  # sha256 hex of the token
    conversation_id: str
    chat_name: str
    created: float
    expires_at: float | None


@dataclass(frozen=True)
class ShareRecord:
    """One share link: its owner, its conversation and the snapshot it shows."""

    digest: str
    owner: str
    conversation_id: str
    created: float
    expires_at: float | None
    snapshot: dict[str, Any]  # {"chat_name", "messages": [{"role", "text", "timestamp"}]}


class ShareRecords(Protocol):
    """Share links keyed by sha256(token), each listed under its owner."""

    def put(self, record: ShareRecord) -> None:
        """Store a new share."""
        ...

    def get(self, digest: str) -> ShareRecord | None:
        """Return the share, or None (unknown, revoked or damaged)."""
        ...

    def of_owner(self, owner: str) -> list[ShareSummary]:
        """Return the owner's shares (expired ones too), in no set order."""
        ...

    def delete(self, owner: str, digest: str) -> bool:
        """Remove one of the owner's shares; tell whether it was there."""
        ...

    def delete_conversation(self, owner: str, conversation_id: str) -> int:
        """Remove every share of one of the owner's conversations; return how many went."""
        ...


# --- conversation templates ------------------------------------------------------------------
# Plain data: the grammar, the checks and who may see what stay in `app.templating`. Ids outside
# `^[A-Za-z0-9_-]{1,64}$` are InvalidId; every write may raise StorageBusy or StorageFull.


@dataclass(frozen=True)
class TemplateRecord:
    """One conversation template: its owner, whether it is shared, and what it starts."""

    id: str
    owner: str
    name: str
    instructions: str
    description: str = ""
    variables: tuple[Mapping[str, str], ...] = ()  # {"name", "default"?, "description"?}
    messages: tuple[Mapping[str, str], ...] = ()  # {"role", "text"}
    provider: str | None = None
    model: str | None = None
    options: Mapping[str, Any] | None = None
    shared: bool = False
    created: float = 0.0
    updated: float = 0.0


class TemplateRecords(Protocol):
    """Templates per owner, and the shared ones every user sees."""

    def visible(self, user: str) -> list[TemplateRecord]:
        """Return the user's own templates and every shared one, oldest first."""
        ...

    def get(self, user: str, template_id: str) -> TemplateRecord | None:
        """Return the template when `user` owns it or it is shared, else None."""
        ...

    def put(self, record: TemplateRecord) -> None:
        """Store a new template of `record.owner` (shared or not)."""
        ...

    def update(
        self, owner: str, template_id: str, change: Callable[[TemplateRecord], TemplateRecord]
    ) -> TemplateRecord | None:
        """Apply `change` under the owner's lock and store the result (it may change `shared`);
        None when `owner` has no such template (another user's shared one included)."""
        ...

    def delete(self, owner: str, template_id: str) -> bool:
        """Remove one of the owner's templates; tell whether it was there."""
        ...


# --- limits: turn rate, concurrency slots, budget reservations ------------------------------

SlotKind = Literal["turn", "stream"]


@dataclass(frozen=True)
class SpendTotals:
    """Spend added up in one ledger bucket (one UTC day or month of one user)."""

    usd: float = 0.0
    tokens: int = 0
    unpriced: int = 0  # turns whose price was unknown: their tokens count, their dollars do not


@dataclass(frozen=True)
class Reservation:
    """Spend held for a turn in flight until it settles, or until `expires_at` (a dead worker's)."""

    id: str
    usd: float
    tokens: int
    expires_at: float


class HeldSlot(Protocol):
    """One of a user's concurrency slots, held until released or until its process dies."""

    def release(self) -> None:
        """Free the slot; idempotent, never raises."""


class LimitView(Protocol):
    """One user's limit records, read."""

    def turn_times(self, since: float) -> list[float]:
        """Return the start times of the accepted turns after `since`."""
        ...

    def spent(self, period: str, key: str) -> SpendTotals:
        """Return the ledger bucket `period`/`key` (all zero when there is none)."""
        ...

    def reservations(self, now: float) -> list[Reservation]:
        """Return the reservations not yet expired at `now`."""
        ...


class LimitTransaction(LimitView, Protocol):
    """One user's limit records, locked against every other transaction of that user.

    The changes take effect together when the transaction's block ends normally, and not at all
    when it raises.
    """

    def add_turn(self, at: float, *, forget_before: float) -> None:
        """Record a turn accepted at `at`; turns before `forget_before` may be forgotten."""

    def reserve(self, reservation: Reservation, *, now: float) -> None:
        """Add a reservation; those expired at `now` may be forgotten."""

    def drop_reservation(self, reservation_id: str) -> None:
        """Remove a reservation (nothing when it is gone already)."""

    def add_spend(self, buckets: Sequence[tuple[str, str]], spend: SpendTotals) -> None:
        """Add `spend` to each (period, key) ledger bucket; the ledger survives conversation deletes."""


class LimitRecords(Protocol):
    """The per-user records behind the turn, stream and budget limits, shared by every process."""

    def view(self, user: str) -> LimitView:
        """Return the user's records for reading only, without a lock (checks that record nothing)."""
        ...

    def transaction(self, user: str) -> AbstractContextManager[LimitTransaction]:
        """Lock the user's records for one atomic change (`StorageBusy` when not had in time)."""
        ...

    def take_slot(self, kind: SlotKind, user: str, limit: int) -> HeldSlot | None:
        """Hold one of the user's `limit` slots of `kind`, or return None when all are held.

        Taking is atomic across threads and processes; a slot is freed by `release` or when the
        process holding it dies, so a crashed worker never keeps one.
        """
        ...


# --- attachments --------------------------------------------------------------------------------

# Files are content-addressed per user: the same bytes uploaded twice by one user are one file,
# and nothing is ever shared across users. Every operation refuses a user name outside its pattern
# with InvalidId; an attachment id outside `^att_[0-9a-f]{24}$` is simply absent (None/NotFound),
# so no path is ever built from an unchecked id.


class AttachmentStore(Protocol):
    """Uploaded files and their metadata, per user; the JSON files today, PostgreSQL later."""

    def put(
        self, user: str, data: bytes, attachment: Attachment, *, quota: int | None = None
    ) -> Attachment:
        """Store `data` under `attachment.id` with its metadata; idempotent for the same content.

        Storing again refreshes the file's time, so a re-upload is not swept as unused. With
        `quota`, new content that would take `used_bytes` past it raises QuotaExceeded, checked
        in the same critical section as the write (concurrent uploads cannot pass it together).
        """
        ...

    def get(self, user: str, attachment_id: str) -> Attachment | None:
        """Return the metadata of the user's attachment, or None when the user has no such file."""
        ...

    def read(self, user: str, attachment_id: str) -> bytes:
        """Return the content of the user's attachment; NotFound when absent."""
        ...

    def used_bytes(self, user: str) -> int:
        """Return the bytes the user's attachments take (originals; variants not counted)."""
        ...

    def touch(self, user: str, attachment_id: str) -> None:
        """Mark the attachment as just stored (a turn is about to use it: the sweep spares it)."""
        ...

    def stale(self, user: str, older_than: float) -> builtins.list[str]:
        """Return the ids of the user's attachments last stored before `older_than` (a Unix time)."""
        ...

    def users(self) -> builtins.list[str]:
        """Return the users who have stored attachments (for the start-up sweep)."""
        ...

    def sweep(self, user: str, keep: set[str], older_than: float) -> int:
        """Remove the user's attachments not in `keep` stored before `older_than` (a Unix time).

        Their variants go with them; the old ones in `keep` count as stored now (so `stale` does
        not list them again for a while). Returns how many attachments were removed.
        """
        ...

    def read_variant(self, user: str, attachment_id: str, variant: str) -> bytes | None:
        """Return a derived copy (e.g. the downscaled image for one protocol), or None."""
        ...

    def put_variant(self, user: str, attachment_id: str, variant: str, data: bytes) -> None:
        """Store a derived copy of an existing attachment under the name `variant` ([a-z0-9_-])."""
        ...
