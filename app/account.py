"""A user's whole account: export everything, erase everything (``/me``)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Any

import structlog
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DeleteWorkflowExecutionRequest
from temporalio.client import Client, WorkflowFailureError
from temporalio.service import RPCError, RPCStatusCode

from app.chat import message_rate_key
from app.context import AppContext
from app.schemas import AccountErased, UserExport
from app.views import state_view
from mcos.infra import db
from mcos.kernel.contracts import brain_workflow_id as workflow_id
from workflows.client import BrainClient

log = structlog.get_logger(__name__)
ERASE_WAIT_S = 30.0


def calendar_schedule_id(user_id: str) -> str:
    return f"calendar-sync:{user_id}"


async def export_user(ctx: AppContext, user_id: str) -> UserExport:
    """Everything stored about ``user_id``: brain state, event window, SQL rows, schedules."""
    brain = await ctx.brain()
    state = await brain.snapshot(user_id)
    events = await brain.event_window(user_id)
    archived, profile, google = await asyncio.to_thread(_sql_export, ctx.engine, user_id)
    return UserExport.model_validate(
        {
            "user_id": user_id,
            "exported_at": datetime.now(UTC),
            "state": state_view(state),
            "events": events,
            "archived_messages": archived,
            "profile_backup": profile,
            "google_connection": google,
            "calendar_schedule": await _describe_schedule(brain.client, user_id),
        }
    )


def _sql_export(
    engine: Any, user_id: str
) -> tuple[list[dict[str, Any]], dict[str, Any] | None, dict[str, Any] | None]:
    rows = db.archived_page(engine, user_id, None, 1_000_000)
    archived = [
        {
            "id": r.id,
            "seq": r.seq,
            "role": r.role,
            "text": r.text,
            "created_at": r.created_at.isoformat(),
            "data": r.data,
        }
        for r in reversed(rows)
    ]
    backup = db.load_profile(engine, user_id)
    profile = (
        {
            "seq": backup.seq,
            "preferences": backup.preferences,
            "memories": backup.memories,
            "updated_at": backup.updated_at.isoformat(),
        }
        if backup is not None
        else None
    )
    connection = db.load_google_connection(engine, user_id)
    google = (
        {  # the refresh token itself stays encrypted on the server
            "connected_at": connection.connected_at.isoformat(),
            "refreshed_at": connection.refreshed_at.isoformat()
            if connection.refreshed_at
            else None,
            "scope": connection.scope,
        }
        if connection is not None
        else None
    )
    return archived, profile, google


async def _describe_schedule(client: Client, user_id: str) -> dict[str, Any] | None:
    try:
        desc = await client.get_schedule_handle(calendar_schedule_id(user_id)).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    return {
        "id": desc.id,
        "paused": desc.schedule.state.paused,
        "note": desc.schedule.state.note,
        "next_action_times": [t.isoformat() for t in desc.info.next_action_times],
    }


async def erase_user(ctx: AppContext, user_id: str, request_id: str | None) -> AccountErased:
    """Erase everything of ``user_id``, in an order that lets nothing bring it back:

    1. the calendar-sync schedule (no new sync starts) and every running sync run
       (terminated: a run ended by the erase never signals, see ``apply_calendar_sync``);
    2. the brain (``erase`` signal; it finishes an archive write first), waited for;
    3. the Temporal histories of the brain and of every calendar sync (they hold the
       calendar source and its contents);
    4. the SQL rows;
    5. the realtime buffer and its dedup keys (a new brain's frames all arrive).

    The next request starts a fresh brain.
    """
    brain = await ctx.brain()
    client = brain.client
    namespace = ctx.settings.temporal_namespace
    schedules = await _delete_schedule(client, user_id)
    sync_runs = await _sync_runs(client, user_id)
    for wid, run_id in sync_runs:
        with contextlib.suppress(RPCError):
            await client.get_workflow_handle(wid, run_id=run_id).terminate("account erased")
    await brain.erase(user_id, request_id)
    await _wait_closed(brain, user_id)
    runs = await _delete_histories(client, namespace, user_id)
    sync_deleted = 0
    for wid, run_id in sync_runs | await _sync_runs(client, user_id):
        sync_deleted += await _delete_run(client, namespace, wid, run_id)
    rows = await asyncio.to_thread(db.delete_user, ctx.engine, user_id)
    await ctx.bus.forget(user_id)
    await ctx.limiter.forget(message_rate_key(user_id))
    log.info(
        "account erased",
        user_id=user_id,
        runs_deleted=runs,
        calendar_runs_deleted=sync_deleted,
        sql_rows_deleted=rows,
    )
    return AccountErased(
        erased=True,
        runs_deleted=runs,
        calendar_runs_deleted=sync_deleted,
        schedules_deleted=schedules,
        sql_rows_deleted=rows,
    )


async def _sync_runs(client: Client, user_id: str) -> set[tuple[str, str]]:
    """Every calendar-sync run of the user's schedule still in Temporal (open or closed)."""
    query = f'TemporalScheduledById = "{calendar_schedule_id(user_id)}"'
    runs: set[tuple[str, str]] = set()
    async for wf in client.list_workflows(query):
        runs.add((wf.id, wf.run_id))
    return runs


async def _delete_run(client: Client, namespace: str, wid: str, run_id: str) -> int:
    try:
        await client.workflow_service.delete_workflow_execution(
            DeleteWorkflowExecutionRequest(
                namespace=namespace,
                workflow_execution=WorkflowExecution(workflow_id=wid, run_id=run_id),
            )
        )
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        return 0
    return 1


async def _wait_closed(brain: BrainClient, user_id: str) -> None:
    """The brain finishes what it was doing (an archive write, say) before SQL rows go."""
    handle = brain.client.get_workflow_handle(workflow_id(user_id))
    try:
        async with asyncio.timeout(ERASE_WAIT_S):
            await handle.result()
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
    except WorkflowFailureError:
        pass  # ended anyway (terminated, failed): its data still goes
    except TimeoutError:
        log.warning("brain did not end in time; terminating", user_id=user_id)
        with contextlib.suppress(RPCError):
            await handle.terminate("account erased")


async def _delete_histories(client: Client, namespace: str, user_id: str) -> int:
    wid = workflow_id(user_id)
    run_ids: set[str] = set()
    with contextlib.suppress(RPCError):
        run_ids.add((await client.get_workflow_handle(wid).describe()).run_id)
    with contextlib.suppress(RPCError):
        async for wf in client.list_workflows(f'WorkflowId = "{wid}"'):
            run_ids.add(wf.run_id)
    deleted = 0
    for run_id in run_ids:
        deleted += await _delete_run(client, namespace, wid, run_id)
    return deleted


async def _delete_schedule(client: Client, user_id: str) -> int:
    try:
        await client.get_schedule_handle(calendar_schedule_id(user_id)).delete()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return 0
        raise
    return 1
