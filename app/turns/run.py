"""Run one turn in its worker: stream through the candidates (fallback) and retries, replan once on an
expired chain, cap the reply.

Fallback (API "Retries and fallback"): a candidate that fails before the first `delta` or
`reasoning` frame with one of `FALLBACK_CODES` moves the turn at once to the next candidate, with a
`fallback` frame first; only the last candidate is retried (rate_limited, upstream_unavailable).
Candidates whose window cannot hold the request are skipped without a call.

The body gets its collaborators handed in (the finisher: save, price, admission; and the replan), never
the ChatService. Imports no Flask; SDKs only through the provider adapters.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import responses_client as rc
import stream_processor as sp
from responses_client.identifiers import clean_token
from responses_client.retry import RetryPolicy, stream_with_retries

from .candidates import Candidate
from .config import ChatSettings
from .finish import Finisher
from .plan import TurnPlan

log = logging.getLogger(__name__)

# The codes that move a turn to the next candidate when no text has been sent yet.
FALLBACK_CODES = frozenset(
    {"rate_limited", "upstream_unavailable", "upstream_error", "quota_exceeded", "upstream_auth"}
)
T = TypeVar("T", int, float)
NO_RETRIES = RetryPolicy(max_retries=0)


def _first(own: T | None, default: T) -> T:
    """The provider's own setting when the file gives one, else the deployment's."""
    return default if own is None else own


@dataclass
class Attempt:
    """The turn so far: the candidate that answers (or failed last), its reply, and the ones that
    failed before it. Updated in place, so whatever ends the turn finds the current state."""

    candidate: Candidate
    reply: sp.Reply = field(default_factory=sp.Reply)
    fallback_from: list[dict[str, str]] = field(default_factory=list)


@dataclass
class TurnRun:
    """The body of one turn's worker: stream, then finish whatever ended it."""

    plan: TurnPlan
    settings: ChatSettings
    finisher: Finisher
    replan: Callable[[Candidate], Candidate]
    cancel: rc.CancelToken
    # Before the request: a summary or compaction, then the plan made again (compaction.py).
    prepare: Callable[[TurnPlan, sp.TurnControl, rc.CancelToken], TurnPlan] | None = None
    # Just before a candidate's request: its attachment references made content parts.
    attach: Callable[[Candidate], Candidate] | None = None

    def _events(self, attempt: Attempt, *, last: bool) -> Iterator[rc.Event]:
        # The candidate with its parts is kept on the attempt, so the reply's estimate counts
        # what was really sent (an image budget's notes); a second pass changes nothing.
        if self.attach is not None:
            attempt.candidate = self.attach(attempt.candidate)
        candidate = attempt.candidate
        request = self.plan.request_for(candidate, self.settings)
        # Only the last candidate is retried; an earlier one gives way to the next at once.
        policy = (
            RetryPolicy(
                max_retries=_first(candidate.max_retries, self.settings.max_retries),
                max_retry_after=_first(candidate.max_retry_after, self.settings.max_retry_after),
            )
            if last
            else NO_RETRIES
        )
        # The one cancel token goes to every attempt, so a stop ends any of them (and the back-off).
        return stream_with_retries(
            lambda: candidate.provider.stream(request, self.cancel), self.cancel, policy
        )

    def _stream(
        self, attempt: Attempt, cap: sp.TextCap, control: sp.TurnControl, *, last: bool
    ) -> None:
        """Relay `attempt.candidate`'s stream into its reply (a replan makes it the replayed one)."""
        try:
            sp.relay(cap.apply(self._events(attempt, last=last)), attempt.reply, control.emit)
        except rc.PreviousResponseNotFound:
            if control.stopped:
                raise
            # The chain expired upstream: resend the branch's history, once, never in a loop.
            attempt.candidate = self.replan(attempt.candidate)
            sp.relay(cap.apply(self._events(attempt, last=last)), attempt.reply, control.emit)

    def _run(self, attempt: Attempt, cap: sp.TextCap, control: sp.TurnControl) -> None:
        """Try the candidates in order, keeping `attempt` current; raise `_Failed` at the end."""
        callable_ = [c for c in self.plan.candidates if c.context is not None]
        if not callable_:  # a plan made without candidates: the chosen one alone
            callable_ = [self.plan.first_candidate]
        for candidate in self.plan.candidates or callable_:
            if candidate.context is None:
                attempt.fallback_from.append(candidate.ref(candidate.skipped))
                continue
            if attempt.fallback_from:
                control.emit(
                    "fallback",
                    {
                        "from": attempt.fallback_from[-1],
                        "provider": candidate.provider.name,
                        "model": candidate.model,
                    },
                )
            attempt.candidate = candidate
            last = candidate is callable_[-1]
            try:
                self._stream(attempt, cap, control, last=last)
                return
            except rc.ProviderError as exc:
                sent = bool(attempt.reply.text or attempt.reply.reasoning)
                if last or sent or control.stopped or exc.code not in FALLBACK_CODES:
                    raise _Failed(exc) from exc
                log.warning(
                    "fallback conversation=%s from=%s:%s code=%s",
                    self.plan.conversation.id,
                    candidate.provider.name,
                    candidate.model,
                    exc.code,
                )
                attempt.fallback_from.append(candidate.ref(exc.code))
                # Nothing was sent: the next candidate starts a fresh reply (the turn's clock kept).
                attempt.reply = sp.Reply(started_at=attempt.reply.started_at)

    def __call__(self, control: sp.TurnControl) -> tuple[str, dict[str, Any]]:
        if self.prepare is not None:
            self.plan = self.prepare(self.plan, control, self.cancel)
        cap = sp.TextCap(self.settings.max_reply_chars)
        error: rc.ProviderError | None = None
        attempt = Attempt(self.plan.first_candidate)
        broken = False
        try:
            self._run(attempt, cap, control)
        except _Failed as failed:
            error = failed.error
            log.warning(
                "turn_failed conversation=%s code=%s status=%s request_id=%s",
                self.plan.conversation.id,
                error.code,
                error.status,
                clean_token(error.request_id, self.settings.secrets),
            )
        except sp.TurnAborted:
            raise
        except Exception:
            # Our side failed mid-stream (the frame log could not be written, a bug): the reply
            # is still saved, `failed` with the text it had.
            log.exception("turn_broken conversation=%s", self.plan.conversation.id)
            self.cancel.cancel()
            broken = True
        if cap.reached:
            self.cancel.cancel()  # the upstream is closed already; make sure of its socket too
        control.wait_ready()  # never save before the turn's own commit (raises if it failed)
        return self.finisher.finish(
            self.plan,
            self.settings,
            attempt.reply,
            error,
            stopped=control.stopped,
            capped=cap.reached,
            broken=broken,
            answered=attempt.candidate,
            fallback_from=attempt.fallback_from,
        )


class _Failed(Exception):
    """The turn's last candidate failed (or one failed where no fallback is allowed)."""

    def __init__(self, error: rc.ProviderError) -> None:
        super().__init__(error.code)
        self.error = error
