"""The Temporal worker: builds the activities' clients, runs the workflows and activities.

``python worker.py`` runs it alone (the API runs separately; share the realtime bus through
Redis: ``MCOS_BUS_URL=redis://…``). ``mcos dev`` runs it inside the API process.
"""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.runtime import Runtime
from temporalio.worker import Worker

from activities.calendar import CalendarActivities
from activities.flights import FlightActivities
from activities.llm_reply import LlmActivities
from activities.publish import PublishActivities
from activities.sql import SqlActivities
from mcos.infra.bus import RealtimeBus
from mcos.infra.buses import make_bus
from mcos.infra.db import get_engine
from mcos.infra.llamaserver import local_llm_server
from mcos.infra.logging import configure_logging
from mcos.infra.temporal import (
    TemporalUnreachable,
    connect_with_retry,
    exit_now,
    temporal_target,
    worker_interceptors,
)
from mcos.infra.worker_http import WorkerHealth, sdk_runtime, serving
from mcos.kernel.settings import Settings, get_settings
from mcos.llm.base import LlmProvider
from mcos.llm.providers import make_provider
from workflows.client import BrainClient
from workflows.sandbox import import_lock_race, workflow_classes, workflow_runner
from workflows.schedules import ensure_retention_schedule

log = structlog.get_logger("worker")


def build_activities(
    client: Client,
    settings: Settings,
    bus: RealtimeBus,
    engine: Engine,
    provider: LlmProvider | None = None,
) -> list[Any]:
    """The activity methods, each object holding the clients it needs."""
    provider = provider or make_provider(settings)
    publish = PublishActivities(bus)
    sql = SqlActivities(engine)
    llm = LlmActivities(provider, bus, archive=sql.archive)
    ranker = provider if settings.llm_provider == "openai" else None
    flights = FlightActivities(settings, provider=ranker)
    calendar = CalendarActivities(settings, BrainClient(client, settings), engine)
    return [
        publish.publish_frames,
        sql.archive_messages,
        sql.archive_tasks,
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
    bus: RealtimeBus,
    engine: Engine,
    *,
    provider: LlmProvider | None = None,
    activities: list[Any] | None = None,
    task_queue: str | None = None,
) -> Worker:
    if activities is None:
        activities = build_activities(client, settings, bus, engine, provider)
    try:
        return _worker(client, settings, activities, task_queue)
    except RuntimeError as err:  # the workflows' validation in the sandbox
        if not import_lock_race(err):
            raise
        log.warning("workflow validation hit CPython's import-lock race; building again")
        return _worker(client, settings, activities, task_queue)


def _worker(
    client: Client, settings: Settings, activities: list[Any], task_queue: str | None
) -> Worker:
    return Worker(
        client,
        task_queue=task_queue or settings.temporal_task_queue,
        workflows=workflow_classes(),
        activities=activities,
        workflow_runner=workflow_runner(),
        # Heartbeats reach the server at least every second, so a cancelled generation
        # stops within about a second instead of 80% of the heartbeat timeout.
        max_heartbeat_throttle_interval=timedelta(seconds=1),
        default_heartbeat_throttle_interval=timedelta(seconds=1),
        max_concurrent_activities=200,
        # SIGTERM (a deploy): running activities get this long before they are cancelled
        graceful_shutdown_timeout=timedelta(seconds=settings.worker_graceful_shutdown_s),
        interceptors=worker_interceptors(client, settings),
    )


async def run_worker(settings: Settings, stop: asyncio.Event) -> None:
    async with local_llm_server(settings) as settings:  # provider `local`: its llama.cpp
        await _run_worker(settings, stop)


async def _run_worker(settings: Settings, stop: asyncio.Event) -> None:
    health = WorkerHealth()
    port = settings.worker_health_port
    runtime, sdk_metrics = sdk_runtime() if port is not None else (None, None)
    async with serving(health, port, sdk_metrics):  # /health and /metrics, one port
        client = await _connect(settings, stop, health, runtime)
        if client is None:
            return  # stopped while waiting for Temporal
        bus = make_bus(settings.bus_url, settings.bus_buffer_frames)
        engine = get_engine(settings.sql_url)
        worker = build_worker(client, settings, bus, engine)
        await ensure_retention_schedule(client, settings)
        log.info(
            "worker running",
            task_queue=settings.temporal_task_queue,
            bus=settings.bus_url,
            address=temporal_target(settings),
        )
        try:
            async with worker:
                health.status, health.reason = "ok", "polling"
                await stop.wait()
                # Leaving the block: stop polling, give running activities the grace period.
                health.status, health.reason = "draining", "shutting down (SIGTERM)"
                log.info("worker draining", grace_s=settings.worker_graceful_shutdown_s)
        finally:
            await bus.close()
            log.info("worker stopped")


async def _connect(
    settings: Settings, stop: asyncio.Event, health: WorkerHealth, runtime: Runtime | None
) -> Client | None:
    def note(reason: str) -> None:
        health.reason = reason

    connecting = asyncio.create_task(connect_with_retry(settings, on_error=note, runtime=runtime))
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait([connecting, stopping], return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if not connecting.done():
        connecting.cancel()
        return None
    return connecting.result()  # TemporalUnreachable: main() exits non-zero


def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json or settings.production)
    if settings.bus_url == "memory":
        log.warning("MCOS_BUS_URL=memory: tokens reach only clients of this process")
    if "MCOS_WORKER_METRICS_PORT" in os.environ:  # the setting before the two ports merged
        log.warning(
            "MCOS_WORKER_METRICS_PORT is ignored: /metrics is served with /health "
            "on MCOS_WORKER_HEALTH_PORT",
            health_port=settings.worker_health_port,
        )

    async def _main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_worker(settings, stop)

    code = 0
    try:
        asyncio.run(_main())
    except TemporalUnreachable as exc:
        log.error("worker exiting", reason=str(exc))
        code = 3
    # everything is shut down by now; the SDK's threads must not meet finalization
    exit_now(code)


if __name__ == "__main__":
    main()
