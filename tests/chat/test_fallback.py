"""Fallback per API "Retries and fallback": only before the first text, only for the listed codes, the
window checked, the `fallback` frame, `fallback_from` recorded, and who answered."""

from __future__ import annotations

import pytest

import responses_client as rc
from app.turns import ContextTooLongRequest
from responses_client.adapters.fake import FakeProvider
from responses_client.capabilities import Capabilities
from responses_client.registry import ModelInfo, ProviderSettings
from tests.chat.multi_provider import (
    USER,
    conversation_of,
    events,
    make_service,
    reply_of,
    run_turn,
    text_of,
)
from tests.conftest import parse_sse

FALLBACK_ERRORS = [
    rc.RateLimited(status=429),
    rc.UpstreamUnavailable(status=529, cause="overloaded"),
    rc.UpstreamFailed(),
    rc.QuotaExceeded(status=402),
    rc.AuthFailed(status=401),
]
NO_FALLBACK_ERRORS = [
    rc.BadRequest(status=400),
    rc.UnknownModel(status=404),
    rc.ContextTooLong(status=400),
    rc.ContentBlocked(),
    rc.Interrupted(),
]


def chain_settings(**first: object) -> list[ProviderSettings]:
    return [
        ProviderSettings(
            name="anthropic",
            protocol="fake",
            models=("claude-a",),
            fallback=(("gemini", "gem-a"), ("openai", "gpt-a")),
            **first,  # type: ignore[arg-type]
        ),
        ProviderSettings(name="gemini", protocol="fake", models=("gem-a",)),
        ProviderSettings(name="openai", protocol="fake", stateful=True, models=("gpt-a",)),
    ]


@pytest.fixture
def three():
    return (
        FakeProvider(name="anthropic", stateful=False),
        FakeProvider(name="gemini", stateful=False),
        FakeProvider(name="openai", stateful=True),
    )


@pytest.fixture
def service(tmp_path, three):
    return make_service(
        tmp_path, three, settings=chain_settings(), default=("anthropic", "claude-a")
    )


@pytest.mark.parametrize("error", FALLBACK_ERRORS, ids=lambda e: e.code)
def test_each_listed_code_moves_to_the_next_candidate_at_once(service, three, error):
    anthropic, gemini, openai = three
    anthropic.enqueue_error(error)
    gemini.enqueue_reply("From Gemini.")
    frames = run_turn(service, message="hello")
    assert events(frames)[:3] == ["conversation", "fallback", "delta"]
    assert frames[0].data["provider"] == "anthropic" and frames[0].data["model"] == "claude-a"
    assert frames[1].data == {
        "from": {"provider": "anthropic", "model": "claude-a", "code": error.code},
        "provider": "gemini",
        "model": "gem-a",
    }
    done = frames[-1]
    assert done.event == "done" and text_of(frames) == "From Gemini."
    assert (done.data["provider"], done.data["model"]) == ("gemini", "gem-a")
    expected = [{"provider": "anthropic", "model": "claude-a", "code": error.code}]
    assert done.data["fallback_from"] == expected
    assert anthropic.streams_opened == 1  # an earlier candidate is never retried
    assert openai.streams_opened == 0
    saved = reply_of(service, frames)
    assert (saved.provider, saved.model, saved.fallback_from) == ("gemini", "gem-a", expected)
    conv = conversation_of(service, frames)
    assert (conv.provider, conv.model) == ("anthropic", "claude-a")  # the chosen ones stay


@pytest.mark.parametrize("error", NO_FALLBACK_ERRORS, ids=lambda e: type(e).__name__)
def test_other_codes_never_fall_back(service, three, error):
    anthropic, gemini, _ = three
    anthropic.enqueue_error(error)
    gemini.enqueue_reply("never")
    frames = run_turn(service, message="hello")
    assert events(frames) == ["conversation", "error"]
    assert frames[-1].data["code"] == error.code and "fallback_from" not in frames[-1].data
    assert gemini.streams_opened == 0


