"""Rendering's work is bounded by the cap, not by the values passed (a review's DoS finding):
a value past `max_chars` is refused naming it before any filter runs, presence is decided
without string work, and rendering stops at the first piece past the cap. Work is counted
(calls of a value's filters), never timed."""

from __future__ import annotations

from typing import Any

import pytest

from app.templating import BadTemplate, parse, render
from app.templating.render import missing
from conversation_manager.store import TemplateRecord

MAX = 100_000


class Counting(str):
    """A value that counts the filter calls made on it (a plain `str` is what filters return)."""

    calls = 0

    def upper(self) -> str:
        Counting.calls += 1
        return super().upper()

    def lower(self) -> str:
        Counting.calls += 1
        return super().lower()

    def strip(self, chars: Any = None) -> str:
        Counting.calls += 1
        return super().strip(chars)


@pytest.fixture(autouse=True)
def _reset() -> None:
    Counting.calls = 0


def template(instructions: str, *names: str) -> TemplateRecord:
    return TemplateRecord(
        id="t_x",
        owner="alice",
        name="T",
        instructions=instructions,
        variables=tuple({"name": n} for n in names),
    )


def test_a_value_past_the_cap_is_refused_naming_it_before_any_filter() -> None:
    # The reviewed request: 9,000 upper filters over a 1.9 MB value.
    record = template("{{x|upper}}" * 9000, "x")
    with pytest.raises(BadTemplate) as info:
        render(record, {"x": Counting("a" * 1_900_000)}, max_chars=MAX)
    assert "'x'" in info.value.detail and f"longer than {MAX}" in info.value.detail
    assert Counting.calls == 0
    # Even when the template does not use it, and at exactly the cap plus one.
    with pytest.raises(BadTemplate) as info:
        render(template("hi", "y"), {"y": "b" * (MAX + 1)}, max_chars=MAX)
    assert "'y'" in info.value.detail
    # At the cap it is accepted.
    assert render(template("{{ y }}", "y"), {"y": "b" * MAX}, max_chars=MAX).instructions


def test_presence_is_decided_without_running_a_filter() -> None:
    parts = parse("{{x|upper}}" * 9000)
    assert missing(parts, {"x": Counting("a" * 20_000)}) == []
    assert Counting.calls == 0
    # Absent: not passed (or None) and the first filter is not `default`.
    text = "{{ a | trim | default('z') }}{{ b | default('z') | upper }}{{ c }}{{ d | lower }}"
    assert missing(parse(text), {"d": ""}) == ["a", "c"]


def test_rendering_stops_at_the_first_piece_past_the_cap() -> None:
    value = Counting("a" * 20_000)  # within the cap; 9,000 copies would be 180 MB
    with pytest.raises(BadTemplate) as info:
        render(template("{{x|upper}}" * 9000, "x"), {"x": value}, max_chars=MAX)
    assert "renders longer than" in info.value.detail
    # The sixth piece takes the text past 100,000: no filter ran for the 8,994 after it.
    assert Counting.calls == MAX // 20_000 + 1


def test_filters_still_apply_in_order() -> None:
    text = "{{ a | trim | upper }}-{{ b | default('Q') | lower }}-{{ c | default('x') }}"
    out = render(template(text, "a", "b", "c"), {"a": "  hi ", "c": ""}, max_chars=MAX)
    assert out.instructions == "HI-q-"


def test_post_chat_refuses_a_value_past_the_cap(client: Any, upstream: Any) -> None:
    made = client.post(
        "/templates",
        json={"name": "Loud", "instructions": "{{x|upper}}" * 9000, "variables": [{"name": "x"}]},
    )
    assert made.status_code == 201, made.data
    response = client.post(
        "/chat",
        json={
            "message": "hi",
            "template_id": made.get_json()["id"],
            "variables": {"x": "a" * 1_900_000},
        },
    )
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "bad_template" and "'x'" in error["message"]
    assert upstream.responses_requests() == []
