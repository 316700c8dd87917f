"""The Temporal Schedules: one calendar sync schedule per user with a connected source
(id ``calendar-sync:<user>``, and the sync status read back from it), and the daily
retention schedule.

Status lives in Temporal itself: each run returns a :class:`CalendarSyncResult`, and the
schedule remembers its recent runs. Nothing is written to the brain when a sync changes
nothing, and the status survives API, worker and (with a persistent server) Temporal
restarts, for as long as the namespace keeps closed runs (the dev server: a day; a sync
runs every 15 minutes).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.api.enums.v1 import WorkflowExecutionStatus
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionExecutionStartWorkflow,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleDescription,
    ScheduleHandle,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from mcos.calendar.ics import redact_source
from mcos.kernel.contracts import (
    CalendarSource,
    CalendarSyncInput,
    CalendarSyncResult,
    RetentionInput,
)
from mcos.kernel.settings import Settings
from workflows.calendar import RUN_TIMEOUT, CalendarSyncWorkflow, schedule_id
from workflows.retention import SCHEDULE_ID as RETENTION_SCHEDULE_ID
from workflows.retention import RetentionWorkflow

RECENT_RUNS_LOOKED_AT = 5


class CalendarScheduler:
    def __init__(self, client: Client, settings: Settings) -> None:
        self.client = client
        self.settings = settings

    def handle(self, user_id: str) -> ScheduleHandle:
        return self.client.get_schedule_handle(schedule_id(user_id))

    def schedule(self, user_id: str, source: CalendarSource) -> Schedule:
        s = self.settings
        return Schedule(
            action=ScheduleActionStartWorkflow(
                CalendarSyncWorkflow.run,
                CalendarSyncInput(
                    user_id=user_id,
                    source=source,
                    days_back=s.calendar_days_back,
                    days_ahead=s.calendar_days_ahead,
                    fetch_timeout_s=s.calendar_fetch_timeout_s,
                ),
                id=schedule_id(user_id),  # Temporal appends the run's scheduled time
                task_queue=s.temporal_task_queue,
                execution_timeout=RUN_TIMEOUT,
                static_summary=f"calendar sync ({source.kind}) for {user_id}",
            ),
            spec=ScheduleSpec(
                intervals=[
                    ScheduleIntervalSpec(every=timedelta(minutes=s.calendar_sync_interval_minutes))
                ]
            ),
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
            state=ScheduleState(note=f"calendar sync ({source.kind}) for {user_id}"),
        )

    async def connect(self, user_id: str, source: CalendarSource) -> CalendarSource | None:
        """Create or update the user's schedule and start a first sync right away.

        Returns the source the schedule had before (``None`` if it is new).
        """
        schedule = self.schedule(user_id, source)
        previous: CalendarSource | None = None
        try:
            await self.client.create_schedule(schedule_id(user_id), schedule)
        except ScheduleAlreadyRunningError:
            previous = await self.source(user_id)

            def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
                return ScheduleUpdate(schedule=schedule)

            await self.handle(user_id).update(replace)
        await self.handle(user_id).trigger()
        return previous

    async def disconnect(self, user_id: str) -> CalendarSource | None:
        """Delete the schedule; the source it had, or ``None`` if there was none."""
        source = await self.source(user_id)
        try:
            await self.handle(user_id).delete()
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return None
            raise
        return source

    async def trigger(self, user_id: str) -> None:
        await self.handle(user_id).trigger()

    async def describe(self, user_id: str) -> ScheduleDescription | None:
        try:
            return await self.handle(user_id).describe()
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return None
            raise

    async def source(
        self, user_id: str, desc: ScheduleDescription | None = None
    ) -> CalendarSource | None:
        desc = desc or await self.describe(user_id)
        if desc is None or not isinstance(desc.schedule.action, ScheduleActionStartWorkflow):
            return None
        args = await self.client.data_converter.decode(
            desc.schedule.action.args,
            [CalendarSyncInput],
        )
        return args[0].source if args else None

    async def last_result(self, desc: ScheduleDescription) -> tuple[bool, dict[str, Any] | None]:
        """``(a run is in progress, the newest finished run's result)``."""
        running = bool(desc.info.running_actions)
        for action in reversed(desc.info.recent_actions[-RECENT_RUNS_LOOKED_AT:]):
            started = action.action
            if not isinstance(started, ScheduleActionExecutionStartWorkflow):
                continue
            handle = self.client.get_workflow_handle(
                started.workflow_id,
                run_id=started.first_execution_run_id,
                result_type=CalendarSyncResult,
            )
            try:
                run = await handle.describe()
            except RPCError as err:
                if err.status == RPCStatusCode.NOT_FOUND:
                    continue  # past the namespace's retention
                raise
            status = run.raw_description.workflow_execution_info.status
            if status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING:
                running = True
                continue
            if status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_COMPLETED:
                result = await handle.result()
                return running, {**_result_view(result), "workflow_id": started.workflow_id}
            return running, {
                "status": "error",
                "synced_at": (run.close_time or action.started_at).isoformat(),
                "error": f"sync run ended as {WorkflowExecutionStatus.Name(status)}",
                "workflow_id": started.workflow_id,
            }
        return running, None

    async def status(self, user_id: str) -> dict[str, Any]:
        desc = await self.describe(user_id)
        if desc is None:
            return {"connected": False, "source": None, "last_sync": None, "next_run": None}
        source = await self.source(user_id, desc)
        running, last = await self.last_result(desc)
        spec = desc.schedule.spec
        every = spec.intervals[0].every if spec.intervals else None
        return {
            "connected": True,
            "schedule_id": desc.id,
            "source": source_view(source) if source else None,
            "interval_minutes": int(every.total_seconds() // 60) if every else None,
            "paused": desc.schedule.state.paused,
            "running": running,
            "next_run": desc.info.next_action_times[0].isoformat()
            if desc.info.next_action_times
            else None,
            "runs": desc.info.num_actions,
            "runs_skipped_overlap": desc.info.num_actions_skipped_overlap,
            "last_sync": last,
        }


def source_view(source: CalendarSource) -> dict[str, Any]:
    """A source as shown to the user: private ICS links keep their secret path hidden."""
    view: dict[str, Any] = {"kind": source.kind}
    if source.kind == "ics" and source.location:
        view["location"] = redact_source(source.location)
    if source.kind == "google":
        view["calendar_id"] = source.calendar_id
    return view


def _result_view(result: CalendarSyncResult) -> dict[str, Any]:
    return {
        "status": result.status,
        "synced_at": result.synced_at.isoformat(),
        "window": {"start": result.window_start.isoformat(), "end": result.window_end.isoformat()},
        "fetched": result.fetched,
        "upserts": result.upserts,
        "deletes": result.deletes,
        "changed": bool(result.upserts or result.deletes),
        "event_id": result.event_id,
        "error": result.error,
    }


async def ensure_retention_schedule(client: Client, settings: Settings) -> None:
    """Create the daily retention schedule unless it exists (every worker start calls this)."""
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            RetentionWorkflow.run,
            RetentionInput(archived_message_days=settings.retention_archived_message_days),
            id=RETENTION_SCHEDULE_ID,
            task_queue=settings.temporal_task_queue,
            static_summary="daily retention of the SQL archive",
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(days=1))]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )
    try:
        await client.create_schedule(RETENTION_SCHEDULE_ID, schedule)
    except ScheduleAlreadyRunningError:
        pass