def test_no_fallback_once_a_delta_was_sent(service, three):
    anthropic, gemini, _ = three
    anthropic.enqueue_events(
        [rc.ResponseStarted("msg_1", "claude-a"), rc.TextDelta("Hel"), rc.UpstreamUnavailable()]
    )
    gemini.enqueue_reply("never")
    frames = run_turn(service, message="hello")
    assert events(frames) == ["conversation", "delta", "error"]
    assert frames[-1].data["code"] == "upstream_unavailable"
    assert gemini.streams_opened == 0 and reply_of(service, frames).text == "Hel"


def test_no_fallback_once_a_reasoning_frame_was_sent(service, three):
    anthropic, gemini, _ = three
    anthropic.enqueue_events(
        [rc.ResponseStarted("msg_1", "claude-a"), rc.ReasoningDelta("Hmm"), rc.RateLimited()]
    )
    frames = run_turn(service, message="hello")
    assert events(frames) == ["conversation", "reasoning", "error"]
    assert gemini.streams_opened == 0


def test_a_failure_after_the_response_started_but_before_text_still_falls_back(service, three):
    anthropic, gemini, _ = three
    anthropic.enqueue_events([rc.ResponseStarted("msg_1", "claude-a"), rc.UpstreamFailed()])
    gemini.enqueue_reply("Saved.")
    frames = run_turn(service, message="hello")
    assert frames[-1].event == "done" and frames[-1].data["response_id"] == "resp_fake_1"
    saved = reply_of(service, frames)
    assert saved.request_id == "req_fake_1" and saved.provider == "gemini"


def test_only_the_last_candidate_is_retried(service, three):
    anthropic, gemini, openai = three
    anthropic.enqueue_error(rc.UpstreamUnavailable(status=503))
    gemini.enqueue_error(rc.RateLimited(status=429, retry_after=0.01))
    openai.enqueue_error(rc.RateLimited(status=429, retry_after=0.01))
    openai.enqueue_error(rc.UpstreamUnavailable(status=503, retry_after=0.01))
    openai.enqueue_reply("Third time.")
    frames = run_turn(service, message="hello")
    assert frames[-1].event == "done" and text_of(frames) == "Third time."
    assert (anthropic.streams_opened, gemini.streams_opened, openai.streams_opened) == (1, 1, 3)
    fallbacks = [f.data for f in frames if f.event == "fallback"]
    assert [(f["from"]["provider"], f["provider"]) for f in fallbacks] == [
        ("anthropic", "gemini"),
        ("gemini", "openai"),
    ]
    assert [f["code"] for f in frames[-1].data["fallback_from"]] == [
        "upstream_unavailable",
        "rate_limited",
    ]


def test_the_last_candidates_own_retry_settings_from_the_file_win(tmp_path, three):
    settings = chain_settings()
    settings[2] = ProviderSettings(
        name="openai", protocol="fake", stateful=True, models=("gpt-a",), max_retries=0
    )
    service = make_service(tmp_path, three, settings=settings, default=("anthropic", "claude-a"))
    anthropic, gemini, openai = three
    anthropic.enqueue_error(rc.UpstreamUnavailable(status=503))
    gemini.enqueue_error(rc.UpstreamUnavailable(status=503))
    openai.enqueue_error(rc.RateLimited(status=429, retry_after=0.01))
    openai.enqueue_reply("never")
    frames = run_turn(service, message="hello")
    assert frames[-1].event == "error" and frames[-1].data["code"] == "rate_limited"
    assert openai.streams_opened == 1  # `max_retries = 0` in its section: no retry


def test_the_last_candidate_honours_should_retry_false(service, three):
    anthropic, gemini, openai = three
    anthropic.enqueue_error(rc.UpstreamUnavailable())
    gemini.enqueue_error(rc.UpstreamUnavailable())
    openai.enqueue_error(rc.RateLimited(status=429, should_retry=False))
    openai.enqueue_reply("never")
    frames = run_turn(service, message="hello")
    assert frames[-1].event == "error" and openai.streams_opened == 1


