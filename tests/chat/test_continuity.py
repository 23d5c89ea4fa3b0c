"""What the model receives: chaining, instructions, branches, regenerate, replay of migrated history."""

from __future__ import annotations

from conversation_manager import Legacy, Message
from tests.conftest import chat, reply_text, stored


def test_first_turn_then_chained_turn(client, upstream, app, data_dir):
    one = chat(client, message="What is 2+2?")
    assert one[0].data["context_mode"] == "first"
    cid = one[0].data["conversation_id"]
    two = chat(client, message="And 3+3?", conversation_id=cid)
    assert two[0].data["context_mode"] == "chained" and two[-1].data["context_mode"] == "chained"

    first, second = upstream.responses_requests()
    instructions = app.config["CHAT_INSTRUCTIONS"]
    assert first.body["input"] == "What is 2+2?"
    assert first.body.get("previous_response_id") is None
    assert first.body["store"] is True and first.body["stream"] is True
    assert second.body["previous_response_id"] == one[-1].data["response_id"]
    assert second.body["input"] == "And 3+3?"  # only the new message
    assert first.body["instructions"] == second.body["instructions"] == instructions
    assert first.body["max_output_tokens"] == second.body["max_output_tokens"] > 0

    doc = stored(data_dir, "alice", cid)
    assert doc["last_response_id"] == two[-1].data["response_id"]
    assert doc["current_message_id"] == two[0].data["assistant_message_id"]
    assert [m["role"] for m in doc["messages"]] == ["user", "assistant", "user", "assistant"]
    assert doc["totals"]["output_tokens"] == sum(
        m["usage"]["output_tokens"] for m in doc["messages"][1::2]
    )


def test_edit_under_earlier_answer_chains_from_that_answer(client, upstream, data_dir):
    one = chat(client, message="one")
    cid = one[0].data["conversation_id"]
    chat(client, message="two", conversation_id=cid)
    first_answer = one[0].data["assistant_message_id"]
    three = chat(client, message="two, edited", conversation_id=cid, parent_message_id=first_answer)
    assert three[0].data["context_mode"] == "chained"
    assert upstream.last().body["previous_response_id"] == one[-1].data["response_id"]
    assert upstream.last().body["input"] == "two, edited"

    page = client.get(f"/chat?conversation_id={cid}").get_json()
    texts = [m["text"] for m in page["messages"]]
    assert texts == ["one", "Hello! How can I help?", "two, edited", "Hello! How can I help?"]
    edited = page["messages"][2]
    assert len(edited["sibling_ids"]) == 2 and edited["sibling_ids"][1] == edited["id"]

    # Switch back to the first branch, then continue it: it chains from its own leaf.
    older = edited["sibling_ids"][0]
    switched = client.put(f"/conversations/{cid}/current", json={"message_id": older})
    assert switched.status_code == 200
    assert [m["text"] for m in switched.get_json()["messages"]][2] == "two"
    four = chat(client, message="three", conversation_id=cid)
    doc = stored(data_dir, "alice", cid)
    leaf_of_first_branch = next(m for m in doc["messages"] if m["parent_id"] == older)
    assert upstream.last().body["previous_response_id"] == leaf_of_first_branch["response_id"]
    assert four[-1].data["status"] == "completed"


def test_edit_of_first_message_from_root(client, upstream):
    one = chat(client, message="one")
    cid = one[0].data["conversation_id"]
    again = chat(client, message="one, edited", conversation_id=cid, parent_message_id="root")
    assert again[0].data["context_mode"] == "first"
    assert upstream.last().body.get("previous_response_id") is None
    assert upstream.last().body["input"] == "one, edited"
    page = client.get(f"/chat?conversation_id={cid}").get_json()
    assert page["messages"][0]["parent_id"] is None
    assert len(page["messages"][0]["sibling_ids"]) == 2


