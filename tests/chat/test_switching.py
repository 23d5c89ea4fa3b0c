"""Switching provider and model on any turn (API `POST /chat`, "What the model receives"): what each
provider is sent, what each reply records, and what the conversation keeps."""

from __future__ import annotations

import pytest

import responses_client as rc
from app.turns import UnknownModelRequest
from responses_client.adapters.fake import FakeProvider
from responses_client.registry import ModelInfo, ProviderSettings
from tests.chat.multi_provider import (
    conversation_of,
    make_service,
    reply_of,
    run_turn,
    text_of,
)


@pytest.fixture
def openai() -> FakeProvider:
    return FakeProvider(name="openai", stateful=True)


@pytest.fixture
def anthropic() -> FakeProvider:
    return FakeProvider(name="anthropic", stateful=False)


@pytest.fixture
def gemini() -> FakeProvider:
    return FakeProvider(name="gemini", stateful=True)


@pytest.fixture
def service(tmp_path, openai, anthropic, gemini):
    settings = [
        ProviderSettings(name="openai", protocol="fake", stateful=True, models=("gpt-a", "gpt-b")),
        ProviderSettings(name="anthropic", protocol="fake", models=("claude-a",)),
        ProviderSettings(name="gemini", protocol="fake", stateful=True, models=("gem-a",)),
    ]
    return make_service(tmp_path, [openai, anthropic, gemini], settings=settings)


def test_switch_and_back_chains_from_the_providers_own_reply(service, openai, anthropic):
    openai.enqueue_reply("One.")
    first = run_turn(service, message="one")
    cid = first[0].data["conversation_id"]
    assert conversation_of(service, first).last_response_id == "resp_fake_1"

    anthropic.enqueue_reply("Two.")
    second = run_turn(service, message="two", conversation_id=cid, provider="anthropic")
    assert second[0].data["provider"] == "anthropic" and second[0].data["model"] == "claude-a"
    assert second[0].data["context_mode"] == "replayed"
    (to_anthropic,) = anthropic.requests
    assert to_anthropic.model == "claude-a" and to_anthropic.previous_response_id is None
    assert to_anthropic.input == [
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "One."},
        {"role": "user", "content": "two"},
    ]
    assert to_anthropic.store is False
    conv = conversation_of(service, second)
    assert (conv.provider, conv.model) == ("anthropic", "claude-a")
    assert conv.last_response_id is None  # anthropic keeps no state here
    saved = reply_of(service, second)
    assert (saved.provider, saved.model) == ("anthropic", "claude-a")
    assert saved.response_id == "resp_fake_1" and saved.metadata["stateless"] is True

    # Back to openai: the hybrid chain from its own reply, anthropic's turn sent as text.
    openai.enqueue_reply("Three.")
    third = run_turn(service, message="three", conversation_id=cid, provider="openai")
    back = openai.requests[-1]
    assert back.previous_response_id == "resp_fake_1" and back.model == "gpt-a"
    assert back.input == [
        {"role": "user", "content": "two"},
        {"role": "assistant", "content": "Two."},
        {"role": "user", "content": "three"},
    ]
    assert third[0].data["context_mode"] == "chained" == third[-1].data["context_mode"]
    saved = reply_of(service, third)
    assert saved.context_mode == "chained" and saved.metadata["replayed_messages"] == 2
    assert "stateless" not in saved.metadata
    conv = conversation_of(service, third)
    assert (conv.provider, conv.model) == ("openai", "gpt-a")
    assert conv.last_response_id == "resp_fake_2"

    # And a plain next turn stays on openai, chained from its parent (rule 1).
    openai.enqueue_reply("Four.")
    run_turn(service, message="four", conversation_id=cid)
    assert openai.requests[-1].previous_response_id == "resp_fake_2"
    assert openai.requests[-1].input == "four"


def test_a_stateless_providers_reply_is_never_chained_from(service, anthropic):
    anthropic.enqueue_reply("One.")
    first = run_turn(service, message="one", provider="anthropic")
    cid = first[0].data["conversation_id"]
    anthropic.enqueue_reply("Two.")
    run_turn(service, message="two", conversation_id=cid)
    assert anthropic.requests[-1].previous_response_id is None
    assert isinstance(anthropic.requests[-1].input, list)


