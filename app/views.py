"""How brain state is shown to clients (lists instead of id-keyed maps)."""

from __future__ import annotations

from app.schemas import BranchPosition, StateMessage, StateSnapshot
from mcos.brain import reminders, tree
from mcos.kernel.models import BrainState, Task


def task_order(task: Task) -> tuple[bool, bool, str]:
    """Open tasks first, then by due time (tasks without one last)."""
    return (task.status != "open", task.due is None, task.due.isoformat() if task.due else "")


def state_view(state: BrainState, message_limit: int | None = None) -> StateSnapshot:
    branch = tree.active_branch(state)
    messages = branch[-message_limit:] if message_limit else branch
    positions = tree.branch_positions(state)
    return StateSnapshot(
        user_id=state.user_id,
        seq=state.seq,
        messages=[
            StateMessage(**dict(m), branch=BranchPosition(**positions[m.id])) for m in messages
        ],
        active_leaf=state.active_leaf,
        tasks=sorted(state.tasks.values(), key=task_order),
        due_reminders=reminders.due_reminders(state),
        approvals=reminders.pending_approvals(state),
        preferences=state.preferences,
        memories=list(state.memories.values()),
        calendar=list(state.calendar.values()),
        calendar_window=state.calendar_window,
        travel=state.travel,
        flight_searches=state.flight_searches,
        counters=state.counters,
    )
