"""What leaves the brain's state for the SQL archive, so the state stays bounded (pure).

Messages past the message limit go oldest first; tasks go when completed longer ago than
the keep period, and past the tasks cap the oldest go (completed ones before open ones).
Nothing is dropped without a copy: the brain archives first, then records the removal.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mcos.kernel.contracts import BrainConfig
from mcos.kernel.models import BrainState, Task

TASK_ARCHIVE_BATCH = 200
_EPOCH = datetime.min.replace(tzinfo=UTC)


def tasks_to_archive(state: BrainState, config: BrainConfig, now: datetime) -> list[Task]:
    cutoff = now - timedelta(days=config.done_tasks_kept_days)
    old_done = [
        t
        for t in state.tasks.values()
        if t.status == "done" and (t.completed_at or t.updated_at or now) < cutoff
    ]
    leaving = {t.id for t in old_done}
    rest = [t for t in state.tasks.values() if t.id not in leaving]
    excess = len(rest) - config.tasks_cap
    if excess > 0:
        order = sorted(rest, key=lambda t: (t.status != "done", t.updated_at or _EPOCH, t.id))
        old_done += order[:excess]
    return old_done[:TASK_ARCHIVE_BATCH]
