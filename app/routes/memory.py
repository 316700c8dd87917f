"""Pinned memories."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from app.deps import Brain, CurrentUser, RequestId
from app.errors import error_responses
from app.schemas import Deleted, MemoryIn, MemoryList, MemoryPinned
from mcos.kernel.ids import new_id
from mcos.kernel.models import Memory
from workflows.client import make_event

router = APIRouter(prefix="/memory", tags=["memory"])


@router.get("")
async def list_memories(user: CurrentUser, brain: Brain) -> MemoryList:
    """Pinned memories."""
    state = await brain.snapshot(user.user_id)
    return MemoryList(memories=list(state.memories.values()))


@router.post(
    "/pin",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses((409, "too many pinned memories"), 429),
)
async def pin_memory(
    body: MemoryIn, user: CurrentUser, brain: Brain, request_id: RequestId
) -> MemoryPinned:
    """Pin a fact; pinning a key again replaces its value."""
    payload = {"id": new_id("mem"), "key": body.key, "value": body.value, "type": body.type}
    event = make_event("memory.pinned", payload, request_id, body.client_action_id)
    result = await brain.command(user.user_id, "pin_memory", event)
    memory = Memory.model_validate(result.data) if result.data else None
    return MemoryPinned(memory=memory, memory_id=result.entity_id, seq=result.seq)


@router.delete("/{memory_id}", responses=error_responses(404, 429))
async def unpin_memory(
    memory_id: Annotated[str, Path(pattern=r"^mem_[0-9a-f]{32}$")],
    user: CurrentUser,
    brain: Brain,
    request_id: RequestId,
) -> Deleted:
    """Unpin a memory."""
    event = make_event("memory.unpinned", {"id": memory_id}, request_id)
    result = await brain.command(user.user_id, "unpin_memory", event)
    return Deleted(deleted=memory_id, seq=result.seq)
