"""M1 as a property: over generated old files, a second run migrates nothing and changes no byte."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings, target
from hypothesis import strategies as st

import compat
from tests.migration.conftest import conversations, tree_bytes

DEFAULTS = compat.Defaults("gpt-5.4-mini", "openai", "Be helpful.")
times = st.one_of(
    st.integers(0, 2_000_000_000),
    st.floats(0, 2e9, allow_nan=False),
    st.datetimes().map(lambda d: d.isoformat()),
    st.none(),
)
texts = st.text(max_size=40)
message = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "assistant", "bot"])},
    optional={
        "text": texts,
        "content": st.one_of(
            texts, st.lists(st.fixed_dictionaries({"type": st.just("text"), "text": texts}))
        ),
    },
)
thread = st.fixed_dictionaries(
    {
        "data": st.fixed_dictionaries(
            {},
            optional={"created_at": times, "metadata": st.dictionaries(texts, texts, max_size=2)},
        )
    },
    optional={
        "chat_name": st.one_of(texts, st.none(), st.integers()),
        "last_update": times,
        "messages": st.lists(message, max_size=4),
    },
)
thread_id = st.one_of(st.from_regex(r"thread_[A-Za-z0-9]{1,6}", fullmatch=True), texts)
user_name = st.one_of(st.from_regex(r"[a-z0-9_-]{3,8}", fullmatch=True), st.text(max_size=6))
old_file = st.one_of(
    st.dictionaries(thread_id, st.one_of(thread, st.integers(), st.none()), max_size=5),
    st.binary(max_size=20),
)


def _write(source: Path, files: dict[str, Any]) -> None:
    source.mkdir(parents=True)
    for name, content in files.items():
        if not name or "/" in name or "\0" in name or name.startswith("."):
            continue
        data = content if isinstance(content, bytes) else json.dumps(content).encode()
        try:
            (source / f"{name}.json").write_bytes(data)
        except (OSError, UnicodeEncodeError):
            continue


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files=st.dictionaries(user_name, old_file, max_size=4))
def test_second_run_is_a_no_op(files: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        source, dest = Path(tmp) / "chats", Path(tmp) / "data"
        _write(source, files)
        before = tree_bytes(source)
        first = compat.migrate(source, dest, DEFAULTS)
        target(float(first.migrated))
        snapshot = tree_bytes(dest)
        second = compat.migrate(source, dest, DEFAULTS)
        assert second.migrated == 0
        assert second.already_present == first.migrated + first.already_present
        assert [s.reason for s in second.skipped] == [s.reason for s in first.skipped]
        assert tree_bytes(dest) == snapshot
        assert tree_bytes(source) == before
        convs = conversations(dest)
        assert len(convs) == first.migrated
        for (_user, cid), conv in convs.items():
            assert conv["legacy"]["thread_id"] == cid
            assert conv["legacy"]["history"] == ("imported" if conv["messages"] else "unavailable")
