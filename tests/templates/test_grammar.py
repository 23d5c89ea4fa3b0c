"""The template grammar: `{{ name }}` with default/trim/upper/lower, everything else refused with
what was wrong and where; the checks at save and at render (app/templating)."""

from __future__ import annotations

import random
import time

import pytest

from app.templating import BadTemplate, TemplateSyntaxError, check, parse, render
from app.templating.grammar import Filter, Substitution
from conversation_manager.store import TemplateRecord

MAX = 100_000


def template(
    instructions: str, *names: str, messages: tuple[dict[str, str], ...] = (), **defaults: str
) -> TemplateRecord:
    variables = tuple(
        {"name": n, **({"default": defaults[n]} if n in defaults else {})} for n in names
    )
    return TemplateRecord(
        id="t_x",
        owner="alice",
        name="T",
        instructions=instructions,
        variables=variables,
        messages=messages,
    )


def rendered(text: str, values: dict[str, str], *names: str, **defaults: str) -> str:
    names = names or tuple(values)
    return render(template(text, *names, **defaults), values, max_chars=MAX).instructions


def refusal(text: str) -> TemplateSyntaxError:
    with pytest.raises(TemplateSyntaxError) as info:
        parse(text)
    return info.value


def test_substitution_and_filters() -> None:
    assert parse("Hi {{ name }}!") == ["Hi ", Substitution("name", (), 1, 4), "!"]
    assert parse("{{a|trim|upper}}")[0] == Substitution(
        "a", (Filter("trim"), Filter("upper")), 1, 1
    )
    assert rendered("Hi {{ name }}!", {"name": "Ann"}) == "Hi Ann!"
    assert rendered("{{ x | trim | upper }}", {"x": "  fr  "}) == "FR"
    assert rendered("{{ x|lower }}", {"x": "ABC"}) == "abc"
    assert rendered("{{ x | default('none') }}", {}, "x") == "none"
    assert rendered('{{ x | default("it\\"s") }}', {}, "x") == 'it"s'
    assert rendered("{{ x | default('none') | upper }}", {}, "x") == "NONE"
    assert rendered("{{ x | default('none') }}", {"x": "given"}) == "given"
    # A declared default fills a variable not passed.
    assert rendered("{{ x }}", {}, "x", x="declared") == "declared"
    # Text around it, braces that are not `{{`, and a lone `}}` are literal.
    assert rendered("a { b } }} {x", {}, "x") == "a { b } }} {x"


@pytest.mark.parametrize(
    ("text", "words", "column"),
    [
        ("{{ user.name }}", "attribute access", 8),
        ("{{ user.__class__.__mro__ }}", "attribute access", 8),
        ("{{ items[0] }}", "item access", 9),
        ("{{ name.upper() }}", "attribute access", 8),
        ("{{ lipsum() }}", "calls", 10),
        ("{{ x + 1 }}", "arithmetic", 6),
        ("{{ x * 3 }}", "arithmetic", 6),
        ("{{ 'x' * 50000000 }}", "string literal", 4),
        ("{{ 7 * 7 }}", "number", 4),
        ("{{ x ~ y }}", "joining", 6),
        ("{{ x | bogus }}", "unknown filter 'bogus'", 8),
        ("{{ x | format('%s') }}", "unknown filter 'format'", 8),
        ("{{ x | default(y) }}", "string literal", 16),
        ("{{ x | default('a', true) }}", "one argument", 19),
        ("{{ x | upper(1) }}", "takes no arguments", 13),
        ("{{ x if y else z }}", "expressions are not allowed", 6),
        ("{{ }}", "empty", 4),
        ("{{ x ", "without a closing", 1),
        ("{{- x }}", "whitespace control", 3),
    ],
)
def test_refused_inside_a_substitution(text: str, words: str, column: int) -> None:
    error = refusal(text)
    assert words in error.reason
    assert (error.line, error.column) == (1, column)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("{% for x in range(10) %}{{ x }}{% endfor %}", "blocks (loops"),
        ("{% set x = 1 %}", "blocks"),
        ("{% if x %}y{% endif %}", "blocks"),
        ("{# a comment #}", "comments"),
    ],
)
def test_blocks_and_comments_are_refused(text: str, words: str) -> None:
    assert words in refusal(text).reason


def test_the_place_is_the_line_and_column() -> None:
    error = refusal("line one\n  and {{ a.b }}")
    assert (error.line, error.column) == (2, 11)


