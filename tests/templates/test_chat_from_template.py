"""`POST /chat` with `template_id` and `variables` (API "Templates"), per-conversation instructions
(`PATCH /conversations/ID`) and the user's default instructions (`GET`/`PATCH /account`): what the
fake upstream receives, exactly."""

from __future__ import annotations

import hashlib
import time
from typing import Any

from app.turns.titles import TITLE_INSTRUCTIONS
from conversation_manager.models import SEEDED_MARK
from tests.conftest import chat, login, reply_text, stored

TUTOR: dict[str, Any] = {
    "name": "French tutor",
    "instructions": "You teach {{ language | default('French') }} to a {{ level | lower }} student.",
    "variables": [
        {"name": "language"},
        {"name": "level", "default": "BEGINNER"},
        {"name": "topic"},
    ],
    "messages": [
        {"role": "user", "text": "Teach me about {{ topic | trim }}."},
        {"role": "assistant", "text": "Gladly! Where shall we start with {{ topic | trim }}?"},
    ],
}


def make(client: Any, body: dict[str, Any] = TUTOR) -> str:
    response = client.post("/templates", json=body)
    assert response.status_code == 201, response.data
    tid: str = response.get_json()["id"]
    return tid


def hash_of(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def test_a_conversation_from_a_template(client: Any, upstream: Any, data_dir: Any) -> None:
    tid = make(client)
    frames = chat(
        client,
        message="Start with greetings.",
        template_id=tid,
        variables={"language": "Italian", "topic": "  food "},
    )
    assert frames[-1].event == "done", frames[-1]
    cid = frames[0].data["conversation_id"]
    # Named from its first message, the template's first (API "Conversations: more fields").
    assert frames[0].data["chat_name"] == "Teach me about food."
    # The exact request: the rendered instructions, the seeded messages replayed, then the turn's.
    (request,) = upstream.responses_requests()
    body = request.body
    assert body["instructions"] == "You teach Italian to a beginner student."
    assert body["input"] == [
        {"role": "user", "content": "Teach me about food."},
        {"role": "assistant", "content": "Gladly! Where shall we start with food?"},
        {"role": "user", "content": "Start with greetings."},
    ]
    assert body.get("previous_response_id") is None
    doc = stored(data_dir, "alice", cid)
    assert doc["instructions"] == "You teach Italian to a beginner student."
    assert doc["template_id"] == tid
    assert doc["template_variables"] == {"language": "Italian", "topic": "  food "}
    assert doc["chat_name_source"] == "message"  # a model-written title may replace it
    seeded_user, seeded_reply, user, reply = doc["messages"]
    assert (seeded_user["role"], seeded_user["text"]) == ("user", "Teach me about food.")
    assert seeded_reply["status"] == "completed" and seeded_reply["provider"] is None
    assert seeded_reply["metadata"] == {SEEDED_MARK: True}
    assert seeded_reply["usage"] is None and seeded_reply["response_id"] is None
    assert user["parent_id"] == seeded_reply["id"] and user["text"] == "Start with greetings."
    assert reply["status"] == "completed" and reply["provider"] == "openai"
    assert reply["metadata"]["instructions_hash"] == hash_of(body["instructions"])
    page = client.get(f"/chat?conversation_id={cid}").get_json()
    assert page["instructions"] == doc["instructions"] and page["template_id"] == tid
    assert [m["text"] for m in page["messages"]][:2] == [
        "Teach me about food.",
        "Gladly! Where shall we start with food?",
    ]
    # The next turn chains from the model's reply as usual.
    chat(client, message="More.", conversation_id=cid)
    assert upstream.last().body["previous_response_id"] == frames[-1].data["response_id"]
    assert upstream.last().body["instructions"] == doc["instructions"]


def test_a_trailing_user_message_lets_the_turn_be_empty(client: Any, upstream: Any) -> None:
    tid = make(
        client,
        {
            "name": "Summariser",
            "instructions": "Summarise.",
            "variables": [{"name": "text"}],
            "messages": [{"role": "user", "text": "Summarise this: {{ text }}"}],
        },
    )
    frames = chat(client, message="", template_id=tid, variables={"text": "a long story"})
    assert frames[-1].event == "done"
    assert upstream.last().body["input"] == "Summarise this: a long story"
    # No seeded message: named from the turn's text, the template's user message here.
    assert frames[0].data["chat_name"] == "Summarise this: a long story"
    # With a message too, it follows the template's text in the same user message.
    frames = chat(client, message="In one line.", template_id=tid, variables={"text": "x"})
    assert upstream.last().body["input"] == "Summarise this: x\n\nIn one line."
    assert frames[0].data["chat_name"] == "Summarise this: x In one line."


def test_an_empty_message_needs_a_trailing_user_message(client: Any, upstream: Any) -> None:
    tid = make(client)
    response = client.post(
        "/chat", json={"message": "", "template_id": tid, "variables": {"topic": "x"}}
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "empty_message"
    assert upstream.responses_requests() == []


def test_variables_are_checked_at_chat_naming_them(client: Any, upstream: Any) -> None:
    tid = make(client)
    missing = client.post("/chat", json={"message": "hi", "template_id": tid, "variables": {}})
    assert missing.status_code == 400
    error = missing.get_json()["error"]
    assert error["code"] == "bad_template" and "'topic'" in error["message"]
    extra = client.post(
        "/chat",
        json={"message": "hi", "template_id": tid, "variables": {"topic": "x", "evil": "y"}},
    )
    assert extra.status_code == 400
    error = extra.get_json()["error"]
    assert error["code"] == "bad_template" and "'evil'" in error["message"]
    wrong_type = client.post(
        "/chat", json={"message": "hi", "template_id": tid, "variables": {"topic": 3}}
    )
    assert wrong_type.status_code == 400
    unknown = client.post("/chat", json={"message": "hi", "template_id": "t_nope"})
    assert unknown.status_code == 404
    assert upstream.responses_requests() == []
    assert client.get("/get-all-conversations").get_json()["conversations"] == []


def test_a_template_starts_a_new_conversation_only(client: Any, upstream: Any) -> None:
    tid = make(client)
    cid = chat(client, message="hi")[0].data["conversation_id"]
    response = client.post(
        "/chat",
        json={
            "message": "x",
            "conversation_id": cid,
            "template_id": tid,
            "variables": {"topic": "x"},
        },
    )
    assert response.status_code == 400
    assert client.post("/chat", json={"message": "x", "variables": {"a": "b"}}).status_code == 400


def test_the_turns_model_wins_over_the_templates(client: Any, upstream: Any, data_dir: Any) -> None:
    tid = make(client, {**TUTOR, "model": "gpt-5.4", "provider": "openai"})
    frames = chat(client, message="hi", template_id=tid, variables={"topic": "x"})
    assert upstream.last().body["model"] == "gpt-5.4"
    frames = chat(
        client, message="hi", template_id=tid, variables={"topic": "x"}, model="gpt-5.4-mini"
    )
    assert upstream.last().body["model"] == "gpt-5.4-mini"
    assert stored(data_dir, "alice", frames[0].data["conversation_id"])["model"] == "gpt-5.4-mini"


def test_instructions_change_from_the_next_turn(client: Any, upstream: Any, data_dir: Any) -> None:
    one = chat(client, message="hello")
    cid = one[0].data["conversation_id"]
    before = upstream.last().body["instructions"]
    entry = client.patch(f"/conversations/{cid}", json={"instructions": "Answer in haiku."})
    assert entry.status_code == 200
    listed = entry.get_json()
    assert listed["id"] == cid and listed["pinned"] is False and listed["archived"] is False
    assert client.get(f"/chat?conversation_id={cid}").get_json()["instructions"] == (
        "Answer in haiku."
    )
    two = chat(client, message="again", conversation_id=cid)
    assert upstream.last().body["instructions"] == "Answer in haiku."
    doc = stored(data_dir, "alice", cid)
    first_reply, second_reply = doc["messages"][1], doc["messages"][3]
    assert first_reply["metadata"]["instructions_hash"] == hash_of(before)
    assert second_reply["metadata"]["instructions_hash"] == hash_of("Answer in haiku.")
    assert reply_text(two)


def test_patch_conversation_fields(client: Any, app: Any, data_dir: Any) -> None:
    cid = chat(client, message="hello")[0].data["conversation_id"]
    last_update = stored(data_dir, "alice", cid)["last_update"]
    entry = client.patch(f"/conversations/{cid}", json={"pinned": True, "archived": True})
    assert entry.get_json()["pinned"] is True and entry.get_json()["archived"] is True
    listed = client.get("/get-all-conversations").get_json()["conversations"][0]
    assert listed["pinned"] is True and listed["archived"] is True
    assert listed["last_update"] == last_update
    renamed = client.patch(f"/conversations/{cid}", json={"chat_name": "  Mine "})
    assert renamed.get_json()["chat_name"] == "Mine"
    assert stored(data_dir, "alice", cid)["chat_name_source"] == "user"
    for bad in ({}, {"chat_name": "   "}, {"pinned": "yes"}, {"instructions": 5}):
        response = client.patch(f"/conversations/{cid}", json=bad)
        assert response.status_code == 400, bad
    bob = login(app.test_client(), app, "bob")
    assert bob.patch(f"/conversations/{cid}", json={"instructions": "x"}).status_code == 404
    assert stored(data_dir, "alice", cid)["instructions"] == app.config["CHAT_INSTRUCTIONS"]


def test_account_default_instructions(client: Any, app: Any, upstream: Any) -> None:
    account = client.get("/account").get_json()
    assert account["username"] == "alice" and account["default_instructions"] is None
    assert account["server_instructions"] == app.config["CHAT_INSTRUCTIONS"]
    changed = client.patch("/account", json={"default_instructions": "Always answer in Welsh."})
    assert changed.get_json()["default_instructions"] == "Always answer in Welsh."
    chat(client, message="hi")
    assert upstream.last().body["instructions"] == "Always answer in Welsh."
    # A template's instructions win over the user's default.
    tid = make(client)
    chat(client, message="hi", template_id=tid, variables={"topic": "x"})
    assert upstream.last().body["instructions"] == "You teach French to a beginner student."
    # Another user keeps the server's.
    bob = login(app.test_client(), app, "bob")
    chat(bob, message="hi")
    assert upstream.last().body["instructions"] == app.config["CHAT_INSTRUCTIONS"]
    # Cleared: the server's default again.
    cleared = client.patch("/account", json={"default_instructions": None})
    assert cleared.get_json()["default_instructions"] is None
    chat(client, message="hi")
    assert upstream.last().body["instructions"] == app.config["CHAT_INSTRUCTIONS"]
    assert client.patch("/account", json={"default_instructions": 3}).status_code == 400


def test_seeded_replies_are_not_unpriced(client: Any, data_dir: Any) -> None:
    tid = make(client)
    frames = chat(client, message="hi", template_id=tid, variables={"topic": "x"})
    doc = stored(data_dir, "alice", frames[0].data["conversation_id"])
    assert doc["totals"]["unpriced_messages"] == 0


def test_a_seeded_message_that_renders_empty_is_refused(client: Any, upstream: Any) -> None:
    tid = make(
        client,
        {
            "name": "Empty",
            "instructions": "x",
            "variables": [{"name": "a"}],
            "messages": [
                {"role": "user", "text": "{{ a }}"},
                {"role": "assistant", "text": "ok"},
            ],
        },
    )
    response = client.post(
        "/chat", json={"message": "hi", "template_id": tid, "variables": {"a": " "}}
    )
    assert response.status_code == 400
    assert "message 1 renders empty" in response.get_json()["error"]["message"]
    assert upstream.responses_requests() == []


def test_a_shared_template_starts_another_users_conversation(
    make_app: Any, upstream: Any, data_dir: Any
) -> None:
    app = make_app(CHAT_SHARED_TEMPLATES=True)
    alice = login(app.test_client(), app, "alice")
    tid = make(alice, {**TUTOR, "shared": True, "options": {"max_output_tokens": 500}})
    bob = login(app.test_client(), app, "bob")
    frames = chat(
        bob, message="hi", template_id=tid, variables={"topic": "verbs"}, chat_name="Mine"
    )
    cid = frames[0].data["conversation_id"]
    assert frames[0].data["chat_name"] == "Mine"
    doc = stored(data_dir, "bob", cid)
    assert doc["template_id"] == tid and doc["chat_name_source"] == "user"
    assert doc["options"] == {"max_output_tokens": 500}
    page = bob.get(f"/chat?conversation_id={cid}").get_json()
    assert page["options"] == {"max_output_tokens": 500}
    assert upstream.last().body["instructions"] == "You teach French to a beginner student."
    assert alice.get(f"/chat?conversation_id={cid}").status_code == 404
    # Once the owner makes it private again, bob can no longer start from it.
    alice.patch(f"/templates/{tid}", json={"shared": False})
    again = bob.post(
        "/chat", json={"message": "hi", "template_id": tid, "variables": {"topic": "x"}}
    )
    assert again.status_code == 404


def test_a_template_without_messages_is_named_from_the_turn(
    client: Any, upstream: Any, data_dir: Any
) -> None:
    tid = make(client, {"name": "Plain", "instructions": "Be brief."})
    frames = chat(client, message="What is   a monad?", template_id=tid)
    assert frames[-1].event == "done"
    assert frames[0].data["chat_name"] == "What is a monad?"
    doc = stored(data_dir, "alice", frames[0].data["conversation_id"])
    assert doc["chat_name_source"] == "message" and doc["template_id"] == tid
    # A name the user gives wins, over the template's messages too.
    frames = chat(
        client,
        message="x",
        template_id=make(client),
        variables={"topic": "a"},
        chat_name="  Lesson 1 ",
    )
    assert frames[0].data["chat_name"] == "Lesson 1"
    doc = stored(data_dir, "alice", frames[0].data["conversation_id"])
    assert doc["chat_name_source"] == "user"


def test_a_model_title_replaces_a_template_conversations_name(make_app: Any, upstream: Any) -> None:
    app = make_app(CHAT_AUTO_TITLES=True)
    client = login(app.test_client(), app)
    upstream.reply = lambda body: (
        "Food lesson" if body.get("instructions") == TITLE_INSTRUCTIONS else "Bien sûr."
    )
    tid = make(client)
    frames = chat(client, message="Go.", template_id=tid, variables={"topic": "food"})
    assert frames[0].data["chat_name"] == "Teach me about food."
    cid = frames[0].data["conversation_id"]
    store = app.extensions["services"].store
    deadline = time.monotonic() + 5  # the title is written after `done`, by another thread
    while store.get("alice", cid).chat_name_source != "model" and time.monotonic() < deadline:
        time.sleep(0.02)
    conversation = store.get("alice", cid)
    assert (conversation.chat_name, conversation.chat_name_source) == ("Food lesson", "model")
