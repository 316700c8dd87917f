"""Approval before side effects: which tool calls wait for the user's yes (pure).

Policy: the tools in :data:`NEEDS_APPROVAL` ask by default. The preference ``approvals``
overrides it: ``"always"`` (ask for each of them), ``"never"`` (never ask), or a map from
tool name to ``"always"``/``"never"``; answering with "always allow" stores ``never`` for
that tool.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mcos.kernel.errors import BrainRefusal, ErrorType
from mcos.kernel.models import ApprovalResolvedPayload, BrainState

# Side effects a user would want to confirm: booking a flight (it creates follow-up tasks
# and, with a real booking tool, spends money), deleting a task by chat, adding an event to
# their calendar. Creating or updating a task, preferences and memories are easy to undo
# and run at once.
NEEDS_APPROVAL = frozenset({"select_flight", "delete_task", "add_calendar_event"})


def needs_approval(state: BrainState, tool: str) -> bool:
    policy: Any = state.preferences.get("approvals")
    if isinstance(policy, dict):
        choice = policy.get(tool)
        if choice in ("always", "never"):
            return choice == "always"
        policy = None
    if policy == "never":
        return False
    return tool in NEEDS_APPROVAL


def always_allow(state: BrainState, tool: str) -> dict[str, Any]:
    """The ``approvals`` preference after "always allow" for ``tool``."""
    policy = state.preferences.get("approvals")
    current = dict(policy) if isinstance(policy, dict) else {}
    return {**current, tool: "never"}


def summary(tool: str, arguments: dict[str, Any], state: BrainState) -> str:
    """One line saying what the tool would do, for the approval card."""
    if tool == "select_flight":
        rank = arguments.get("option_rank")
        flight = arguments.get("flight_id")
        search = state.flight_searches[-1] if state.flight_searches else None
        route = ""
        if search is not None:
            req = search.request
            route = f" {req.get('origin', '')}→{req.get('destination', '')}"
        what = f"option {rank}" if rank else (flight or "the chosen flight")
        return f"Book {what}{route} and add its follow-up tasks"[:500]
    if tool == "delete_task":
        task = state.tasks.get(str(arguments.get("task_id")))
        title = task.title if task else arguments.get("title_query") or "a task"
        return f"Delete the task ‘{title}’"[:500]
    if tool == "add_calendar_event":
        return f"Add ‘{arguments.get('title', 'an event')}’ to your calendar"[:500]
    return f"Run {tool}"[:500]


def check_response(state: BrainState, p: ApprovalResolvedPayload, now: datetime) -> None:
    """An answer counts only for a pending, unexpired approval (else 409, nothing changes)."""
    approval = state.approvals.get(p.approval_id)
    if approval is None:
        raise BrainRefusal(ErrorType.CONFLICT, f"no approval {p.approval_id}")
    if approval.status != "pending":
        raise BrainRefusal(ErrorType.CONFLICT, f"approval {p.approval_id} is {approval.status}")
    if approval.expires_at <= now:
        raise BrainRefusal(ErrorType.CONFLICT, f"approval {p.approval_id} has expired")