def test_regenerate_adds_a_sibling_answer(client, upstream, data_dir):
    one = chat(client, message="one")
    cid = one[0].data["conversation_id"]
    two = chat(client, message="two", conversation_id=cid)
    user_two = two[0].data["user_message_id"]
    upstream.reply = "Another answer."
    again = chat(client, conversation_id=cid, parent_message_id=user_two, regenerate=True)
    assert again[0].data["user_message_id"] == user_two
    assert reply_text(again) == "Another answer."
    # The regenerated answer chains from the answer before the user message, with its text.
    assert upstream.last().body["previous_response_id"] == one[-1].data["response_id"]
    assert upstream.last().body["input"] == "two"
    page = client.get(f"/chat?conversation_id={cid}").get_json()
    assert page["messages"][-1]["text"] == "Another answer."
    assert len(page["messages"][-1]["sibling_ids"]) == 2
    doc = stored(data_dir, "alice", cid)
    assert sum(m["role"] == "user" for m in doc["messages"]) == 2


def test_after_a_stopped_or_failed_answer_the_chain_resumes_with_the_rest_as_text(
    client, upstream, data_dir
):
    one = chat(client, message="one")
    cid = one[0].data["conversation_id"]
    upstream.script(["reset:2"])
    chat(client, message="two", conversation_id=cid)
    three = chat(client, message="three", conversation_id=cid)
    # Rule 2 (the hybrid chain): chain from the last reply that qualifies, the failed one's
    # partial text and the messages after it go as text.
    assert three[0].data["context_mode"] == "chained"
    body = upstream.last().body
    assert body.get("previous_response_id") == one[-1].data["response_id"]
    assert body["input"] == [
        {"role": "user", "content": "two"},
        {"role": "assistant", "content": "Hello! H"},
        {"role": "user", "content": "three"},
    ]
    assert stored(data_dir, "alice", cid)["messages"][-1]["metadata"]["replayed_messages"] == 2


def test_migrated_conversation_replays_its_history(client, app, upstream, data_dir):
    store = app.extensions["store"]
    history = [
        Message(id="m_old1", parent_id=None, role="user", text="old question", timestamp=1.0),
        Message(
            id="m_old2",
            parent_id="m_old1",
            role="assistant",
            text="old answer",
            timestamp=2.0,
            status="completed",
        ),
    ]
    store.create(
        "alice",
        chat_name="Imported",
        model="gpt-5.4-mini",
        provider="openai",
        instructions="Be brief.",
        conversation_id="thread_abc123",
        legacy=Legacy(thread_id="thread_abc123", history="imported"),
        messages=history,
    )
    frames = chat(client, message="new question", conversation_id="thread_abc123")
    assert frames[0].data["context_mode"] == "replayed"
    body = upstream.last().body
    assert body["instructions"] == "Be brief."
    assert body["input"][:2] == [
        {"role": "user", "content": "old question"},
        {"role": "assistant", "content": "old answer"},
    ]
    assert stored(data_dir, "alice", "thread_abc123")["legacy"]["thread_id"] == "thread_abc123"
    # The next turn chains normally.
    chat(client, message="next", conversation_id="thread_abc123")
    assert upstream.last().body["previous_response_id"] == frames[-1].data["response_id"]


def test_model_sent_with_a_turn_becomes_the_conversations(client, upstream, data_dir):
    one = chat(client, message="one", model="gpt-5.4")
    cid = one[0].data["conversation_id"]
    assert upstream.last().body["model"] == "gpt-5.4"
    chat(client, message="two", conversation_id=cid)
    assert upstream.last().body["model"] == "gpt-5.4"
    assert stored(data_dir, "alice", cid)["model"] == "gpt-5.4"


def test_long_history_is_fitted_to_the_window(make_app, upstream, data_dir):
    from tests.conftest import login

    app = make_app(CHAT_CONTEXT_TOKENS=400)
    client = login(app.test_client(), app)
    upstream.reply = "x" * 200
    one = chat(client, message="a" * 200)
    cid = one[0].data["conversation_id"]
    for _ in range(4):
        chat(client, message="b" * 200, conversation_id=cid)
    upstream.forget_all()
    chat(client, message="newest", conversation_id=cid)
    replayed = upstream.last().body["input"]
    assert replayed[-1] == {"role": "user", "content": "newest"}
    assert replayed[0]["role"] == "user"
    assert sum(len(t["content"]) for t in replayed) <= 400 * 4
    doc = stored(data_dir, "alice", cid)
    assert doc["messages"][-1]["metadata"]["trimmed_messages"] > 0
