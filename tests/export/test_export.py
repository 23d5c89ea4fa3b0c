"""`GET /conversations/ID/export` (API "Export"): JSON and Markdown of the branch or the tree,
never `provider_items`, a file name safe for any chat name, 404/409 like every route."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

import pytest

from app import export
from conversation_manager.models import Summary
from tests.conftest import chat, login

ITEMS = [{"type": "reasoning", "encrypted_content": "SECRET-OPAQUE"}]


def make_tree(app: Any, name: str = "Tree") -> str:
    """A conversation with an edited question and a regenerated answer, with opaque items."""
    store = app.extensions["services"].store
    msg = {"role": "assistant", "status": "completed", "model": "gpt-5.4", "provider": "openai"}
    conv = store.create(
        "alice",
        chat_name=name,
        model="gpt-5.4",
        provider="openai",
        instructions="Be brief.",
        messages=[
            {
                "id": "m_1",
                "parent_id": None,
                "role": "user",
                "text": "First *question*",
                "timestamp": 1767378354.0,
            },
            {
                "id": "m_2",
                "parent_id": "m_1",
                "text": "First answer",
                "timestamp": 1767378355.0,
                "provider_items": ITEMS,
                "metadata": {"provider_items": ITEMS},
                **msg,
            },
            {
                "id": "m_3",
                "parent_id": "m_2",
                "role": "user",
                "text": "Second question",
                "timestamp": 1767378356.0,
            },
            {
                "id": "m_4",
                "parent_id": "m_3",
                "text": "Second answer, take one",
                "timestamp": 1767378357.0,
                **msg,
            },
            {
                "id": "m_5",
                "parent_id": "m_3",
                "text": "Second answer, take two",
                "timestamp": 1767378358.0,
                **{**msg, "status": "failed"},
                "error": {"code": "server_error", "message": "The upstream failed."},
            },
            {
                "id": "m_6",
                "parent_id": "m_2",
                "role": "user",
                "text": "Edited second question",
                "timestamp": 1767378359.0,
            },
            {
                "id": "m_7",
                "parent_id": "m_6",
                "text": "Answer to the edit",
                "timestamp": 1767378360.0,
                **msg,
            },
        ],
    )
    store.set_current("alice", conv.id, "m_4")
    if hasattr(store, "add_summary"):  # helper B's operation (API "Context": summaries)
        summary = Summary(
            id="s_1",
            covers=["m_1", "m_2"],
            text=None,
            provider="openai",
            model="gpt-5.4",
            created_at=1767378361.0,
            provider_items=ITEMS,
        )
        store.add_summary("alice", conv.id, summary)
    return conv.id


def get_export(client: Any, cid: str, query: str = "") -> Any:
    response = client.get(f"/conversations/{cid}/export{query}")
    assert response.status_code == 200, response.data
    return response


def test_json_defaults_to_the_whole_tree_without_provider_items(app, client):
    cid = make_tree(app)
    response = get_export(client, cid, "?format=json")
    assert response.mimetype == "application/json"
    assert "SECRET-OPAQUE" not in response.get_data(as_text=True)
    assert "provider_items" not in response.get_data(as_text=True)
    data = response.get_json()
    stored = app.extensions["services"].store.get("alice", cid).model_dump(mode="json")
    assert [m["id"] for m in data["messages"]] == [f"m_{n}" for n in range(1, 8)]
    assert data["id"] == cid and data["chat_name"] == "Tree" and data["totals"] == stored["totals"]
    assert data["current_message_id"] == "m_4" and data["instructions"] == "Be brief."
    for summary in data.get("summaries", []):
        assert "provider_items" not in summary
    # the rest is the stored conversation, field for field
    for key in ("id", "created_at", "last_update", "model", "provider", "legacy", "metadata"):
        assert data[key] == stored[key]
    assert get_export(client, cid).get_json() == data  # format defaults to json


def test_json_branch_is_the_messages_on_screen(app, client):
    cid = make_tree(app)
    data = get_export(client, cid, "?format=json&scope=branch").get_json()
    assert [m["id"] for m in data["messages"]] == ["m_1", "m_2", "m_3", "m_4"]


def test_markdown_defaults_to_the_branch(app, client):
    cid = make_tree(app)
    response = get_export(client, cid, "?format=markdown")
    assert response.headers["Content-Type"] == "text/markdown; charset=utf-8"
    text = response.get_data(as_text=True)
    assert text.startswith("# Tree\n")
    assert "First *question*" in text and "Second answer, take one" in text
    assert "take two" not in text and "Edited second question" not in text
    assert "## 1. You · 2026-01-02 18:25 UTC" in text
    assert "## 2. Assistant · gpt-5.4 (openai) · 2026-01-02 18:25 UTC" in text
    assert "SECRET-OPAQUE" not in text


def test_markdown_tree_shows_every_branch(app, client):
    cid = make_tree(app)
    text = get_export(client, cid, "?format=markdown&scope=tree").get_data(as_text=True)
    order = [
        "First *question*",
        "First answer",
        "Second question",
        "Second answer, take one",
        "Second answer, take two",
        "Edited second question",
        "Answer to the edit",
    ]
    places = [text.index(t) for t in order]
    assert places == sorted(places)  # depth first: each answer right after its question
    assert "*Branch 2 of 2, after message 3:*" in text  # the regenerated answer
    assert "*Branch 2 of 2, after message 2:*" in text  # the edited question
    assert "*Status: failed (The upstream failed.)*" in text
    assert "Messages: 7 (every branch)" in text


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ('He said "hi"; rm -rf /', "json"),
        ("Ünïcödé 日本語 ☕", "markdown"),
        ("two\r\nlines\nContent-Type: text/html", "json"),
        ("..", "markdown"),
        ("   ", "json"),
    ],
)
def test_file_name_header_is_safe_for_any_name(app, client, name, fmt):
    cid = make_tree(app, name=name)
    response = get_export(client, cid, f"?format={fmt}")
    header = response.headers["Content-Disposition"]
    assert header.startswith("attachment; filename*=UTF-8''")
    encoded = header.removeprefix("attachment; filename*=UTF-8''")
    # RFC 5987 attr-chars only: no quotes, separators, spaces or control characters
    assert all(c.isascii() and (c.isalnum() or c in "%-._~") for c in encoded), encoded
    filename = unquote(encoded)
    assert filename.endswith(".md" if fmt == "markdown" else ".json")
    assert not any(c in filename for c in '/\\"\r\n\x00')
    assert len(response.headers.getlist("Content-Disposition")) == 1
    if name == "Ünïcödé 日本語 ☕":
        assert filename == "Ünïcödé 日本語 ☕.md"
    if name.strip(" .") == "":
        assert filename.startswith("conversation.")


def test_markdown_title_is_one_line_with_specials_escaped(app, client):
    cid = make_tree(app, name="# big\n[link](javascript:x) <b>")
    text = get_export(client, cid, "?format=markdown").get_data(as_text=True)
    first = text.splitlines()[0]
    assert first == r"# \# big \[link\](javascript:x) \<b\>"


def test_other_users_and_unknown_ids_are_404_and_bad_choices_400(app, client):
    cid = make_tree(app)
    bob = login(app.test_client(), app, "bob")
    for query in ("", "?format=markdown", "?format=json&scope=branch"):
        refused = bob.get(f"/conversations/{cid}/export{query}")
        assert refused.status_code == 404 and refused.get_json()["error"]["code"] == "not_found"
    assert client.get("/conversations/c_unknown/export").status_code == 404
    assert client.get("/conversations/bad id!/export").status_code == 400
    for query in ("?format=pdf", "?scope=all", "?format=markdown&scope=forest"):
        bad = client.get(f"/conversations/{cid}/export{query}")
        assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "bad_request"
    assert app.test_client().get(f"/conversations/{cid}/export").status_code == 401


def test_damaged_conversation_is_409(app, client, data_dir):
    cid = chat(client, message="hello")[0].data["conversation_id"]
    (data_dir / "alice" / f"{cid}.json").write_text("{not json")
    response = client.get(f"/conversations/{cid}/export")
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "history_unavailable"


def test_a_real_conversation_round_trips(app, client):
    frames = chat(client, message="hello there")
    cid = frames[0].data["conversation_id"]
    data = get_export(client, cid).get_json()
    assert [m["role"] for m in data["messages"]] == ["user", "assistant"]
    assert data["messages"][1]["status"] == "completed"
    assert json.loads(json.dumps(data)) == data
    text = get_export(client, cid, "?format=markdown").get_data(as_text=True)
    assert "hello there" in text and data["messages"][1]["text"] in text


def test_pure_rendering_drops_provider_items_at_any_depth(app):
    cid = make_tree(app)
    conversation = app.extensions["services"].store.get("alice", cid)
    for scope in ("branch", "tree"):
        assert "SECRET-OPAQUE" not in json.dumps(export.export_json(conversation, scope))
        assert "SECRET-OPAQUE" not in export.export_markdown(conversation, scope, now=0.0)
