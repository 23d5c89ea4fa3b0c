"""Conversation records (pydantic v2) and the pure message-tree operations on them.

No I/O here; imports neither Flask nor an SDK.
"""

from __future__ import annotations

import secrets
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from .errors import NotFound

ROOT = "root"
SCHEMA_VERSION = 1

Role = Literal["user", "assistant"]
MessageStatus = Literal["in_progress", "completed", "incomplete", "stopped", "failed"]
FinishStatus = Literal["completed", "incomplete", "stopped", "failed"]
ContextMode = Literal["first", "chained", "replayed", "compacted"]
CHAINABLE_STATUSES = frozenset({"completed", "incomplete"})
# A response id that older versions could store when the upstream sent none: never chained from.
_MISSING_IDS = frozenset({"", "None", "null"})
# `metadata[STATELESS_MARK]` is True on a reply from a provider that keeps no state: its response
# id identifies the reply but is never chained from.
STATELESS_MARK = "stateless"
# `metadata[PREVIOUS_CHOICE]`: the conversation's {"provider", "model"} before a turn that named
# another one (set back when the upstream did not know the named model).
PREVIOUS_CHOICE = "previous_choice"
# `metadata[SEEDED_MARK]` is True on a message a template put there, `metadata[IMPORTED_MARK]` on one
# migrated from the old threads: neither was made by a model here (statistics count neither).
SEEDED_MARK = "seeded"
IMPORTED_MARK = "imported"
# `Conversation.metadata[TITLE_CALL]`: the model call that wrote the title (CHAT_AUTO_TITLES), as
# {"provider", "model", "usage", "cost_usd", "created_at"}; it counts in totals and statistics.
TITLE_CALL = "title_call"
ChatNameSource = Literal["user", "message", "model", "template"]

# Fields that only an assistant message carries on disk (API.md's user message has none of them).
_ASSISTANT_ONLY = (
    "status",
    "model",
    "provider",
    "context_mode",
    "usage",
    "cost_usd",
    "reasoning_summary",
    "error",
    "request_id",
    "latency_ms",
    "metadata",
    "price",
    "fallback_from",
)


def new_conversation_id() -> str:
    """Return a fresh conversation id (`c_` + 24 hex digits)."""
    return "c_" + secrets.token_hex(12)


def new_message_id() -> str:
    """Return a fresh message id (`m_` + 24 hex digits)."""
    return "m_" + secrets.token_hex(12)


class Usage(BaseModel):
    """Token counts of one model response."""

    model_config = ConfigDict(extra="ignore")

    input_tokens: int = 0  # all input, cache reads and writes included
    cached_tokens: int = 0
    cache_write_tokens: int = 0  # added after the first version: optional on read
    output_tokens: int = 0  # reasoning included
    reasoning_tokens: int = 0
    total_tokens: int | None = None

    def model_post_init(self, __context: Any) -> None:
        if self.total_tokens is None:
            self.total_tokens = self.input_tokens + self.output_tokens


class Totals(BaseModel):
    """Sums over the whole message tree of a conversation."""

    input_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float = 0.0
    unpriced_messages: int = 0


class MessageError(BaseModel):
    """Why an assistant message failed or ended early (`code` from API.md's error table)."""

    code: str
    message: str = ""


class Legacy(BaseModel):
    """Where a migrated conversation came from."""

    thread_id: str
    history: Literal["imported", "unavailable", "fetched"]


AttachmentKind = Literal["image", "text"]


class Attachment(BaseModel):
    """A file a user uploaded for a message (API.md "Attachments"); the content lives in the store."""

    model_config = ConfigDict(extra="ignore")

    id: str  # "att_" + the first 24 hex digits of the content's sha256
    kind: AttachmentKind
    name: str  # the uploaded file name, cleaned (no path parts, at most 200 characters)
    media_type: str  # read from the content: image/png|jpeg|webp|gif, text/plain, ...
    bytes: int
    width: int | None = None
    height: int | None = None


