"""Answering the assistant's request to run a tool with side effects."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from app.deps import Brain, CurrentUser, RequestId
from app.errors import error_responses
from app.schemas import ApprovalAnswer, CommandAccepted

router = APIRouter(prefix="/approvals", tags=["approvals"])
ApprovalId = Annotated[str, Path(pattern=r"^apr_[0-9a-f]{32}$")]


@router.post(
    "/{approval_id}",
    responses=error_responses((409, "unknown, expired or already answered"), 429),
)
async def answer_approval(
    approval_id: ApprovalId,
    body: ApprovalAnswer,
    user: CurrentUser,
    brain: Brain,
    request_id: RequestId,
) -> CommandAccepted:
    """Approve or reject; an unknown, expired or already answered approval is a 409."""
    result = await brain.respond_approval(
        user.user_id,
        approval_id,
        body.decision,
        request_id,
        always=body.always,
        decided_by=f"rest:{request_id}",
    )
    return CommandAccepted(request_id=request_id, **result.model_dump())
