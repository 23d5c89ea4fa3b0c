"""Export of a conversation (API "Export"): the stored JSON without `provider_items`, or Markdown.

Pure rendering over a `Conversation` record: no Flask, no I/O. `scope` is "branch" (the messages on
screen, root first) or "tree" (every message, in creation order). Opaque `provider_items` are
never exported (API "Storage"). The download's file name is made safe for any chat name here.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal, get_args
from urllib.parse import quote

import conversation_manager as cm

Scope = Literal["branch", "tree"]
Format = Literal["json", "markdown"]
SCOPES: tuple[str, ...] = get_args(Scope)
FORMATS: tuple[str, ...] = get_args(Format)
DEFAULT_SCOPE: dict[str, Scope] = {"json": "tree", "markdown": "branch"}
HIDDEN_KEY = "provider_items"
FILENAME_CHARS = 100
_UNSAFE_IN_NAMES = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~])")

__all__ = [
    "DEFAULT_SCOPE",
    "FORMATS",
    "SCOPES",
    "BadExport",
    "Format",
    "Scope",
    "content_disposition",
    "export_json",
    "export_markdown",
    "file_name",
    "read_choice",
]


class BadExport(ValueError):
    """An unknown format or scope (the web layer answers 400 `bad_request`)."""


def read_choice(fmt: str | None, scope: str | None) -> tuple[Format, Scope]:
    """The format (default json) and scope (default: tree for JSON, branch for Markdown)."""
    chosen: Format
    if fmt in (None, "", "json"):
        chosen = "json"
    elif fmt == "markdown":
        chosen = "markdown"
    else:
        raise BadExport("format is json or markdown")
    if scope in (None, ""):
        return chosen, DEFAULT_SCOPE[chosen]
    if scope == "branch":
        return chosen, "branch"
    if scope == "tree":
        return chosen, "tree"
    raise BadExport("scope is branch or tree")


def _without_hidden(value: Any) -> Any:
    """`value` with every `provider_items` key removed, at any depth."""
    if isinstance(value, dict):
        return {k: _without_hidden(v) for k, v in value.items() if k != HIDDEN_KEY}
    if isinstance(value, list):
        return [_without_hidden(v) for v in value]
    return value


def _messages(conversation: cm.Conversation, scope: Scope) -> list[cm.Message]:
    return conversation.branch() if scope == "branch" else list(conversation.messages)


def export_json(conversation: cm.Conversation, scope: Scope) -> dict[str, Any]:
    """The stored conversation (for "branch": only the messages on screen and the summaries of
    them), without `provider_items` anywhere."""
    data: dict[str, Any] = conversation.model_dump(mode="json")
    if scope == "branch":
        kept = {m.id for m in conversation.branch()}
        data["messages"] = [m for m in data["messages"] if m["id"] in kept]
        data["summaries"] = [s for s in data.get("summaries", []) if set(s["covers"]) <= kept]
    cleaned: dict[str, Any] = _without_hidden(data)
    return cleaned


# --- Markdown ---------------------------------------------------------------------------------


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _escaped(text: str) -> str:
    """Plain text safe inside a Markdown heading or list item: one line, specials escaped."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", _one_line(text))


def _heading(number: int, message: cm.Message, conversation: cm.Conversation) -> str:
    if message.role == "user":
        who = "You"
    else:
        model = message.model or conversation.model
        provider = message.provider
        who = "Assistant"
        if model:
            who += f" · {_escaped(model)}" + (f" ({_escaped(provider)})" if provider else "")
    return f"## {number}. {who} · {_when(message.timestamp)}"


def _status_note(message: cm.Message) -> str | None:
    if message.role != "assistant" or message.status in (None, "completed"):
        return None
    note = f"*Status: {message.status}"
    if message.error is not None:
        note += f" ({_escaped(message.error.message or message.error.code)})"
    return note + "*"


def _block(number: int, message: cm.Message, conversation: cm.Conversation) -> list[str]:
    lines = [_heading(number, message, conversation), ""]
    lines.append(message.text if message.text.strip() else "*(no text)*")
    note = _status_note(message)
    if note:
        lines += ["", note]
    lines.append("")
    return lines


def _tree_order(conversation: cm.Conversation) -> list[cm.Message]:
    """Every message depth first (each reply right after what it answers), children oldest first."""
    children: dict[str | None, list[cm.Message]] = {}
    ids = {m.id for m in conversation.messages}
    for message in conversation.messages:
        parent = message.parent_id if message.parent_id in ids else None
        children.setdefault(parent, []).append(message)
    order: list[cm.Message] = []
    stack = list(reversed(children.get(None, [])))
    while stack:
        message = stack.pop()
        order.append(message)
        stack.extend(reversed(children.get(message.id, [])))
    return order


def export_markdown(conversation: cm.Conversation, scope: Scope, *, now: float) -> str:
    """A readable Markdown document: the title, then each message with its role, model and time.

    A tree export numbers the messages depth first; where a message has more than one answer or
    edit, each alternative after the first starts with a line saying which message it follows.
    """
    messages = _messages(conversation, scope) if scope == "branch" else _tree_order(conversation)
    title = _escaped(conversation.chat_name) or "Conversation"
    lines = [f"# {title}", ""]
    model = f"{conversation.model} ({conversation.provider})"
    lines.append(f"- Model: {_escaped(model)}")
    lines.append(f"- Created: {_when(conversation.created_at)}")
    lines.append(f"- Exported: {_when(now)}")
    shown = "the branch on screen" if scope == "branch" else "every branch"
    lines.append(f"- Messages: {len(messages)} ({shown})")
    lines += ["", "---", ""]
    numbers: dict[str, int] = {}
    siblings: dict[str | None, list[str]] = {}
    for message in conversation.messages:
        siblings.setdefault(message.parent_id, []).append(message.id)
    previous: str | None = None
    for number, message in enumerate(messages, start=1):
        numbers[message.id] = number
        if scope == "tree" and message.parent_id != previous:
            alternatives = siblings.get(message.parent_id, [message.id])
            place = alternatives.index(message.id) + 1 if message.id in alternatives else 1
            parent_number = numbers.get(message.parent_id or "")
            after = f"after message {parent_number}" if parent_number else "from the start"
            lines += [f"*Branch {place} of {len(alternatives)}, {after}:*", ""]
        lines += _block(number, message, conversation)
        previous = message.id
    return "\n".join(lines).rstrip() + "\n"


# --- the download's name ----------------------------------------------------------------------


def file_name(chat_name: str, fmt: Format) -> str:
    """A file name for any chat name: one line, no path or control characters, a length cap."""
    base = _UNSAFE_IN_NAMES.sub(" ", chat_name)
    base = _one_line(base).strip(" .")[:FILENAME_CHARS].strip(" .") or "conversation"
    return f"{base}.{'md' if fmt == 'markdown' else 'json'}"


def content_disposition(name: str) -> str:
    """`attachment; filename*=UTF-8''…` with the name percent-encoded (RFC 5987): any name is safe."""
    return "attachment; filename*=UTF-8''" + quote(name, safe="")
