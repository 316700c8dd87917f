"""Building the Temporal client and the worker from settings (shared by every entry point)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import TLSConfig
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from mcos.kernel.settings import Settings

# Pure modules the workflow code uses, loaded once instead of per workflow run.
PASSTHROUGH = (
    "mcos",
    "pydantic",
    "pydantic_core",
    "structlog",
    "airportsdata",
    "uuid_utils",
    "annotated_types",
    "typing_extensions",
    "zoneinfo",
    "workflows.turns",
)


async def connect_client(settings: Settings, address: str | None = None) -> Client:
    target = address or settings.temporal_address or f"127.0.0.1:{settings.temporal_dev_port}"
    tls: bool | TLSConfig = settings.temporal_tls or bool(settings.temporal_api_key)
    return await Client.connect(
        target,
        namespace=settings.temporal_namespace,
        api_key=settings.temporal_api_key,
        tls=tls,
        data_converter=pydantic_data_converter,
    )


def workflow_runner() -> SandboxedWorkflowRunner:
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH)
    )


def workflows() -> list[type]:
    from workflows.brain import UserBrainWorkflow
    from workflows.calendar import CalendarSyncWorkflow
    from workflows.retention import RetentionWorkflow

    return [UserBrainWorkflow, CalendarSyncWorkflow, RetentionWorkflow]


def build_activities(settings: Settings, bus: Any, engine: Any, provider: Any = None) -> list[Any]:
    """The activity objects with their injected clients."""
    from activities.calendar import CalendarActivities
    from activities.flights import FlightActivities
    from activities.llm_reply import LlmActivities
    from activities.publish import PublishActivities
    from activities.sql import SqlActivities
    from mcos.llm.base import make_provider

    publish = PublishActivities(bus)
    sql = SqlActivities(engine)
    provider = provider or make_provider(settings)
    llm = LlmActivities(provider, bus)
    ranker = provider if settings.llm_provider == "openai" else None
    flights = FlightActivities(settings, provider=ranker)
    calendar = CalendarActivities(settings)
    return [
        publish.publish_frames,
        sql.archive_messages,
        sql.backup_profile,
        sql.purge_archive,
        llm.llm_reply,
        flights.search_flights,
        calendar.fetch_calendar,
        calendar.apply_calendar_sync,
    ]


def build_worker(
    client: Client,
    settings: Settings,
    bus: Any,
    engine: Any,
    *,
    provider: Any = None,
    activities: list[Any] | None = None,
    task_queue: str | None = None,
) -> Worker:
    return Worker(
        client,
        task_queue=task_queue or settings.temporal_task_queue,
        workflows=workflows(),
        activities=activities
        if activities is not None
        else build_activities(settings, bus, engine, provider),
        workflow_runner=workflow_runner(),
        # Heartbeats reach the server at least every second, so a cancelled generation
        # stops within about a second instead of 80% of the heartbeat timeout.
        max_heartbeat_throttle_interval=timedelta(seconds=1),
        default_heartbeat_throttle_interval=timedelta(seconds=1),
        max_concurrent_activities=200,
    )


async def ensure_retention_schedule(client: Client, settings: Settings) -> None:
    """Create the daily retention schedule unless it exists (every worker start calls this)."""
    from temporalio.client import (
        Schedule,
        ScheduleActionStartWorkflow,
        ScheduleAlreadyRunningError,
        ScheduleIntervalSpec,
        ScheduleOverlapPolicy,
        SchedulePolicy,
        ScheduleSpec,
    )

    from mcos.kernel.contracts import RetentionInput
    from workflows.retention import SCHEDULE_ID, RetentionWorkflow

    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            RetentionWorkflow.run,
            RetentionInput(archived_message_days=settings.retention_archived_message_days),
            id=SCHEDULE_ID,
            task_queue=settings.temporal_task_queue,
            static_summary="daily retention of the SQL archive",
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(days=1))]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )
    try:
        await client.create_schedule(SCHEDULE_ID, schedule)
    except ScheduleAlreadyRunningError:
        pass