def test_the_50_mb_multiplication_is_refused_quickly_at_save() -> None:
    started = time.monotonic()
    with pytest.raises(BadTemplate) as info:
        check(template("{{ 'x' * 50000000 }}"), max_chars=MAX)
    assert time.monotonic() - started < 5
    assert "instructions, line 1, column 4" in info.value.detail


def test_save_refuses_an_undeclared_variable_anywhere() -> None:
    with pytest.raises(BadTemplate) as info:
        check(template("Hi {{ name }}"), max_chars=MAX)
    assert "'name'" in info.value.detail and "not declared" in info.value.detail
    with pytest.raises(BadTemplate) as info:
        check(template("ok", "a", messages=({"role": "user", "text": "{{ b }}"},)), max_chars=MAX)
    assert "message 1" in info.value.detail and "'b'" in info.value.detail
    check(template("Hi {{ name }}", "name", "unused"), max_chars=MAX)  # unused is fine


@pytest.mark.parametrize(
    ("record", "words"),
    [
        (template("x", "1abc"), "variable name '1abc'"),
        (template("x", "a.b"), "variable name 'a.b'"),
        (template("x", "a", "a"), "declared twice"),
        (template("x", messages=({"role": "system", "text": "hi"},)), "role"),
        (template("x" * (MAX + 1)), "longer than"),
    ],
)
def test_save_refuses_bad_declarations(record: TemplateRecord, words: str) -> None:
    with pytest.raises(BadTemplate) as info:
        check(record, max_chars=MAX)
    assert words in info.value.detail


def test_render_names_a_missing_variable() -> None:
    record = template(
        "{{ lang }} and {{ tone }} and {{ extra | default('') }}", "lang", "tone", "extra"
    )
    with pytest.raises(BadTemplate) as info:
        render(record, {"lang": "fr"}, max_chars=MAX)
    assert "missing variable 'tone'" in info.value.detail
    with pytest.raises(BadTemplate) as info:
        render(record, {}, max_chars=MAX)
    assert "'lang', 'tone'" in info.value.detail


def test_render_refuses_a_variable_not_declared() -> None:
    with pytest.raises(BadTemplate) as info:
        render(template("{{ a }}", "a"), {"a": "1", "sneaky": "2"}, max_chars=MAX)
    assert "'sneaky'" in info.value.detail and "not declared" in info.value.detail


def test_rendered_text_is_capped_without_building_it() -> None:
    many = "{{ v }}" * 10_000  # 70,000 characters: within the cap, so it is rendering that stops
    big = "y" * 50_000  # 10,000 x 50,000 = half a gigabyte if it were built
    started = time.monotonic()
    with pytest.raises(BadTemplate) as info:
        render(template(many, "v"), {"v": big}, max_chars=MAX)
    assert time.monotonic() - started < 5
    assert "renders longer than 100000" in info.value.detail
    assert (
        render(template("{{ v }}", "v"), {"v": "z" * MAX}, max_chars=MAX).instructions == "z" * MAX
    )


def test_values_are_text_never_templates() -> None:
    # A value that looks like a template is substituted as it is, never parsed.
    assert rendered("{{ v }}", {"v": "{{ v.__class__ }}{% for %}"}) == "{{ v.__class__ }}{% for %}"


def test_messages_are_rendered_too() -> None:
    record = template(
        "Speak {{ lang }}.",
        "lang",
        messages=(
            {"role": "user", "text": "Say hi in {{ lang | upper }}"},
            {"role": "assistant", "text": "Bonjour"},
        ),
    )
    out = render(record, {"lang": "fr"}, max_chars=MAX)
    assert out.instructions == "Speak fr."
    assert out.messages == (("user", "Say hi in FR"), ("assistant", "Bonjour"))


def test_any_text_parses_or_is_refused_cleanly() -> None:
    # Random text over the grammar's own characters: a parse, or a TemplateSyntaxError with a
    # place inside the text; never another exception. Literal text comes back as it was.
    rng = random.Random(12)
    alphabet = "{}|%#'\"\\ ab_(),.*[]-\nxdefault trim"
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        try:
            parts = parse(text)
        except TemplateSyntaxError as exc:
            assert 1 <= exc.line <= text.count("\n") + 1
            assert exc.column >= 1
            continue
        literal = "".join(p for p in parts if isinstance(p, str))
        if not any(isinstance(p, Substitution) for p in parts):
            assert literal == text
