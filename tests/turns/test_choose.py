"""Choosing the provider and model of a turn, and planning its candidates, as pure functions."""

from __future__ import annotations

import pytest

import conversation_manager as cm
import responses_client as rc
from app.turns import ChatSettings, NoProvider, TurnRequest, UnknownModelRequest, choose_model
from app.turns.plan import plan_turn
from responses_client.adapters.fake import FakeProvider
from responses_client.registry import ModelInfo, ProviderSettings

SETTINGS = ChatSettings(default_model="gpt-a", default_provider="openai", instructions="Be brief.")


def registry(**extra: ProviderSettings) -> rc.ProviderRegistry:
    settings = [
        ProviderSettings(name="openai", protocol="fake", models=("gpt-a", "gpt-b")),
        ProviderSettings(
            name="anthropic",
            protocol="fake",
            models=("claude-a",),
            fallback=(("openai", "gpt-a"), ("gemini", "gem-a")),
        ),
        *extra.values(),
    ]
    providers = [FakeProvider(name="openai"), FakeProvider(name="anthropic", stateful=False)]
    return rc.ProviderRegistry.of(providers, settings=settings, default=("openai", "gpt-a"))


def conversation(provider: str = "anthropic", model: str = "claude-a") -> cm.Conversation:
    return cm.Conversation(
        id="c_1", chat_name="t", created_at=0, last_update=0, model=model, provider=provider
    )


def req(**kw: object) -> TurnRequest:
    return TurnRequest(user="alice", message="hi", **kw)  # type: ignore[arg-type]


def chosen(reg: rc.ProviderRegistry, conv: cm.Conversation | None, **kw: object) -> tuple[str, str]:
    provider, model = choose_model(reg, req(**kw), conv, SETTINGS)
    return provider.name, model


def test_the_turns_names_then_the_conversations_then_the_defaults():
    reg = registry()
    assert chosen(reg, None) == ("openai", "gpt-a")
    assert chosen(reg, conversation()) == ("anthropic", "claude-a")
    assert chosen(reg, conversation(), model="claude-b") == ("anthropic", "claude-b")
    assert chosen(reg, conversation(), provider="openai") == ("openai", "gpt-a")
    assert chosen(reg, conversation(), provider="openai", model="gpt-b") == ("openai", "gpt-b")
    assert chosen(reg, conversation(), model="openai:gpt-b") == ("openai", "gpt-b")
    # A conversation whose provider is no longer configured goes to the default one.
    assert chosen(reg, conversation(provider="gone", model="x")) == ("openai", "gpt-a")


def test_refusals():
    reg = registry()
    with pytest.raises(UnknownModelRequest):
        chosen(reg, None, provider="gemini")  # listed as a fallback, but not configured
    with pytest.raises(NoProvider):
        choose_model(rc.ProviderRegistry.of({}), req(), None, SETTINGS)


def test_plan_lists_the_chosen_model_then_the_configured_candidates():
    reg = registry()
    conv = conversation()
    plan = plan_turn(req(), conv, (reg.providers["anthropic"], "claude-a"), SETTINGS, "hi",
                     is_new=False, registry=reg)  # fmt: skip
    refs = [c.ref() for c in plan.candidates]
    # gemini is not configured: left out.
    assert refs == [
        {"provider": "anthropic", "model": "claude-a"},
        {"provider": "openai", "model": "gpt-a"},
    ]
    assert plan.previous_choice is None


def test_plan_records_the_previous_choice_only_when_the_turn_names_another():
    reg = registry()
    conv = conversation()
    named = plan_turn(req(provider="openai"), conv, (reg.providers["openai"], "gpt-a"), SETTINGS,
                      "hi", is_new=False, registry=reg)  # fmt: skip
    assert named.previous_choice == ("anthropic", "claude-a")
    same = plan_turn(req(model="claude-a"), conv, (reg.providers["anthropic"], "claude-a"),
                     SETTINGS, "hi", is_new=False, registry=reg)  # fmt: skip
    assert same.previous_choice is None


def test_a_models_own_window_decides_over_its_providers():
    reg = registry()
    reg.models[("openai", "gpt-a")] = ModelInfo(
        provider="openai", id="gpt-a", context_window=2000, max_output_tokens=100
    )
    conv = conversation()
    plan = plan_turn(req(), conv, (reg.providers["anthropic"], "claude-a"), SETTINGS, "x" * 8000,
                     is_new=False, registry=reg)  # fmt: skip
    assert [c.context is None for c in plan.candidates] == [False, True]