def test_a_provider_named_without_a_model_uses_its_default(service, gemini):
    gemini.enqueue_reply("Hi.")
    frames = run_turn(service, message="hi", provider="gemini")
    assert gemini.requests[0].model == "gem-a"
    assert frames[-1].data["model"] == "gem-a" and frames[-1].data["provider"] == "gemini"
    conv = conversation_of(service, frames)
    assert (conv.provider, conv.model) == ("gemini", "gem-a")


def test_a_model_with_its_provider_prefix(service, gemini):
    gemini.enqueue_reply("Hi.")
    run_turn(service, message="hi", model="gemini:gem-x")
    assert (gemini.requests[0].model, len(gemini.requests)) == ("gem-x", 1)


def test_a_model_change_within_the_provider_keeps_the_chain(service, openai):
    openai.enqueue_reply("One.")
    cid = run_turn(service, message="one")[0].data["conversation_id"]
    openai.enqueue_reply("Two.")
    frames = run_turn(service, message="two", conversation_id=cid, model="gpt-b")
    assert openai.requests[-1].model == "gpt-b"
    assert openai.requests[-1].previous_response_id == "resp_fake_1"
    assert conversation_of(service, frames).model == "gpt-b"


def test_an_unknown_provider_is_refused_up_front(service, openai):
    with pytest.raises(UnknownModelRequest) as info:
        run_turn(service, message="hi", provider="nope")
    assert info.value.code == "unknown_model"
    assert openai.streams_opened == 0


def test_a_provider_without_a_default_model_must_be_given_one(tmp_path):
    router = FakeProvider(name="openrouter", stateful=False)
    primary = FakeProvider(name="openai")
    service = make_service(tmp_path, [primary, router])
    with pytest.raises(UnknownModelRequest):
        run_turn(service, message="hi", provider="openrouter")
    router.enqueue_reply("ok")
    frames = run_turn(service, message="hi", provider="openrouter", model="x/y")
    assert frames[-1].event == "done" and router.requests[0].model == "x/y"


def test_a_strict_provider_refuses_a_model_it_does_not_list(tmp_path):
    primary = FakeProvider(name="openai")
    settings = [ProviderSettings(name="openai", protocol="fake", models=("gpt-a",), strict=True)]
    service = make_service(tmp_path, [primary], settings=settings)
    with pytest.raises(UnknownModelRequest):
        run_turn(service, message="hi", model="gpt-typo")
    assert primary.streams_opened == 0


def test_an_upstream_unknown_model_fails_the_reply_and_sets_the_model_back(tmp_path):
    primary = FakeProvider(name="openai")
    spare = FakeProvider(name="gemini")
    settings = [
        ProviderSettings(
            name="openai", protocol="fake", models=("gpt-a",), fallback=(("gemini", "gem-a"),)
        ),
        ProviderSettings(name="gemini", protocol="fake", models=("gem-a",)),
    ]
    service = make_service(tmp_path, [primary, spare], settings=settings)
    primary.enqueue_reply("One.")
    cid = run_turn(service, message="one")[0].data["conversation_id"]

    primary.enqueue_error(rc.UnknownModel(status=404))
    frames = run_turn(service, message="two", conversation_id=cid, model="gpt-typo")
    assert frames[-1].event == "error" and frames[-1].data["code"] == "unknown_model"
    assert frames[-1].data["retryable"] is False
    assert "fallback" not in [f.event for f in frames]  # no fallback for a model the user named
    assert spare.streams_opened == 0
    saved = reply_of(service, frames)
    assert saved.status == "failed" and saved.model == "gpt-typo"
    conv = conversation_of(service, frames)
    assert (conv.provider, conv.model) == ("openai", "gpt-a")  # set back

    # The next turn uses the previous model again (and chains past the failed reply).
    primary.enqueue_reply("Three.")
    run_turn(service, message="three", conversation_id=cid)
    assert primary.requests[-1].model == "gpt-a"
    assert primary.requests[-1].previous_response_id == "resp_fake_1"


