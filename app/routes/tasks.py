"""Tasks CRUD, each a command (update) on the brain."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, status

from app.deps import Brain, CurrentUser, Db, RequestId
from app.errors import error_responses
from app.schemas import (
    ArchivedTaskList,
    Deleted,
    SnoozeIn,
    TaskChanged,
    TaskCreated,
    TaskIn,
    TaskList,
    TaskPatch,
)
from mcos.infra import db
from mcos.kernel.contracts import CommandResult
from mcos.kernel.errors import ValidationFailed
from mcos.kernel.ids import new_id
from mcos.kernel.models import Task
from workflows.client import make_event

router = APIRouter(prefix="/tasks", tags=["tasks"])
TaskId = Annotated[str, Path(pattern=r"^task_[0-9a-f]{32}$")]


@router.get("")
async def list_tasks(user: CurrentUser, brain: Brain) -> TaskList:
    """The user's tasks, open ones first, by due date."""
    state = await brain.snapshot(user.user_id)
    tasks = sorted(
        state.tasks.values(),
        key=lambda t: (t.status != "open", t.due is None, t.due.isoformat() if t.due else ""),
    )
    return TaskList(tasks=tasks)


@router.get("/archive")
async def list_archived_tasks(user: CurrentUser, engine: Db) -> ArchivedTaskList:
    """Tasks that left the brain for the SQL archive (done over a year ago, or past the
    tasks cap), most recently changed first."""
    rows = await asyncio.to_thread(db.archived_tasks, engine, user.user_id)
    return ArchivedTaskList.model_validate({"tasks": rows})


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses((409, "too many open tasks"), 429),
)
async def create_task(
    body: TaskIn, user: CurrentUser, brain: Brain, request_id: RequestId
) -> TaskCreated:
    """Create a task."""
    payload = body.model_dump(mode="json", exclude={"client_action_id"})
    payload |= {"id": new_id("task"), "source": "api"}
    event = make_event("task.created", payload, request_id, body.client_action_id)
    result = await brain.command(user.user_id, "create_task", event)
    return TaskCreated(
        task=_task(result), task_id=result.entity_id, seq=result.seq, duplicate=result.duplicate
    )


@router.patch("/{task_id}", responses=error_responses(404, 429))
async def update_task(
    task_id: TaskId, body: TaskPatch, user: CurrentUser, brain: Brain, request_id: RequestId
) -> TaskChanged:
    """Change a task (title, due, priority, status, tags, notes)."""
    changes = body.model_dump(mode="json", exclude_none=True, exclude={"client_action_id"})
    if not {k: v for k, v in changes.items() if v is not False}:
        raise ValidationFailed("nothing to change")
    event = make_event(
        "task.updated", {"id": task_id, "changes": changes}, request_id, body.client_action_id
    )
    result = await brain.command(user.user_id, "update_task", event)
    return TaskChanged(task=_task(result), seq=result.seq, duplicate=result.duplicate)


@router.post("/{task_id}/snooze", responses=error_responses(404, 429))
async def snooze_task(
    task_id: TaskId, body: SnoozeIn, user: CurrentUser, brain: Brain, request_id: RequestId
) -> TaskChanged:
    """Move the task's reminder ``minutes`` from now (it fires again then)."""
    remind_at = datetime.now(UTC) + timedelta(minutes=body.minutes)
    changes = {"remind_at": remind_at.isoformat()}
    event = make_event("task.updated", {"id": task_id, "changes": changes}, request_id)
    result = await brain.command(user.user_id, "update_task", event)
    return TaskChanged(task=_task(result), seq=result.seq, duplicate=result.duplicate)


@router.delete("/{task_id}", responses=error_responses(404, 429))
async def delete_task(
    task_id: TaskId, user: CurrentUser, brain: Brain, request_id: RequestId
) -> Deleted:
    """Delete a task."""
    event = make_event("task.deleted", {"id": task_id}, request_id)
    result = await brain.command(user.user_id, "delete_task", event)
    return Deleted(deleted=task_id, seq=result.seq)


def _task(result: CommandResult) -> Task | None:
    """The task as the command left it (none: a duplicate of a task since deleted)."""
    return Task.model_validate(result.data) if result.data else None