def test_when_every_candidate_fails_the_error_says_so(service, three):
    anthropic, gemini, openai = three
    anthropic.enqueue_error(rc.UpstreamUnavailable(status=529, cause="overloaded"))
    gemini.enqueue_error(rc.QuotaExceeded(status=429))
    openai.enqueue_error(rc.UpstreamUnavailable(status=503, cause="server_error"))
    openai.enqueue_error(rc.UpstreamUnavailable(status=503, cause="server_error"))
    openai.enqueue_error(rc.UpstreamUnavailable(status=503, cause="timeout"))
    frames = run_turn(service, message="hello")
    error = frames[-1]
    assert error.event == "error" and error.data["code"] == "upstream_unavailable"
    assert error.data["cause"] == "timeout" and error.data["retryable"] is True
    assert error.data["fallback_from"] == [
        {"provider": "anthropic", "model": "claude-a", "code": "upstream_unavailable"},
        {"provider": "gemini", "model": "gem-a", "code": "quota_exceeded"},
    ]
    saved = reply_of(service, frames)
    assert saved.status == "failed" and saved.provider == "openai"
    assert saved.fallback_from == error.data["fallback_from"]


def test_a_fallback_candidate_gets_the_history_replayed(service, three):
    anthropic, gemini, _ = three
    anthropic.enqueue_reply("One.")
    cid = run_turn(service, message="one")[0].data["conversation_id"]
    anthropic.enqueue_error(rc.UpstreamUnavailable())
    gemini.enqueue_reply("Two.")
    frames = run_turn(service, message="two", conversation_id=cid)
    assert gemini.requests[-1].input == [
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "One."},
        {"role": "user", "content": "two"},
    ]
    assert gemini.requests[-1].model == "gem-a"
    assert frames[-1].data["context_mode"] == "replayed"


def test_a_candidate_whose_window_is_too_small_is_skipped_without_a_call(tmp_path, three):
    anthropic, gemini, openai = three
    models = [ModelInfo(provider="gemini", id="gem-a", context_window=2000, max_output_tokens=100)]
    service = make_service(
        tmp_path,
        three,
        settings=chain_settings(),
        models=models,
        default=("anthropic", "claude-a"),
        max_output_tokens=100,
    )
    anthropic.enqueue_error(rc.UpstreamUnavailable())
    openai.enqueue_reply("OpenAI here.")
    frames = run_turn(service, message="x" * 8000)  # about 2000 tokens: over gemini's budget
    assert gemini.streams_opened == 0
    assert frames[-1].data["fallback_from"] == [
        {"provider": "anthropic", "model": "claude-a", "code": "upstream_unavailable"},
        {"provider": "gemini", "model": "gem-a", "code": "context_too_long"},
    ]
    (fallback,) = [f.data for f in frames if f.event == "fallback"]
    assert fallback["from"]["provider"] == "gemini" and fallback["provider"] == "openai"


def test_a_chosen_model_too_small_goes_straight_to_a_candidate(tmp_path, three):
    anthropic, gemini, _ = three
    models = [
        ModelInfo(provider="anthropic", id="claude-a", context_window=2000, max_output_tokens=100)
    ]
    service = make_service(
        tmp_path, three, settings=chain_settings(), models=models, default=("anthropic", "claude-a")
    )
    gemini.enqueue_reply("Big window.")
    frames = run_turn(service, message="x" * 8000)
    assert anthropic.streams_opened == 0
    assert events(frames)[:2] == ["conversation", "fallback"]
    assert frames[1].data["from"]["code"] == "context_too_long"
    assert frames[-1].data["provider"] == "gemini"


def test_context_too_long_up_front_only_when_no_candidate_holds_the_message(tmp_path, three):
    small = {"context_window": 2000, "max_output_tokens": 100}
    models = [
        ModelInfo(provider="anthropic", id="claude-a", **small),  # type: ignore[arg-type]
        ModelInfo(provider="gemini", id="gem-a", **small),  # type: ignore[arg-type]
        ModelInfo(provider="openai", id="gpt-a", **small),  # type: ignore[arg-type]
    ]
    service = make_service(
        tmp_path, three, settings=chain_settings(), models=models, default=("anthropic", "claude-a")
    )
    with pytest.raises(ContextTooLongRequest) as info:
        run_turn(service, message="x" * 8000)
    assert info.value.code == "context_too_long"
    assert sum(p.streams_opened for p in three) == 0


