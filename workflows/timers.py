"""The brain's one durable timer: the next reminder, or a pending approval's deadline.

A Temporal timer survives worker restarts; continue-as-new drops it and the next run sets
it again from the state. It is re-armed only when the next deadline changes (a reminder
set, snoozed, completed; an approval asked or answered), so it costs history events only
then. Firing records ``reminder.due`` (a frame for the user's clients; no LLM call, no chat
message) or ``approval.expired``.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

from mcos.brain import reminders
from workflows.turns import BrainPort


class Timers:
    def __init__(self, port: BrainPort) -> None:
        self.port = port

    def _deadline(self) -> object:
        return reminders.next_deadline(self.port.state())

    async def run(self) -> None:
        port = self.port
        while True:
            deadline = reminders.next_deadline(port.state())
            if deadline is None:
                await workflow.wait_condition(lambda: self._deadline() is not None)
                continue
            left = deadline - port.now()
            if left > timedelta(0):
                try:
                    await workflow.wait_condition(
                        lambda deadline=deadline: self._deadline() != deadline,  # type: ignore[misc]
                        timeout=left,
                        timeout_summary=self._summary(),
                    )
                    continue  # the next deadline moved: set the timer again
                except TimeoutError:
                    pass
            now = port.now()
            for task in reminders.fired_reminders(port.state(), now):
                port.record(
                    "reminder.due",
                    {
                        "task_id": task.id,
                        "remind_at": task.remind_at.isoformat() if task.remind_at else None,
                    },
                )
            for approval in reminders.expired_approvals(port.state(), now):
                port.record("approval.expired", {"approval_id": approval.id})

    def _summary(self) -> str:
        state = self.port.state()
        deadline = reminders.next_deadline(state)
        for task in reminders.armed_reminders(state):
            if task.remind_at == deadline:
                return f"reminder ‘{task.title[:40]}’"
        return "approval deadline"
