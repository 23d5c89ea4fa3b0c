"""`GET /search` and `flask --app app search reindex` (API "Search")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import chat, login


def _search(client: Any, **params: Any) -> Any:
    return client.get("/search", query_string=params)


def test_a_turn_is_found_with_the_api_fields(client: Any) -> None:
    frames = chat(client, message="Where do pelicans nest?")
    cid = frames[0].data["conversation_id"]
    response = _search(client, q="pelicans")
    assert response.status_code == 200
    [hit] = [h for h in response.get_json()["results"] if h["role"] == "user"]
    assert set(hit) == {
        "conversation_id",
        "chat_name",
        "message_id",
        "role",
        "snippet",
        "highlights",
        "score",
        "timestamp",
    }
    assert hit["conversation_id"] == cid
    assert [hit["snippet"][s:e] for s, e in hit["highlights"]] == ["pelicans"]
    conv = client.get("/chat", query_string={"conversation_id": cid}).get_json()
    assert hit["message_id"] == conv["messages"][0]["id"]


@pytest.mark.parametrize(
    "params",
    [
        {"q": '"unclosed'},
        {"q": ""},
        {},
        {"q": "*"},
        {"q": "x", "limit": "ten"},
        {"q": "x", "limit": "0"},
        {"q": "x", "from": "yesterday"},
        {"q": "x", "to": "nan"},
        {"q": "a" * 600},
    ],
)
def test_bad_queries_are_400(client: Any, params: dict[str, str]) -> None:
    response = _search(client, **params)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_request"


def test_limit_defaults_to_20_and_is_at_most_100(client: Any, app: Any) -> None:
    store = app.extensions["store"]
    for i in range(120):
        store.create(
            "alice", chat_name=f"walrus {i}", model="m", provider="openai", instructions=""
        )
    assert len(_search(client, q="walrus").get_json()["results"]) == 20
    assert len(_search(client, q="walrus", limit=500).get_json()["results"]) == 100
    assert len(_search(client, q="walrus", limit=5).get_json()["results"]) == 5


def test_filters_by_time(client: Any, app: Any) -> None:
    store = app.extensions["store"]
    conv = store.create("alice", chat_name="otter", model="m", provider="openai", instructions="")
    t = conv.last_update
    assert _search(client, q="otter", **{"from": t - 1, "to": t + 1}).get_json()["results"]
    assert _search(client, q="otter", **{"from": t + 1}).get_json()["results"] == []
    assert _search(client, q="otter", model="other").get_json()["results"] == []
    assert _search(client, q="otter", provider="openai").get_json()["results"]


def test_another_user_never_sees_it(client: Any, app: Any) -> None:
    chat(client, message="my secret is aardvark")
    bob = login(app.test_client(), app, "bob")
    assert _search(bob, q="aardvark").get_json()["results"] == []
    assert _search(client, q="aardvark").get_json()["results"]


def test_logged_out_is_401(app: Any) -> None:
    response = app.test_client().get("/search?q=x")
    assert response.status_code == 401


def test_reindex_command(client: Any, app: Any, data_dir: Path) -> None:
    chat(client, message="reindex me please")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["search", "reindex"])
    assert result.exit_code == 0, result.output
    assert "alice: 1 conversations indexed" in result.output
    result = runner.invoke(args=["search", "reindex", "--user", "alice"])
    assert result.exit_code == 0 and "alice: 1" in result.output
    (data_dir / "alice" / ".search.sqlite3").write_bytes(b"junk")
    result = runner.invoke(args=["search", "reindex", "--user", "alice"])
    assert result.exit_code == 0, result.output
    assert _search(client, q="reindex").get_json()["results"]
    result = runner.invoke(args=["search", "reindex", "--user", "Not Valid"])
    assert result.exit_code != 0
