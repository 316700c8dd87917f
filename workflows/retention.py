"""Daily retention: archived messages older than the retention period leave SQL.

Run by the Temporal Schedule ``mcos-retention`` (created idempotently when a worker
starts). Background work only: it never touches a brain, the LLM or a tool.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from mcos.kernel.contracts import PurgeInput, RetentionInput, RetentionResult

SCHEDULE_ID = "mcos-retention"
PURGE_TIMEOUT = timedelta(minutes=10)


@workflow.defn(name="RetentionWorkflow")
class RetentionWorkflow:
    @workflow.run
    async def run(self, inp: RetentionInput) -> RetentionResult:
        cutoff = workflow.now() - timedelta(days=inp.archived_message_days)
        deleted: int = await workflow.execute_activity(
            "purge_archive",
            PurgeInput(before=cutoff),
            result_type=int,
            start_to_close_timeout=PURGE_TIMEOUT,
            retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=5)),
            summary=f"purge archived messages before {cutoff.date().isoformat()}",
        )
        workflow.logger.info("retention done", extra={"messages_deleted": deleted})
        return RetentionResult(cutoff=cutoff, messages_deleted=deleted)
