"""The pure part: parsing queries, the FTS5 expression (always quoted), bigrams and snippets."""

from __future__ import annotations

import pytest

from conversation_manager.search import (
    QuerySyntaxError,
    SearchQuery,
    fts_match,
    parse_query,
    prepare_text,
)
from conversation_manager.snippets import snippet


def test_words_are_anded_and_the_last_is_a_prefix() -> None:
    assert fts_match(parse_query("red apple")) == '"red" AND "apple"*'


def test_a_short_last_word_is_a_whole_word() -> None:
    assert fts_match(parse_query("go to")) == '"go" AND "to"'
    assert fts_match(parse_query("go to*")) == '"go" AND "to"*'


def test_explicit_prefix_and_quoted_phrase() -> None:
    assert fts_match(parse_query('col* "green  apple"')) == '"col"* AND "green apple"'
    assert fts_match(parse_query('"green app"*')) == '"green app"*'


@pytest.mark.parametrize(
    "raw",
    [
        "a OR b",
        "NEAR(a b)",
        "body:secret",
        "-x",
        "^start",
        "a AND NOT b",
        "x + y",
        "{name body}: z",
    ],
)
def test_fts5_syntax_in_input_is_only_words(raw: str) -> None:
    expression = fts_match(parse_query(raw))
    for part in expression.split(" AND "):
        assert part.startswith('"'), expression
        assert part.rstrip("*").endswith('"'), expression
        assert part.rstrip("*").count('"') == 2, expression


@pytest.mark.parametrize(
    "raw",
    ["", "   ", '"unclosed', 'say "a', "*", "ab*cd", "...", '""', "\x00x", "a" * 501],
)
def test_unsearchable_queries_are_syntax_errors(raw: str) -> None:
    with pytest.raises(QuerySyntaxError):
        parse_query(raw)


def test_too_many_terms() -> None:
    with pytest.raises(QuerySyntaxError):
        parse_query(" ".join(f"w{i}" for i in range(17)))


def test_limit_bounds() -> None:
    with pytest.raises(QuerySyntaxError):
        SearchQuery("x", limit=0)
    with pytest.raises(QuerySyntaxError):
        SearchQuery("x", limit=101)
    assert SearchQuery("x").limit == 20


def test_no_space_scripts_become_bigrams_with_their_tail() -> None:
    assert prepare_text("東京都に行く").split() == ["東京", "京都", "都に", "に行", "行く", "く"]
    assert prepare_text("abc東京def").split() == ["abc", "東京", "京", "def"]
    assert prepare_text("plain words") == "plain words"


def test_cjk_query_terms() -> None:
    assert fts_match(parse_query("東京都")) == '"東京 京都"'
    assert fts_match(parse_query("京")) == '"京"*'
    # A run followed by more of the phrase must end its run in the text: its tail token is kept.
    assert fts_match(parse_query('"東京 tower"')) == '"東京 京 tower"'


def test_snippet_highlights_are_offsets_into_the_snippet() -> None:
    text = "Intro. " + "filler " * 30 + "The Café au lait was great, said Zoë."
    terms = parse_query("cafe zoe")
    body, marks = snippet(text, terms)
    assert body.startswith("…")
    assert [body[a:b] for a, b in marks] == ["Café", "Zoë"]


def test_snippet_collapses_white_space_and_keeps_offsets() -> None:
    body, marks = snippet("first line\n\n   second   LINE here", parse_query('"second line"'))
    assert body == "first line second LINE here"
    assert [body[a:b] for a, b in marks] == ["second LINE"]


def test_snippet_of_a_long_text_ends_with_an_ellipsis() -> None:
    body, marks = snippet("needle " + "hay " * 100, parse_query("needle"))
    assert body.endswith("…") and len(body) <= 162
    assert marks == [(0, 6)]


def test_snippet_prefix_and_cjk() -> None:
    body, marks = snippet("Running late. 私は東京都に住んでいます", parse_query("run* 東京"))
    assert [body[a:b] for a, b in marks] == ["Running", "東京"]


def test_snippet_with_characters_that_fold_to_several() -> None:
    body, marks = snippet("Die Straße ist groß", parse_query("strasse"))
    assert [body[a:b] for a, b in marks] == ["Straße"]


def test_a_short_text_is_its_own_snippet() -> None:
    text = "The lighthouse keeper wrote down every ship that passed the Café Noir."
    body, marks = snippet(text, parse_query("noir"))
    assert body == text
    assert [body[a:b] for a, b in marks] == ["Noir"]


def test_sqlite_errors_are_translated() -> None:
    import sqlite3

    from conversation_manager import StorageBusy, StorageFull
    from conversation_manager.json.search_db import IndexDamaged, translate

    def error(code: int, text: str = "x") -> sqlite3.Error:
        exc = sqlite3.OperationalError(text)
        exc.sqlite_errorcode = code  # type: ignore[attr-defined]
        return exc

    assert isinstance(translate(error(5)), StorageBusy)
    assert isinstance(translate(error(13)), StorageFull)
    assert isinstance(translate(error(26, "file is not a database")), IndexDamaged)
    assert isinstance(translate(error(1, "fts5: syntax error near")), QuerySyntaxError)
