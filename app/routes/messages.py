"""Sending chat messages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from app.chat import accept_message, check_message_rate
from app.deps import Brain, Ctx, CurrentUser, RequestId
from app.errors import error_responses
from app.schemas import CancelAccepted, CommandAccepted, EditIn, MessageAccepted, MessageIn

router = APIRouter(tags=["messages"])
MessageId = Annotated[str, Path(pattern=r"^msg_[0-9a-f]{32}$")]


@router.post(
    "/message",
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(
        (413, "the text is over 8 KB"),
        (429, "the per-minute message window or today's token budget"),
    ),
)
async def post_message(
    body: MessageIn, user: CurrentUser, brain: Brain, ctx: Ctx, request_id: RequestId
) -> MessageAccepted:
    """Send a chat message; the reply streams over the WebSocket."""
    await check_message_rate(ctx.limiter, ctx.settings, user.user_id, body.text)
    return await accept_message(
        brain, user.user_id, body.text, request_id, body.client_action_id, body.channel
    )


@router.post("/generation/cancel", status_code=status.HTTP_202_ACCEPTED)
async def cancel_generation(
    user: CurrentUser, brain: Brain, request_id: RequestId
) -> CancelAccepted:
    """Stop the assistant's answer being generated now (its partial text is kept)."""
    await brain.cancel_generation(user.user_id, request_id)
    return CancelAccepted(request_id=request_id)


@router.post(
    "/messages/{message_id}/regenerate",
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(404, (409, "the message it answered was archived"), 429),
)
async def regenerate_message(
    message_id: MessageId, user: CurrentUser, brain: Brain, request_id: RequestId
) -> CommandAccepted:
    """A new answer to the message an assistant reply answered; the old one stays a sibling."""
    result = await brain.regenerate(user.user_id, message_id, request_id)
    return CommandAccepted(request_id=request_id, **result.model_dump())


@router.post(
    "/messages/{message_id}/edit",
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(404, (413, "the text is over 8 KB"), 429),
)
async def edit_message(
    message_id: MessageId,
    body: EditIn,
    user: CurrentUser,
    brain: Brain,
    ctx: Ctx,
    request_id: RequestId,
) -> CommandAccepted:
    """An edited copy of a message of yours (a sibling), answered anew."""
    await check_message_rate(ctx.limiter, ctx.settings, user.user_id, body.text)
    result = await brain.edit(user.user_id, message_id, body.text, request_id)
    return CommandAccepted(request_id=request_id, **result.model_dump())


@router.post("/messages/{message_id}/activate", responses=error_responses(404, 429))
async def activate_branch(
    message_id: MessageId, user: CurrentUser, brain: Brain, request_id: RequestId
) -> CommandAccepted:
    """Show the branch through this message (e.g. the other answer of a branch picker)."""
    result = await brain.activate(user.user_id, message_id, request_id)
    return CommandAccepted(request_id=request_id, **result.model_dump())
