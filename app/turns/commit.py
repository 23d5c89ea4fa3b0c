"""Commit a planned turn to the store in one durable write: the user message and the
`in_progress` reply (with the conversation itself when it is new), or the reply a continuation
extends, opened again.

Imports no Flask and no SDK.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import conversation_manager as cm
from conversation_manager.edits import add_turn
from conversation_manager.models import ContextMode

from .continuation import ContinuationPlan
from .plan import TurnPlan


def commit_turn(
    store: cm.ConversationStore, plan: TurnPlan, context_mode: Callable[[TurnPlan], ContextMode]
) -> cm.Conversation:
    """Write the turn's records in one commit (`context_mode`: the mode the new reply is recorded
    with); return the conversation."""
    user, cid = plan.user, plan.conversation.id
    if isinstance(plan, ContinuationPlan):
        conversation, _ = store.begin_continuation(
            user, cid, plan.assistant_id, options=plan.conversation.options
        )
        return conversation
    if plan.is_new:
        # The conversation is created holding the turn's two messages: one commit, not two.
        c = plan.conversation.model_copy(deep=True)
        add_turn(
            c,
            now=time.time(),
            text=plan.text,
            parent_id=plan.place_under,  # under a template's seeded messages, if any
            model=plan.model,
            provider=plan.provider.name,
            context_mode=context_mode(plan),
            user_message_id=plan.user_message_id,
            assistant_message_id=plan.assistant_id,
            attachments=plan.attachments,
        )
        return store.create(
            user,
            chat_name=c.chat_name,
            model=c.model,
            provider=c.provider,
            instructions=c.instructions,
            conversation_id=c.id,
            created_at=c.created_at,
            chat_name_source=c.chat_name_source,
            messages=c.messages,
            template_id=c.template_id,
            template_variables=c.template_variables,
            options=c.options,
        )
    conversation, _, _ = store.begin_turn(
        user,
        cid,
        text=None if plan.regenerate else plan.text,
        parent_id=plan.place_under,
        model=plan.model,
        provider=plan.provider.name,
        context_mode=context_mode(plan),
        user_message_id=None if plan.regenerate else plan.user_message_id,
        assistant_message_id=plan.assistant_id,
        attachments=() if plan.regenerate else plan.attachments,
        options=plan.conversation.options,
    )
    return conversation
