"""When the brain's one durable timer must fire: reminders and approval deadlines (pure)."""

from __future__ import annotations

from datetime import datetime

from mcos.kernel.models import Approval, BrainState, Task


def armed_reminders(state: BrainState) -> list[Task]:
    """Open tasks whose reminder has not fired yet (a snooze re-arms it)."""
    return [
        t
        for t in state.tasks.values()
        if t.status == "open" and t.remind_at is not None and t.reminded_at is None
    ]


def due_reminders(state: BrainState) -> list[Task]:
    """Reminders that fired and wait for the user (snooze, done, dismiss): on every connect."""
    return [
        t
        for t in state.tasks.values()
        if t.status == "open" and t.remind_at is not None and t.reminded_at is not None
    ]


def pending_approvals(state: BrainState) -> list[Approval]:
    return [a for a in state.approvals.values() if a.status == "pending"]


def next_deadline(state: BrainState) -> datetime | None:
    """The earliest armed reminder or pending approval's expiry; None: nothing to wait for."""
    times = [t.remind_at for t in armed_reminders(state) if t.remind_at is not None]
    times += [a.expires_at for a in pending_approvals(state)]
    return min(times) if times else None


def fired_reminders(state: BrainState, now: datetime) -> list[Task]:
    return sorted(
        (t for t in armed_reminders(state) if t.remind_at is not None and t.remind_at <= now),
        key=lambda t: (t.remind_at, t.id),
    )


def expired_approvals(state: BrainState, now: datetime) -> list[Approval]:
    return sorted(
        (a for a in pending_approvals(state) if a.expires_at <= now), key=lambda a: a.expires_at
    )
