"""The bare Temporal floor for the TTFT benchmark: a signal that starts an activity."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from temporalio import activity, workflow

STARTED: dict[str, asyncio.Future[float]] = {}


@activity.defn(name="floor_activity")
async def floor_activity(key: str) -> None:
    future = STARTED.get(key)
    if future is not None and not future.done():
        future.set_result(time.perf_counter())


@workflow.defn(name="FloorWorkflow")
class FloorWorkflow:
    def __init__(self) -> None:
        self.keys: list[str] = []
        self.done = False

    @workflow.signal
    def ping(self, key: str) -> None:
        self.keys.append(key)

    @workflow.query
    def waiting(self) -> int:
        """The floor of a query round trip (the state query's baseline)."""
        return len(self.keys)

    @workflow.signal
    def stop(self) -> None:
        self.done = True

    @workflow.run
    async def run(self) -> None:
        while True:
            await workflow.wait_condition(lambda: bool(self.keys) or self.done)
            if self.done:
                return
            key = self.keys.pop(0)
            await workflow.execute_activity(
                floor_activity, key, start_to_close_timeout=timedelta(seconds=10)
            )
