"""Run the Temporal worker alone: ``python worker.py`` (the API runs separately).

With separate processes the realtime bus must be shared: set ``MCOS_BUS_URL=redis://…``.
"""

from __future__ import annotations

import asyncio
import signal

import structlog

from mcos.infra.bus import make_bus
from mcos.infra.db import get_engine
from mcos.infra.logging import configure_logging
from mcos.infra.runtime import build_worker, connect_client, ensure_retention_schedule
from mcos.kernel.settings import Settings, get_settings

log = structlog.get_logger("worker")


async def run_worker(settings: Settings, stop: asyncio.Event) -> None:
    client = await connect_client(settings)
    bus = make_bus(settings.bus_url, settings.bus_buffer_frames)
    engine = get_engine(settings.sql_url)
    worker = build_worker(client, settings, bus, engine)
    await ensure_retention_schedule(client, settings)
    log.info("worker running", task_queue=settings.temporal_task_queue, bus=settings.bus_url)
    try:
        async with worker:
            await stop.wait()
    finally:
        await bus.close()
        log.info("worker stopped")


def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json or settings.production)
    if settings.bus_url == "memory":
        log.warning("MCOS_BUS_URL=memory: tokens reach only clients of this process")

    async def _main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_worker(settings, stop)

    asyncio.run(_main())


if __name__ == "__main__":
    main()
