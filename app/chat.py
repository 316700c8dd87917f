"""Accepting a chat message (REST and WebSocket share this path)."""

from __future__ import annotations

from app.schemas import MessageAccepted
from mcos.infra.metrics import DUPLICATES_DROPPED
from mcos.infra.ratelimit import RateLimiter, decision_to_error
from mcos.kernel.errors import DomainError, RateLimited
from mcos.kernel.ids import new_id
from mcos.kernel.settings import Settings
from workflows.client import BrainClient, make_event


def message_rate_key(user_id: str) -> str:
    return f"msg:{user_id}"


def check_message_size(settings: Settings, text: str) -> None:
    """The operator's ``limit_message_bytes`` (at most the wire format's own cap)."""
    size = len(text.encode())
    if size > settings.limit_message_bytes:
        raise DomainError(
            "message_too_large",
            f"the message is {size} bytes; the limit is {settings.limit_message_bytes}",
            {"bytes": size, "limit": settings.limit_message_bytes},
            status=413,
        )


async def check_message_rate(
    limiter: RateLimiter, settings: Settings, user_id: str, text: str | None = None
) -> None:
    """Size first (a refused message spends nothing), then the per-minute window."""
    if text is not None:
        check_message_size(settings, text)
    decision = await limiter.hit(
        message_rate_key(user_id), settings.limit_messages_per_minute, 60.0
    )
    if not decision.allowed:
        raise decision_to_error(decision, "messages_per_minute")


async def accept_message(
    brain: BrainClient,
    user_id: str,
    text: str,
    request_id: str,
    client_action_id: str | None = None,
    channel: str = "chat",
    *,
    lookup_duplicate: bool = True,
) -> MessageAccepted:
    """Signal the message into the brain; a repeated ``client_action_id`` gets the first ids.

    The brain drops repeats itself; the look-up only serves REST callers who want the
    original ids back. The WebSocket skips it (the echo frame carries the action id), which
    saves a query round trip on the way to the first token.
    """
    if client_action_id and lookup_duplicate:
        seen = await brain.action_result(user_id, client_action_id)
        if seen is not None:
            DUPLICATES_DROPPED.inc()  # answered here: the brain never sees this one
            return MessageAccepted(
                message_id=seen.entity_id or "",
                event_id=seen.event_id,
                request_id=request_id,
                duplicate=True,
            )
    message_id = new_id("msg")
    event = make_event(
        "user.message",
        {"message_id": message_id, "text": text, "channel": channel},
        request_id,
        client_action_id,
    )
    await brain.signal_event(user_id, event)
    # messages_created_total counts the message when its frame is published (the brain
    # may still drop it: a duplicate, or the day's writes used up)
    return MessageAccepted(message_id=message_id, event_id=event.event_id, request_id=request_id)


__all__ = ["RateLimited", "accept_message", "check_message_rate", "check_message_size"]