def test_an_upstream_unknown_model_on_a_provider_switch_sets_the_provider_back(service, gemini):
    cid_frames = None
    service_openai = service.providers["openai"]
    service_openai.enqueue_reply("One.")  # type: ignore[attr-defined]
    cid_frames = run_turn(service, message="one")
    cid = cid_frames[0].data["conversation_id"]
    gemini.enqueue_error(rc.UnknownModel(status=404))
    frames = run_turn(service, message="two", conversation_id=cid, provider="gemini")
    assert frames[-1].data["code"] == "unknown_model"
    conv = conversation_of(service, frames)
    assert (conv.provider, conv.model) == ("openai", "gpt-a")


def test_regenerate_with_another_model_makes_a_sibling_answer(service, openai, gemini):
    openai.enqueue_reply("One.")
    first = run_turn(service, message="one")
    cid = first[0].data["conversation_id"]
    question = first[0].data["user_message_id"]
    gemini.enqueue_reply("Gemini's one.")
    again = run_turn(
        service, conversation_id=cid, parent_message_id=question, regenerate=True, provider="gemini"
    )
    assert text_of(again) == "Gemini's one."
    assert gemini.requests[0].input == "one" and gemini.requests[0].model == "gem-a"
    conv = conversation_of(service, again)
    siblings = conv.sibling_ids(again[0].data["assistant_message_id"])
    assert siblings == [
        first[0].data["assistant_message_id"],
        again[0].data["assistant_message_id"],
    ]
    a, b = (conv.message(m) for m in siblings)
    assert (a.provider, a.model, b.provider, b.model) == ("openai", "gpt-a", "gemini", "gem-a")
    assert (conv.provider, conv.model) == ("gemini", "gem-a")
    assert conv.last_response_id == b.response_id  # gemini is stateful: its own reply


def test_identifiers_billed_cost_and_usage_are_kept(tmp_path):
    router = FakeProvider(name="openrouter", stateful=False)
    service = make_service(tmp_path, [router], default=("openrouter", "vendor/model"))
    router.enqueue_reply(
        "Hi.",
        usage={
            "input_tokens": 100,
            "cached_tokens": 20,
            "cache_write_tokens": 10,
            "output_tokens": 7,
            "reasoning_tokens": 2,
            "total_tokens": 107,
        },
        started_metadata={"ratelimit_remaining_requests": 99, "service_tier": "default"},
        finished_metadata={"system_fingerprint": "fp_123", "junk": "x"},
        cost_usd=0.0123,
        echoed_model="vendor/model-2026",
        finish_reason="stop",
    )
    frames = run_turn(service, message="hi")
    done = frames[-1].data
    assert done["cost_usd"] == pytest.approx(0.0123)
    assert done["price"] is not None and done["price"]["source"] == "provider"
    assert done["usage"]["cache_write_tokens"] == 10 and done["usage"]["cached_tokens"] == 20
    saved = reply_of(service, frames)
    assert saved.cost_usd == pytest.approx(0.0123) and saved.price == done["price"]
    assert saved.usage is not None and saved.usage.cache_write_tokens == 10
    assert saved.metadata["system_fingerprint"] == "fp_123"
    assert saved.metadata["service_tier"] == "default"
    assert saved.metadata["ratelimit_remaining_requests"] == 99
    assert saved.metadata["finish_reason"] == "stop"
    assert saved.metadata["resolved_model"] == "vendor/model-2026"
    assert "junk" not in saved.metadata
    totals = conversation_of(service, frames).totals
    assert totals.cache_write_tokens == 10 and totals.cost_usd == pytest.approx(0.0123)


def test_an_unknown_price_is_null_with_no_price_record(tmp_path):
    local = FakeProvider(name="openai")
    service = make_service(tmp_path, [local], default=("openai", "no-such-model-xyz"))
    local.enqueue_reply("Hi.")
    done = run_turn(service, message="hi")[-1].data
    assert done["cost_usd"] is None and done["price"] is None


