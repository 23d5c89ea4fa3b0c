"""One definition each: the attachment id pattern (conversation_manager.names) and the tokens an
image is estimated at (responses_client.parts), used by everyone who needs them."""

from __future__ import annotations

import re
from pathlib import Path

import app.context.parts as context_parts
import conversation_manager.json.attachments as json_attachments
import responses_client.parts as rc_parts
from app import shares
from conversation_manager import names

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [
    p
    for package in ("app", "conversation_manager", "responses_client")
    for p in sorted((ROOT / package).rglob("*.py"))
]


def _defining(pattern: str) -> list[str]:
    found = re.compile(pattern)
    return [str(p.relative_to(ROOT)) for p in SOURCES if found.search(p.read_text("utf-8"))]


def test_the_attachment_id_pattern_is_defined_once():
    assert _defining(r"compile\(r?[\"']\^?att_\[0-9a-f\]") == ["conversation_manager/names.py"]
    assert json_attachments.ID_RE is names.ATTACHMENT_ID_RE
    assert names.is_valid_attachment_id("att_" + "0" * 24)
    assert not names.is_valid_attachment_id("att_" + "0" * 23)
    assert not names.is_valid_attachment_id(None)
    assert shares.is_valid_attachment_id is names.is_valid_attachment_id


def test_the_image_token_figure_is_defined_once():
    assert _defining(r"(?m)^\s*[A-Z_]+\s*=\s*1_?600\b") == ["responses_client/parts.py"]
    assert context_parts.IMAGE_MAX_TOKENS == rc_parts.IMAGE_TOKENS
