"""A workflow and activity for the correlation test (its own module: the sandbox
re-imports it for each run, so it imports little)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    import structlog


@activity.defn(name="correlation_probe")
async def probe(arg: dict) -> dict:
    structlog.get_logger("probe").info("probe ran")
    return dict(structlog.contextvars.get_contextvars())


@workflow.defn(name="CorrelationProbe")
class ProbeWorkflow:
    def __init__(self) -> None:
        self.go = False

    @workflow.run
    async def run(self) -> dict:
        await workflow.wait_condition(lambda: self.go)
        workflow.logger.info("probe workflow", extra={"probe_field": 42, "user_id": "u-wf"})
        return await workflow.execute_activity(
            probe, {"operation_id": "op_fromtheinput"}, start_to_close_timeout=timedelta(seconds=20)
        )

    @workflow.signal
    def start(self) -> None:
        self.go = True