def test_the_window_comes_from_the_providers_capabilities_too(tmp_path):
    caps = Capabilities(protocol="fake", stateful=False, context_window=2000, max_output_tokens=100)
    small = FakeProvider(name="openai", stateful=False, capabilities=caps)
    service = make_service(tmp_path, [small])
    with pytest.raises(ContextTooLongRequest):
        run_turn(service, message="x" * 8000)


def test_a_local_provider_never_falls_back_off_the_host(tmp_path):
    local = FakeProvider(name="ollama", stateful=False)
    other_local = FakeProvider(name="vllm", stateful=False)
    remote = FakeProvider(name="openai")
    settings = [
        ProviderSettings(
            name="ollama",
            protocol="fake",
            models=("llama",),
            local=True,
            fallback=(("openai", "gpt-a"), ("vllm", "qwen")),
        ),
        ProviderSettings(name="vllm", protocol="fake", models=("qwen",), local=True),
        ProviderSettings(name="openai", protocol="fake", models=("gpt-a",)),
    ]
    service = make_service(
        tmp_path, [local, other_local, remote], settings=settings, default=("ollama", "llama")
    )
    local.enqueue_error(rc.UpstreamUnavailable())
    other_local.enqueue_reply("Local still.")
    frames = run_turn(service, message="hi")
    assert frames[-1].data["provider"] == "vllm" and remote.streams_opened == 0


def test_a_model_named_in_the_turn_also_falls_back(tmp_path, three):
    anthropic, gemini, _ = three
    models = [ModelInfo(provider="anthropic", id="claude-b", fallback=(("openai", "gpt-a"),))]
    service = make_service(
        tmp_path, three, settings=chain_settings(), models=models, default=("anthropic", "claude-a")
    )
    _, _, openai = three
    anthropic.enqueue_error(rc.RateLimited())
    openai.enqueue_reply("Model's own list.")
    frames = run_turn(service, message="hi", model="claude-b")
    assert frames[-1].data["provider"] == "openai" and gemini.streams_opened == 0
    assert conversation_of(service, frames).model == "claude-b"


def test_a_stop_before_any_text_does_not_move_to_the_next_candidate(service, three):
    anthropic, gemini, _ = three
    anthropic.enqueue_hold()
    started = service.start(__import__("app.turns", fromlist=["TurnRequest"]).TurnRequest(
        user=USER, message="hi"
    ))  # fmt: skip
    frames = service.follow(started)
    head = next(frames)  # the conversation frame: the turn runs
    service.stop(USER, started.conversation_id)
    rest = parse_sse(head + b"".join(frames))
    assert rest[-1].event == "done" and rest[-1].data["status"] == "stopped"
    assert gemini.streams_opened == 0


def test_re_attach_replays_the_fallback_frame(service, three):
    anthropic, gemini, _ = three
    anthropic.enqueue_error(rc.UpstreamUnavailable())
    gemini.enqueue_reply("Hi.")
    frames = run_turn(service, message="hi")
    cid = frames[0].data["conversation_id"]
    again = parse_sse(b"".join(service.events(USER, cid, None)))
    assert [f.event for f in again] == [f.event for f in frames]
    assert again[1].data == frames[1].data