def test_a_known_price_keeps_its_rates(tmp_path):
    primary = FakeProvider(name="openai")
    service = make_service(tmp_path, [primary], default=("openai", "gpt-4o"))
    primary.enqueue_reply("Hi.", usage={"input_tokens": 1000, "output_tokens": 100})
    done = run_turn(service, message="hi")[-1].data
    assert done["cost_usd"] is not None and done["cost_usd"] > 0
    assert done["price"]["input"] > 0 and done["price"]["source"].startswith("genai-prices")


def test_a_configured_price_overrides_the_data(tmp_path):
    local = FakeProvider(name="ollama", stateful=False)
    models = [ModelInfo(provider="ollama", id="llama", price={"input": 0.0, "output": 0.0})]
    service = make_service(tmp_path, [local], models=models, default=("ollama", "llama"))
    local.enqueue_reply("Hi.")
    done = run_turn(service, message="hi")[-1].data
    assert done["cost_usd"] == 0.0 and done["price"]["source"] == "configured"


def test_a_new_conversation_never_keeps_a_model_the_upstream_does_not_know(service, openai):
    openai.enqueue_error(rc.UnknownModel(status=404))
    frames = run_turn(service, message="hi", model="gpt-typo")
    assert frames[-1].data["code"] == "unknown_model"
    conv = conversation_of(service, frames)
    assert (conv.provider, conv.model) == ("openai", "gpt-a")  # the defaults


def test_an_expired_hybrid_chain_is_replayed_once(service, openai, anthropic):
    openai.enqueue_reply("One.")
    cid = run_turn(service, message="one")[0].data["conversation_id"]
    anthropic.enqueue_reply("Two.")
    run_turn(service, message="two", conversation_id=cid, provider="anthropic")
    openai.enqueue_error(rc.PreviousResponseNotFound(status=400))
    openai.enqueue_reply("Three.")
    frames = run_turn(service, message="three", conversation_id=cid, provider="openai")
    chained, replayed = openai.requests[-2:]
    assert chained.previous_response_id == "resp_fake_1" and len(chained.input) == 3
    assert replayed.previous_response_id is None and len(replayed.input) == 5
    assert frames[0].data["context_mode"] == "chained"
    assert frames[-1].data["context_mode"] == "replayed"
    saved = reply_of(service, frames)
    assert saved.context_mode == "replayed" and "replayed_messages" not in saved.metadata


def test_a_replay_that_fails_after_an_expired_chain_says_replayed(service, openai):
    openai.enqueue_reply("One.")
    cid = run_turn(service, message="one")[0].data["conversation_id"]
    openai.enqueue_error(rc.PreviousResponseNotFound(status=400))
    openai.enqueue_error(rc.BadRequest(status=400))
    frames = run_turn(service, message="two", conversation_id=cid)
    assert frames[-1].event == "error"
    assert reply_of(service, frames).context_mode == "replayed"


# -- over HTTP, with the app's own wiring ----------------------------------------------------------


def test_http_upstream_unknown_model_fails_the_turn_and_keeps_the_model(client, upstream):
    from tests.conftest import chat

    one = chat(client, message="one")
    cid = one[0].data["conversation_id"]
    before = client.get(f"/chat?conversation_id={cid}").get_json()["model"]
    frames = chat(client, message="two", conversation_id=cid, model="fake-model404")
    assert frames[-1].event == "error" and frames[-1].data["code"] == "unknown_model"
    page = client.get(f"/chat?conversation_id={cid}").get_json()
    assert page["model"] == before
    assert page["messages"][-1]["model"] == "fake-model404"
    assert page["messages"][-1]["provider"] == "openai"
    assert len(upstream.responses_requests()) == 2  # not retried


def test_http_unknown_provider_is_400_before_anything_is_sent(client, upstream):
    response = client.post("/chat", json={"message": "hi", "provider": "nope"})
    assert response.status_code == 400
    assert upstream.responses_requests() == []


