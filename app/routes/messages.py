"""Sending chat messages."""

from __future__ import annotations

from fastapi import APIRouter, status

from app.chat import accept_message, check_message_rate
from app.deps import Brain, Ctx, CurrentUser, RequestId
from app.schemas import MessageAccepted, MessageIn

router = APIRouter(tags=["messages"])


@router.post("/message", status_code=status.HTTP_202_ACCEPTED)
async def post_message(
    body: MessageIn, user: CurrentUser, brain: Brain, ctx: Ctx, request_id: RequestId
) -> MessageAccepted:
    """Send a chat message; the reply streams over the WebSocket."""
    await check_message_rate(ctx.limiter, ctx.settings, user.user_id)
    return await accept_message(
        brain, user.user_id, body.text, request_id, body.client_action_id, body.channel
    )


@router.post("/generation/cancel", status_code=status.HTTP_202_ACCEPTED)
async def cancel_generation(user: CurrentUser, brain: Brain, request_id: RequestId) -> dict:
    """Stop the assistant's answer being generated now (its partial text is kept)."""
    await brain.cancel_generation(user.user_id, request_id)
    return {"status": "accepted", "request_id": request_id}
