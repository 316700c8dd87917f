"""The daily retention run deletes archived messages past the retention period only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from temporalio.client import ScheduleActionStartWorkflow

from mcos.infra import db
from mcos.kernel.contracts import RetentionInput, RetentionResult
from tests.conftest import Stack
from workflows.retention import SCHEDULE_ID, RetentionWorkflow
from workflows.schedules import ensure_retention_schedule


async def test_retention_purges_only_old_archived_messages(stack: Stack) -> None:
    now = datetime.now(UTC)
    user = f"ret-{uuid.uuid4().hex[:8]}"
    rows = [
        {
            "id": f"msg_old{i}",
            "role": "user",
            "text": f"old {i}",
            "seq": i,
            "created_at": now - timedelta(days=91 + i),
        }
        for i in range(3)
    ] + [
        {
            "id": f"msg_new{i}",
            "role": "user",
            "text": f"new {i}",
            "seq": 10 + i,
            "created_at": now - timedelta(days=89 - i),
        }
        for i in range(2)
    ]
    assert db.archive_messages(stack.engine, user, rows) == 5
    result = await stack.client.execute_workflow(
        RetentionWorkflow.run,
        RetentionInput(archived_message_days=90),
        id=f"retention-test-{uuid.uuid4().hex[:6]}",
        task_queue=stack.settings.temporal_task_queue,
    )
    assert isinstance(result, RetentionResult)
    assert result.messages_deleted == 3
    left = sorted(r.text for r in db.archived_page(stack.engine, user, None, 10))
    assert left == ["new 0", "new 1"]


async def test_the_daily_schedule_is_created_once(stack: Stack) -> None:
    await ensure_retention_schedule(stack.client, stack.settings)
    await ensure_retention_schedule(stack.client, stack.settings)  # idempotent
    desc = await stack.client.get_schedule_handle(SCHEDULE_ID).describe()
    assert desc.schedule.spec.intervals[0].every == timedelta(days=1)
    assert isinstance(desc.schedule.action, ScheduleActionStartWorkflow)
    assert desc.schedule.action.workflow == "RetentionWorkflow"
