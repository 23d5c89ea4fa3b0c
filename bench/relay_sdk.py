"""The relay benchmark's baseline: one streamed answer read with each provider's SDK alone.

Each factory takes the fake upstream's base URL and returns a function running one streamed turn
through the SDK's own typed events (retries off), returning (time to first text, total time,
text deltas seen). Used by bench/relay.py only.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import anthropic
import openai
from google import genai
from google.genai import types as genai_types

SdkTurn = Callable[[], tuple[float, float, int]]
MODEL = "bench"


def responses_turn(base_url: str) -> SdkTurn:
    """The openai SDK's Responses stream: `response.output_text.delta` events."""
    client = openai.OpenAI(api_key="sk-bench", base_url=base_url, max_retries=0)

    def turn() -> tuple[float, float, int]:
        t0 = time.perf_counter()
        first = None
        deltas = 0
        with client.responses.create(model=MODEL, input="hi", stream=True) as stream:
            for event in stream:
                if event.type == "response.output_text.delta":
                    deltas += 1
                    if first is None:
                        first = time.perf_counter() - t0
        return first or 0.0, time.perf_counter() - t0, deltas

    return turn


def chat_turn(base_url: str) -> SdkTurn:
    """The openai SDK's Chat Completions stream: chunks whose delta carries content."""
    client = openai.OpenAI(api_key="sk-bench", base_url=base_url, max_retries=0)

    def turn() -> tuple[float, float, int]:
        t0 = time.perf_counter()
        first = None
        deltas = 0
        stream = client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        with stream:
            for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    deltas += 1
                    if first is None:
                        first = time.perf_counter() - t0
        return first or 0.0, time.perf_counter() - t0, deltas

    return turn


def anthropic_turn(base_url: str) -> SdkTurn:
    """The anthropic SDK's Messages stream: `content_block_delta` events with `text_delta`."""
    client = anthropic.Anthropic(api_key="sk-ant-bench", base_url=base_url, max_retries=0)

    def turn() -> tuple[float, float, int]:
        t0 = time.perf_counter()
        first = None
        deltas = 0
        stream = client.messages.create(
            model=MODEL,
            max_tokens=8192,
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
        )
        with stream:
            for event in stream:
                if event.type == "content_block_delta" and event.delta.type == "text_delta":
                    deltas += 1
                    if first is None:
                        first = time.perf_counter() - t0
        return first or 0.0, time.perf_counter() - t0, deltas

    return turn


def gemini_turn(base_url: str) -> SdkTurn:
    """google-genai's generateContent stream (v1beta): chunks whose candidate has text."""
    client = genai.Client(
        api_key="bench-gemini-key",
        http_options=genai_types.HttpOptions(
            base_url=base_url,
            api_version="v1beta",
            retry_options=genai_types.HttpRetryOptions(attempts=1),
        ),
    )

    def turn() -> tuple[float, float, int]:
        t0 = time.perf_counter()
        first = None
        deltas = 0
        for chunk in client.models.generate_content_stream(model=MODEL, contents="hi"):
            content = chunk.candidates[0].content if chunk.candidates else None
            parts = content.parts if content else None
            if parts and any(part.text and not part.thought for part in parts):
                deltas += 1
                if first is None:
                    first = time.perf_counter() - t0
        return first or 0.0, time.perf_counter() - t0, deltas

    return turn
