"""Run one turn in its worker: stream through retries, replan once on an expired chain, cap the reply.

The body gets its collaborators handed in (the finisher: save, price, admission; and the replan), never
the ChatService. Imports no Flask; SDKs only through the provider adapters.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import responses_client as rc
import stream_processor as sp
from responses_client.identifiers import clean_token
from responses_client.retry import RetryPolicy, stream_with_retries

from .config import ChatSettings
from .finish import Finisher
from .plan import TurnPlan

log = logging.getLogger(__name__)


@dataclass
class TurnRun:
    """The body of one turn's worker: stream, then finish whatever ended it."""

    plan: TurnPlan
    settings: ChatSettings
    finisher: Finisher
    replan: Callable[[TurnPlan], TurnPlan]
    cancel: rc.CancelToken

    def _events(self, plan: TurnPlan) -> Iterator[rc.Event]:
        request = plan.request(self.settings)
        policy = RetryPolicy(
            max_retries=self.settings.max_retries, max_retry_after=self.settings.max_retry_after
        )
        # The one cancel token goes to every attempt, so a stop ends any of them (and the back-off).
        return stream_with_retries(
            lambda: plan.provider.stream(request, self.cancel), self.cancel, policy
        )

    def __call__(self, control: sp.TurnControl) -> tuple[str, dict[str, Any]]:
        reply = sp.Reply()
        cap = sp.TextCap(self.settings.max_reply_chars)
        error: rc.ProviderError | None = None
        broken = False
        try:
            try:
                sp.relay(cap.apply(self._events(self.plan)), reply, control.emit)
            except rc.PreviousResponseNotFound:
                if control.stopped:
                    raise
                # The chain expired upstream: resend the branch's history, once, never in a loop.
                self.plan = self.replan(self.plan)
                sp.relay(cap.apply(self._events(self.plan)), reply, control.emit)
        except rc.ProviderError as exc:
            error = exc
            log.warning(
                "turn_failed conversation=%s code=%s status=%s request_id=%s",
                self.plan.conversation.id,
                exc.code,
                exc.status,
                clean_token(exc.request_id, self.settings.secrets),
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
            reply,
            error,
            stopped=control.stopped,
            capped=cap.reached,
            broken=broken,
        )