def test_http_unknown_provider_says_unknown_model(client):
    response = client.post("/chat", json={"message": "hi", "provider": "nope"})
    assert response.get_json()["error"]["code"] == "unknown_model"


def test_http_openai_to_anthropic_and_back_with_the_hybrid_chain(make_app, upstream, data_dir):
    from tests.conftest import chat, login, stored
    from tests.fakes.anthropic import FakeAnthropic

    with FakeAnthropic() as claude:
        app = make_app(
            ANTHROPIC_API_KEY="sk-ant-test-0000000000000000", ANTHROPIC_BASE_URL=claude.base_url
        )
        client = login(app.test_client(), app)
        one = chat(client, message="one")
        cid = one[0].data["conversation_id"]
        two = chat(client, message="two", conversation_id=cid, provider="anthropic")
        assert two[-1].event == "done" and two[-1].data["provider"] == "anthropic"
        (to_claude,) = claude.messages_requests()
        assert [m["role"] for m in to_claude.body["messages"]] == ["user", "assistant", "user"]
        three = chat(client, message="three", conversation_id=cid, provider="openai")
        assert three[-1].event == "done" and three[0].data["context_mode"] == "chained"
        body = upstream.last().body
        assert body["previous_response_id"] == one[-1].data["response_id"]
        assert body["input"] == [
            {"role": "user", "content": "two"},
            {"role": "assistant", "content": "Hello! How can I help?"},
            {"role": "user", "content": "three"},
        ]
        doc = stored(data_dir, "alice", cid)
        answers = [m for m in doc["messages"] if m["role"] == "assistant"]
        assert [m["provider"] for m in answers] == ["openai", "anthropic", "openai"]
        assert answers[-1]["metadata"]["replayed_messages"] == 2
        assert doc["provider"] == "openai" and doc["last_response_id"] == answers[-1]["response_id"]


def test_the_admission_estimate_uses_the_configured_price(tmp_path):
    class Limits:
        estimates: list[float | None] = []
        budget = "a budget"  # the estimate is priced only for a budget

        def precheck(self, user: str) -> None:
            pass

        def admit(self, user: str, *, estimated_tokens: int, estimated_cost_usd: float | None):
            self.estimates.append(estimated_cost_usd)

            class Admission:
                def settle(self, *, cost_usd: float | None, tokens: int) -> None:
                    pass

                def release(self) -> None:
                    pass

            return Admission()

        def add_spend(self, user: str, *, cost_usd: float | None, tokens: int) -> None:
            pass

    local = FakeProvider(name="ollama", stateful=False)
    models = [ModelInfo(provider="ollama", id="llama", price={"input": 1.0, "output": 2.0})]
    limits = Limits()
    service = make_service(
        tmp_path, [local], models=models, default=("ollama", "llama"), limits=limits
    )
    local.enqueue_reply("Hi.")
    run_turn(service, message="hi")
    (estimate,) = limits.estimates
    assert estimate is not None and estimate > 0  # the price data does not know this model


def test_the_output_cap_sent_is_the_smaller_of_the_setting_and_the_models_limit(tmp_path):
    small = FakeProvider(name="openai", stateful=True)
    service = make_service(
        tmp_path,
        [small],
        models=[ModelInfo(provider="openai", id="gpt-a", max_output_tokens=8192)],
        max_output_tokens=16_000,
    )
    small.enqueue_reply("Short.")
    run_turn(service, message="hello")
    small.enqueue_reply("Again.")
    run_turn(service, message="hello", model="gpt-unknown-limit")
    assert [r.max_output_tokens for r in small.requests] == [8192, 16_000]


def test_each_reply_records_the_hash_of_its_instructions(tmp_path):
    import hashlib

    provider = FakeProvider(name="openai", stateful=True)
    service = make_service(tmp_path, [provider])
    provider.enqueue_reply("Hi.")
    frames = run_turn(service, message="hello")
    reply = reply_of(service, frames)
    expected = hashlib.sha256(b"Be brief.").hexdigest()[:16]
    assert reply.metadata["instructions_hash"] == expected
