"""Reading the brain: snapshot or delta, history reaching into the archive, diagnostics."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query

from app.deps import Brain, CurrentUser, Db
from app.errors import error_responses
from app.schemas import HistoryMessage, HistoryPage, StateDelta, StateSnapshot
from app.views import state_view
from mcos.brain.tree import conversation_order
from mcos.infra import db
from mcos.kernel.contracts import Diagnostics
from mcos.kernel.errors import NotFoundError

router = APIRouter(tags=["state"])


@router.get("/state")
async def get_state(
    user: CurrentUser,
    brain: Brain,
    since: Annotated[int | None, Query(ge=0)] = None,
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
) -> StateSnapshot | StateDelta:
    """The whole state, or (with ``since``) only the events after it (a snapshot when too
    old)."""
    if since is None:
        return state_view(await brain.snapshot(user.user_id), limit)
    delta = await brain.delta(user.user_id, since)
    return StateDelta(
        since=delta.since,
        seq=delta.seq,
        events=delta.events,
        snapshot=state_view(delta.snapshot, limit) if delta.snapshot else None,
    )


@router.get("/history", responses=error_responses((404, "no message `before`")))
async def get_history(
    user: CurrentUser,
    brain: Brain,
    engine: Db,
    before: Annotated[str | None, Query(pattern=r"^msg_[0-9a-f]{32}$")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> HistoryPage:
    """Messages, newest first, older than ``before``; pages reach into the SQL archive."""
    state = await brain.snapshot(user.user_id)
    before_seq: int | None = None
    if before is not None:
        hit = next((m for m in state.messages if m.id == before), None)
        if hit is None:
            row = await asyncio.to_thread(db.archived_seq, engine, user.user_id, before)
            if row is None:
                raise NotFoundError(f"no message {before}")
            before_seq = row
        else:
            before_seq = hit.seq
    live = [
        m.model_dump(mode="json")
        for m in reversed(state.messages)
        if before_seq is None or m.seq < before_seq
    ]
    page = live[: limit + 1]
    if len(page) <= limit:
        oldest_live = min((m.seq for m in state.messages), default=None)
        cutoff = before_seq if before_seq is not None else None
        if oldest_live is not None and (cutoff is None or oldest_live < cutoff):
            cutoff = oldest_live
        rows = await asyncio.to_thread(
            db.archived_page, engine, user.user_id, cutoff, limit + 1 - len(page)
        )
        page += [_archived_view(r) for r in rows]
    more = len(page) > limit
    page = page[:limit]
    # Newest first, each reply before (newer than) the message it answers, as /state has it.
    next_before = page[-1]["id"] if more and page else None  # the oldest by seq
    page = conversation_order(page[::-1])[::-1]
    return HistoryPage(
        messages=[HistoryMessage.model_validate(m) for m in page], next_before=next_before
    )


def _archived_view(row: db.ArchivedMessage) -> dict:
    return {
        **{k: v for k, v in (row.data or {}).items()},
        "id": row.id,
        "role": row.role,
        "text": row.text,
        "created_at": row.created_at.isoformat(),
        "seq": row.seq,
        "archived": True,
    }


@router.get("/diagnostics", responses=error_responses((404, "no brain yet for this user")))
async def get_diagnostics(user: CurrentUser, brain: Brain) -> Diagnostics:
    """The brain's own counters: events, history length, duplicates dropped, last ids."""
    diag = await brain.diagnostics(user.user_id)
    if diag is None:
        raise NotFoundError("no brain yet for this user")
    return diag