class Message(BaseModel):
    """One node of the message tree; user messages serialise without the assistant-only fields."""

    model_config = ConfigDict(extra="ignore")

    id: str
    parent_id: str | None = None
    role: Role
    text: str = ""
    timestamp: float
    response_id: str | None = None
    status: MessageStatus | None = None
    model: str | None = None
    provider: str | None = None
    context_mode: ContextMode | None = None
    usage: Usage | None = None
    cost_usd: float | None = None
    reasoning_summary: str | None = None
    error: MessageError | None = None
    request_id: str | None = None
    latency_ms: dict[str, int | float | None] | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    # The rates a priced reply used (API.md "Cost"); None when the price is unknown.
    price: dict[str, Any] | None = None
    # The candidates that failed before this reply's provider answered: [{"provider", "model", "code"}].
    fallback_from: list[dict[str, Any]] | None = None
    # The files a user message carries (API.md "Attachments"); written only when there are some.
    attachments: list[Attachment] = Field(default_factory=list)

    @model_serializer(mode="wrap")
    def _serialise(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        if self.role == "user":
            for key in _ASSISTANT_ONLY:
                data.pop(key, None)
        if not self.attachments:
            data.pop("attachments", None)
        return data

    @property
    def finished(self) -> bool:
        """Return True for an assistant message whose turn has ended."""
        return self.role == "assistant" and self.status not in (None, "in_progress")


class Summary(BaseModel):
    """What a dropped prefix of a branch was summarised to (API "Context": summaries).

    `covers` are the ids of the messages it stands for, root first; `text` is None for a
    provider-side compaction (opaque, kept in `provider_items`, used only with its own provider).
    """

    model_config = ConfigDict(extra="ignore")

    id: str
    covers: list[str]
    text: str | None = None
    provider: str | None = None
    model: str | None = None
    usage: Usage | None = None
    cost_usd: float | None = None
    created_at: float
    provider_items: list[dict[str, Any]] | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class TitleCall(BaseModel):
    """The record of a model-written title's call (`Conversation.metadata[TITLE_CALL]`)."""

    model_config = ConfigDict(extra="ignore")

    provider: str
    model: str
    usage: Usage | None = None
    cost_usd: float | None = None
    created_at: float


class ConversationSummary(BaseModel):
    """What the conversation list shows; `history_available` is False for a damaged file."""

    id: str
    chat_name: str
    created_at: float
    last_update: float
    model: str = ""
    provider: str = ""
    message_count: int = 0
    totals: Totals = Field(default_factory=Totals)
    legacy: Legacy | None = None
    history_available: bool = True
    pinned: bool = False
    archived: bool = False


class Conversation(BaseModel):
    """One conversation as stored in `<user>/<id>.json`, with pure tree methods."""

    model_config = ConfigDict(extra="ignore")

    id: str
    object: Literal["conversation"] = "conversation"
    chat_name: str
    created_at: float
    last_update: float
    model: str
    provider: str
    instructions: str = ""
    last_response_id: str | None = None
    current_message_id: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    legacy: Legacy | None = None
    totals: Totals = Field(default_factory=Totals)
    messages: list[Message] = Field(default_factory=list)
    summaries: list[Summary] = Field(default_factory=list)
    # Where `chat_name` came from; files written before this field were named by their user.
    chat_name_source: ChatNameSource = "user"
    template_id: str | None = None
    template_variables: dict[str, str] | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    pinned: bool = False
    archived: bool = False
    rev: int = 0
    schema_version: int = SCHEMA_VERSION

    @property
    def message_count(self) -> int:
        """Return the number of messages in the whole tree."""
        return len(self.messages)

    def message(self, mid: str) -> Message:
        """Return the message `mid` or raise NotFound."""
        for msg in self.messages:
            if msg.id == mid:
                return msg
        raise NotFound("message")

    def path_to(self, mid: str) -> list[Message]:
        """Return the messages from the root down to `mid` (inclusive)."""
        by_id = {m.id: m for m in self.messages}
        if mid not in by_id:
            raise NotFound("message")
        path: list[Message] = []
        node: Message | None = by_id[mid]
        while node is not None:
            path.append(node)
            if len(path) > len(by_id):  # a cycle: refuse rather than loop
                raise NotFound("message")
            node = by_id.get(node.parent_id) if node.parent_id is not None else None
        path.reverse()
        return path

    def branch(self) -> list[Message]:
        """Return the branch on screen: root to `current_message_id` (empty when there is none)."""
        if self.current_message_id is None:
            return []
        return self.path_to(self.current_message_id)

    def sibling_ids(self, mid: str) -> list[str]:
        """Return the ids of the messages sharing `mid`'s parent, oldest first, itself included."""
        parent = self.message(mid).parent_id
        return [m.id for m in self.messages if m.parent_id == parent]

    def newest_leaf_under(self, mid: str) -> str:
        """Return the newest leaf in the subtree of `mid` (`ROOT` means the whole tree)."""
        if mid == ROOT:
            if not self.messages:
                raise NotFound("message")
            subtree = {m.id for m in self.messages}
        else:
            self.message(mid)
            subtree = {mid}
            for msg in self.messages:  # creation order: a parent always comes before its children
                if msg.parent_id in subtree:
                    subtree.add(msg.id)
        parents = {m.parent_id for m in self.messages}
        for msg in reversed(self.messages):
            if msg.id in subtree and msg.id not in parents:
                return msg.id
        return mid

    def qualifies_for_chain(self, msg: Message, provider: str) -> bool:
        """True when `msg` is a reply `provider` may chain from (API "What the model receives", 1)."""
        return (
            msg.role == "assistant"
            and msg.status in CHAINABLE_STATUSES
            and msg.response_id is not None
            and msg.response_id not in _MISSING_IDS
            and (msg.provider or self.provider) == provider
            and not msg.metadata.get(STATELESS_MARK)
        )

    def chain_reply(self, mid: str | None, provider: str | None = None) -> Message | None:
        """The reply a turn under `mid` chains from for `provider` (rules 1-2), or None (replay).

        Rule 1: `mid` itself qualifies. Rule 2: the nearest qualifying reply of `provider` up the
        branch with only user messages, other providers' replies and failed, stopped (or
        unfinished) replies after it. A finished reply of `provider` that cannot be chained from
        (no response id, a stateless reply) ends the search.
        """
        if mid is None:
            return None
        name = provider or self.provider
        try:
            path = self.path_to(mid)
        except NotFound:
            return None
        for msg in reversed(path):
            if msg.role != "assistant" or msg.status not in CHAINABLE_STATUSES:
                continue
            if (msg.provider or self.provider) != name:
                continue
            return msg if self.qualifies_for_chain(msg, name) else None
        return None

    def compute_totals(self) -> Totals:
        """Return the token and cost sums over the whole tree, with the calls that belong to no
        reply (summaries, the title: API "Context")."""
        totals = Totals()
        cost = 0.0
        replies = [m for m in self.messages if m.role == "assistant"]
        calls = [(m.usage, m.cost_usd) for m in replies]
        calls += [(s.usage, s.cost_usd) for s in self.summaries if s.provider is not None]
        title = self.title_call()
        if title is not None:
            calls.append((title.usage, title.cost_usd))
        for usage, call_cost in calls:
            if usage is not None:
                totals.input_tokens += usage.input_tokens
                totals.cached_tokens += usage.cached_tokens
                totals.cache_write_tokens += usage.cache_write_tokens
                totals.output_tokens += usage.output_tokens
                totals.reasoning_tokens += usage.reasoning_tokens
            if call_cost is not None:
                cost += call_cost
        # A finished reply a model made here whose price is unknown (not seeded, not migrated).
        totals.unpriced_messages = sum(
            1
            for m in replies
            if m.cost_usd is None
            and m.finished
            and not (m.metadata.get(SEEDED_MARK) or m.metadata.get(IMPORTED_MARK))
        )
        totals.cost_usd = round(cost, 10)
        return totals

    def title_call(self) -> TitleCall | None:
        """The model call that wrote the title (`metadata[TITLE_CALL]`), or None (none, or a
        malformed record, which counts nowhere rather than breaking the totals)."""
        raw = self.metadata.get(TITLE_CALL)
        if not isinstance(raw, dict):
            return None
        try:
            return TitleCall.model_validate(raw)
        except ValueError:
            return None

    def restore_choice(self) -> None:
        """Set the model back when the newest reply failed `unknown_model` for a model it named.

        The turn recorded the conversation's previous provider and model on that reply
        (`metadata.previous_choice`, API "POST /chat"); the next turn's commit makes a newer reply,
        so this applies only until then.
        """
        newest = next((m for m in reversed(self.messages) if m.role == "assistant"), None)
        if newest is None or newest.status != "failed" or newest.error is None:
            return
        previous = newest.metadata.get(PREVIOUS_CHOICE)
        if newest.error.code != "unknown_model" or not isinstance(previous, dict):
            return
        if (self.provider, self.model) != (newest.provider, newest.model):
            return
        provider, model = previous.get("provider"), previous.get("model")
        if isinstance(provider, str) and isinstance(model, str) and provider and model:
            self.provider, self.model = provider, model

    def refresh_derived(self) -> None:
        """Recompute `totals`, `last_response_id` (rules 1-2 for the conversation's provider) and
        the model a failed `unknown_model` sets back, from the tree (done on every save)."""
        self.totals = self.compute_totals()
        self.restore_choice()
        reply = self.chain_reply(self.current_message_id, self.provider)
        self.last_response_id = reply.response_id if reply is not None else None

    def check_tree(self) -> str | None:
        """Return why the tree is inconsistent, or None when it is sound."""
        seen: set[str] = set()
        for msg in self.messages:
            if msg.id in seen:
                return "duplicate message id"
            if msg.parent_id is not None and msg.parent_id not in seen:
                return "parent missing or after its child"
            seen.add(msg.id)
        if self.current_message_id is not None and self.current_message_id not in seen:
            return "current message missing"
        return None

    def summary(self, *, history_available: bool = True) -> ConversationSummary:
        """Return the listing record of this conversation."""
        return ConversationSummary(
            id=self.id,
            chat_name=self.chat_name,
            created_at=self.created_at,
            last_update=self.last_update,
            model=self.model,
            provider=self.provider,
            message_count=self.message_count,
            totals=self.totals,
            legacy=self.legacy,
            history_available=history_available,
            pinned=self.pinned,
            archived=self.archived,
        )
