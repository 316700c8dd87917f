"""The brain's side effects after state changes: publish frames, archive, back up (workflow code).

Each runs as an activity the main loop awaits, one of each per pass, in bounded batches so
every activity input stays far below Temporal's payload limits.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey, SearchAttributeUpdate

with workflow.unsafe.imports_passed_through():
    # Activity modules pass through: only their typed references are used here.
    from activities.publish import PublishActivities
    from activities.sql import SqlActivities
    from mcos.kernel.contracts import (
        ArchiveInput,
        BackupInput,
        BrainCarry,
        PublishInput,
        TaskArchiveInput,
    )
    from mcos.kernel.frames import Frame
    from mcos.kernel.models import Task

from mcos.brain import bounds
from workflows.tracing import in_trace
from workflows.turns import BrainPort, TurnQueue

# Side effects retry for as long as it takes (no maximum_attempts): a bus or database outage
# must never fail the brain. Meanwhile frames wait in the outbox and the brain keeps
# applying events.
PUBLISH_TIMEOUT = timedelta(seconds=10)
PUBLISH_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=5)
)
SQL_TIMEOUT = timedelta(seconds=60)
SQL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1)
)
ARCHIVE_BATCH = 200
PUBLISH_BATCH = 100

SA_USER = SearchAttributeKey.for_keyword("McosUserId")
SA_MESSAGES = SearchAttributeKey.for_int("McosMessageCount")
SA_OPEN_TASKS = SearchAttributeKey.for_int("McosOpenTasks")
SA_LAST_ACTIVITY = SearchAttributeKey.for_datetime("McosLastActivity")


class SideEffects:
    def __init__(self, port: BrainPort, carry: BrainCarry, queue: TurnQueue | None = None) -> None:
        self.port = port
        self.carry = carry
        self.queue = queue  # v6: a turn's LLM call archives; a turn's frames go in its trace
        self._sa_values: tuple[Any, ...] | None = None
        self.publishing = False  # a publish activity is out
        self.lent = 0  # LLM calls out with frames of the outbox: later frames wait for them

    def pending(self) -> bool:
        """Whether a side effect waits."""
        return (
            self._publish_due()
            or self.carry.backup_due
            or self.archive_due()
            or bool(self._tasks_leaving())
        )

    def _publish_due(self) -> bool:
        return (bool(self.carry.outbox) or self._unreported() > 0) and not self.lent

    def _unreported(self) -> int:
        """v6: duplicates dropped that no publish has reported yet (the metric's count: a
        duplicate shows no frame, so a publish goes out for it alone if need be)."""
        if self.port.version() < 6:
            return 0
        return self.carry.state.counters.duplicates_dropped - self.carry.duplicates_reported

    def lend(self) -> list[Frame] | None:
        """The outbox for an LLM call to publish first, and leave to publish the reply at
        once. Frames go out in order: ``None`` (publish nothing early) while a publish
        activity is out; later frames wait until the call is back."""
        if self.publishing:
            return None
        frames, self.carry.outbox[:] = list(self.carry.outbox), []
        self.lent += 1
        return frames

    def give_back(self, frames: list[Frame] | None, published: bool) -> None:
        """After the LLM call: what it could not publish goes back to the outbox's front."""
        if frames is None:
            return
        self.lent = max(self.lent - 1, 0)
        if frames and not published:
            self.carry.outbox[:0] = frames

    def _tasks_leaving(self) -> list[Task]:
        if self.port.version() < 4:
            return []
        return bounds.tasks_to_archive(self.carry.state, self.port.config, self.port.now())

    async def run_pass(self, v2: bool) -> None:
        """One of each waiting side effect (v1 runs did one per pass): a flood of frames
        must not starve archival, or the other way round."""
        if not v2:
            if self._publish_due():
                await self.publish(bounded=False)
                self.upsert_search_attributes()
            elif self.carry.backup_due:
                await self.backup()
            elif self.archive_due():
                await self.archive(batch_size=500)
            return
        if self._publish_due():
            await self.publish()
            self.upsert_search_attributes()
        if self.carry.backup_due:
            await self.backup()
        if self.archive_due():
            await self.archive()
        if leaving := self._tasks_leaving():
            await self.archive_tasks(leaving)

    def archive_due(self) -> bool:
        """Messages past the limit wait for SQL; from v6, while a chat turn runs or waits,
        its LLM call archives them (the main loop does once no turn is left)."""
        if self.port.version() >= 6 and self.queue is not None and self.queue.busy():
            return False
        return len(self.carry.state.messages) > self.port.config.message_limit

    def backlog_small(self) -> bool:
        return len(self.carry.outbox) <= PUBLISH_BATCH and not self.archive_due()

    async def publish(self, bounded: bool = True) -> None:
        """Publish the oldest frames of the outbox (v1 runs published all of it at once)."""
        carry = self.carry
        batch = PUBLISH_BATCH if bounded else len(carry.outbox)
        frames, carry.outbox[:] = carry.outbox[:batch], carry.outbox[batch:]
        dropped = self._unreported()
        carry.duplicates_reported += dropped
        publish = PublishInput(user_id=self.port.user_id, frames=frames, duplicates_dropped=dropped)
        kinds = sorted({f.type for f in frames})
        summary = f"publish {len(frames)} frame(s): {', '.join(kinds)}"[:200]
        if not frames:
            summary = f"report {dropped} duplicate(s) dropped"
        self.publishing = True
        try:
            with in_trace(self.queue.trace_of(frames) if self.queue else None):
                await self._publish(publish, summary, bounded)
        finally:
            self.publishing = False

    async def _publish(self, publish: PublishInput, summary: str, bounded: bool) -> None:
        if bounded:
            # A regular activity, not a local one: when a local activity's result reaches
            # the workflow relative to other work in the same task is not reproduced exactly
            # on replay, and the main loop's next choice (backup, archive, continue-as-new)
            # depends on it. Recorded completions replay the same way every time.
            await workflow.execute_activity_method(
                PublishActivities.publish_frames,
                publish,
                start_to_close_timeout=PUBLISH_TIMEOUT,
                retry_policy=PUBLISH_RETRY,
                summary=summary,
            )
        else:  # runs recorded before v2
            await workflow.execute_local_activity_method(
                PublishActivities.publish_frames,
                publish,
                start_to_close_timeout=PUBLISH_TIMEOUT,
                retry_policy=PUBLISH_RETRY,
                summary=summary,
            )

    async def archive(self, batch_size: int = ARCHIVE_BATCH) -> None:
        """Archive the oldest messages past the limit, then drop them from the state."""
        messages = self.carry.state.messages
        excess = len(messages) - self.port.config.message_limit
        batch = messages[: min(excess, batch_size)]
        result = await workflow.execute_activity_method(
            SqlActivities.archive_messages,
            ArchiveInput(
                user_id=self.port.user_id, messages=[m.model_dump(mode="json") for m in batch]
            ),
            start_to_close_timeout=SQL_TIMEOUT,
            retry_policy=SQL_RETRY,
            summary=f"archive {len(batch)} message(s)",
        )
        ids = result.archived_ids
        self.port.record("messages.archived", {"ids": ids, "count": len(ids)})

    async def archive_tasks(self, tasks: list[Task]) -> None:
        """Copy tasks to SQL (idempotent), then drop them from the state."""
        result = await workflow.execute_activity_method(
            SqlActivities.archive_tasks,
            TaskArchiveInput(
                user_id=self.port.user_id, tasks=[t.model_dump(mode="json") for t in tasks]
            ),
            start_to_close_timeout=SQL_TIMEOUT,
            retry_policy=SQL_RETRY,
            summary=f"archive {len(tasks)} task(s)",
        )
        self.port.record("tasks.archived", {"ids": result.archived_ids})

    async def backup(self) -> None:
        """Back up preferences and memories to SQL (the newest ``seq`` wins there)."""
        self.carry.backup_due = False
        state = self.carry.state
        await workflow.execute_activity_method(
            SqlActivities.backup_profile,
            BackupInput(
                user_id=self.port.user_id,
                seq=state.seq,
                preferences=state.preferences,
                memories=[m.model_dump(mode="json") for m in state.memories.values()],
            ),
            start_to_close_timeout=SQL_TIMEOUT,
            retry_policy=SQL_RETRY,
            summary="backup preferences and memories",
        )

    def upsert_search_attributes(self) -> None:
        """Keep the brain findable in the Web UI (no message text in them)."""
        if not self.port.config.search_attributes:
            return
        s = self.carry.state
        open_tasks = sum(1 for t in s.tasks.values() if t.status == "open")
        values = (s.counters.messages_total, open_tasks, s.last_activity)
        if values == self._sa_values:
            return
        self._sa_values = values
        pairs: list[SearchAttributeUpdate[Any]] = [
            SA_USER.value_set(self.port.user_id),
            SA_MESSAGES.value_set(s.counters.messages_total),
            SA_OPEN_TASKS.value_set(open_tasks),
        ]
        if s.last_activity is not None:
            pairs.append(SA_LAST_ACTIVITY.value_set(s.last_activity))
        workflow.upsert_search_attributes(pairs)