def test_fallback_over_real_http_between_two_providers(tmp_path):
    from responses_client.adapters.openai_responses import OpenAIProvider
    from tests.fake_upstream import FakeUpstream

    with FakeUpstream() as first_upstream, FakeUpstream() as second_upstream:
        primary = OpenAIProvider(
            "sk-test-primary-0000000000", name="openai", base_url=first_upstream.base_url
        )
        spare = OpenAIProvider(
            "sk-test-spare-00000000000", name="xai", base_url=second_upstream.base_url
        )
        settings = [
            ProviderSettings(
                name="openai",
                protocol="responses",
                stateful=True,
                models=("fake-503",),
                fallback=(("xai", "grok-spare"),),
            ),
            ProviderSettings(name="xai", protocol="responses", stateful=True, models=("grok-x",)),
        ]
        service = make_service(
            tmp_path, [primary, spare], settings=settings, default=("openai", "fake-503")
        )
        try:
            frames = run_turn(service, message="hello")
        finally:
            service.provider_registry.close()
        assert events(frames)[:2] == ["conversation", "fallback"]
        assert frames[1].data["from"] == {
            "provider": "openai",
            "model": "fake-503",
            "code": "upstream_unavailable",
        }
        done = frames[-1]
        assert done.event == "done" and done.data["provider"] == "xai"
        assert done.data["model"] == "grok-spare" and text_of(frames) == "Hello! How can I help?"
        # The overloaded primary was asked once (not retried: a candidate followed it).
        assert len(first_upstream.responses_requests()) == 1
        (sent,) = second_upstream.responses_requests()
        assert sent.body["model"] == "grok-spare" and sent.body["input"] == "hello"
        assert "previous_response_id" not in sent.body or sent.body["previous_response_id"] is None
        assert sent.headers["Authorization"] == "Bearer sk-test-spare-00000000000"
        saved = reply_of(service, frames)
        assert saved.provider == "xai" and saved.response_id == done.data["response_id"]
        assert saved.fallback_from == [frames[1].data["from"]]
        conv = conversation_of(service, frames)
        assert (conv.provider, conv.model) == ("openai", "fake-503")
        # The next turn tries the chosen provider again; xai's own reply is its chain.
        assert conv.last_response_id is None  # openai has no reply of its own to chain from


def test_a_frame_log_failure_after_a_fallback_saves_the_candidates_reply(service, three):
    import stream_processor as sp

    class FailingWriterCoordination(sp.FileCoordination):
        """A frame log whose writer fails on its fourth frame (after the first delta)."""

        def writer(self, conversation_id: str, turn_id: str) -> sp.FrameWriter:
            writer = super().writer(conversation_id, turn_id)
            real_append = writer.append

            def append(event: str, data: dict) -> int:
                if writer.count >= 3:  # type: ignore[attr-defined]
                    raise OSError(5, "Input/output error")
                return real_append(event, data)

            writer.append = append  # type: ignore[method-assign]
            return writer

    anthropic, gemini, _ = three
    store = service.store
    service.coordination_for = lambda user: FailingWriterCoordination(store.turn_dir(user))
    anthropic.enqueue_error(rc.UpstreamUnavailable())
    gemini.enqueue_reply("one two three", chunks=["one ", "two ", "three"])
    from app.turns import TurnRequest

    started = service.start(TurnRequest(user=USER, message="go"))
    coordination = service.coordination_for(USER)
    assert service.registry.wait_ended(coordination, started.conversation_id, 5)
    saved = store.get(USER, started.conversation_id).message(started.assistant_message_id)
    assert saved.status == "failed" and saved.error is not None and saved.error.code == "internal"
    assert saved.text.startswith("one ") and saved.provider == "gemini"
    assert saved.fallback_from == [
        {"provider": "anthropic", "model": "claude-a", "code": "upstream_unavailable"}
    ]


def test_a_failed_reply_keeps_what_lay_behind_its_error(service, three):
    # The `error` frame's cause is saved too, so a reloaded page words the reply as the live one did.
    anthropic, gemini, openai = three
    anthropic.enqueue_error(rc.UpstreamUnavailable(status=529, cause="overloaded"))
    gemini.enqueue_error(rc.QuotaExceeded(status=429))
    for _ in range(3):
        openai.enqueue_error(rc.UpstreamUnavailable(status=500, cause="server_error"))
    frames = run_turn(service, message="hello")
    cid, mid = frames[0].data["conversation_id"], frames[0].data["assistant_message_id"]
    assert frames[-1].data["cause"] == "server_error"
    saved = service.store.get(USER, cid).message(mid)
    assert saved.status == "failed" and saved.metadata["error_cause"] == "server_error"
