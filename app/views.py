"""How brain state is shown to clients (lists instead of id-keyed maps)."""

from __future__ import annotations

from typing import Any

from mcos.brain import reminders, tree
from mcos.kernel.models import BrainState, Task


def task_order(task: Task) -> tuple[bool, bool, str]:
    """Open tasks first, then by due time (tasks without one last)."""
    return (task.status != "open", task.due is None, task.due.isoformat() if task.due else "")


def state_view(state: BrainState, message_limit: int | None = None) -> dict[str, Any]:
    branch = tree.active_branch(state)
    messages = branch[-message_limit:] if message_limit else branch
    return {
        "user_id": state.user_id,
        "seq": state.seq,
        "messages": [
            {**m.model_dump(mode="json"), "branch": tree.branch_of(state, m)} for m in messages
        ],
        "active_leaf": state.active_leaf,
        "tasks": [t.model_dump(mode="json") for t in sorted(state.tasks.values(), key=task_order)],
        "due_reminders": [t.model_dump(mode="json") for t in reminders.due_reminders(state)],
        "approvals": [a.model_dump(mode="json") for a in reminders.pending_approvals(state)],
        "preferences": state.preferences,
        "memories": [m.model_dump(mode="json") for m in state.memories.values()],
        "calendar": [c.model_dump(mode="json") for c in state.calendar.values()],
        "calendar_window": state.calendar_window.model_dump(mode="json")
        if state.calendar_window
        else None,
        "travel": [t.model_dump(mode="json") for t in state.travel],
        "flight_searches": [f.model_dump(mode="json") for f in state.flight_searches],
        "counters": state.counters.model_dump(mode="json"),
    }
