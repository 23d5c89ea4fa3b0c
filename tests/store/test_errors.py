"""One definition each: the store errors are defined once, in conversation_manager.errors."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("app", "conversation_manager", "responses_client", "stream_processor", "compat")


def test_one_storage_busy_and_one_storage_full() -> None:
    defined: dict[str, list[str]] = {"StorageBusy": [], "StorageFull": []}
    for package in PACKAGES:
        for source in (REPO / package).rglob("*.py"):
            text = source.read_text()
            for name, where in defined.items():
                if re.search(rf"^\s*class {name}\b", text, re.MULTILINE):
                    where.append(str(source.relative_to(REPO)))
    assert defined == {
        "StorageBusy": ["conversation_manager/errors.py"],
        "StorageFull": ["conversation_manager/errors.py"],
    }
