"""``CalendarSyncWorkflow``: one calendar sync run, started by the user's Temporal Schedule.

fetch the window (yesterday → 60 days ahead) → diff against the brain's warm calendar →
signal the brain with ONE ``calendar.synced`` event, or nothing when nothing changed.
The run's result (:class:`CalendarSyncResult`) is the sync status ``GET /calendar/status``
reads back from the schedule's most recent run.

Chat-first: this workflow only runs ``fetch_calendar`` and ``apply_calendar_sync``; the
brain applies a ``calendar.synced`` event without any LLM or tool call and creates no
message.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, TimeoutError

with workflow.unsafe.imports_passed_through():
    # Activity modules pass through: only their typed references are used here.
    from activities.calendar import CalendarActivities
    from mcos.kernel.contracts import (
        CalendarApplyInput,
        CalendarFetchInput,
        CalendarSyncInput,
        CalendarSyncResult,
        CalendarSyncStatus,
    )
    from mcos.kernel.errors import ErrorType

from mcos.calendar.window import sync_window

FETCH_MARGIN = timedelta(seconds=15)  # on top of the source's own timeout
FETCH_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=3,
)
APPLY_TIMEOUT = timedelta(seconds=30)
APPLY_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=500), maximum_attempts=5)
RUN_TIMEOUT = timedelta(minutes=10)  # a stuck run must not keep skipping the schedule

# Histories recorded before the one error-type list used these types.
_LEGACY_TYPES: dict[str, ErrorType] = {
    "CalendarUnavailable": ErrorType.UNAVAILABLE,
    "CalendarTimeout": ErrorType.TIMEOUT,
    "CalendarToolError": ErrorType.ERROR,
}


CALENDAR_STATUSES = frozenset(
    {
        ErrorType.AUTH_ERROR,
        ErrorType.UNAVAILABLE,
        ErrorType.TIMEOUT,
        ErrorType.NOT_FOUND,
        ErrorType.INVALID,
        ErrorType.REFUSED,
        ErrorType.ERROR,
    }
)


def schedule_id(user_id: str) -> str:
    return f"calendar-sync:{user_id}"


def sync_event_id(workflow_id: str, run_id: str) -> str:
    """The ``calendar.synced`` event id of one run: the same on every retry of the signal."""
    return "evt_" + hashlib.sha256(f"{workflow_id}/{run_id}".encode()).hexdigest()[:32]


@workflow.defn(name="CalendarSyncWorkflow")
class CalendarSyncWorkflow:
    @workflow.run
    async def run(self, inp: CalendarSyncInput) -> CalendarSyncResult:
        info = workflow.info()
        window = sync_window(workflow.now(), inp.days_back, inp.days_ahead)
        kind = inp.source.kind
        result = CalendarSyncResult(
            user_id=inp.user_id,
            source=inp.source,
            status="ok",
            synced_at=workflow.now(),
            window_start=window.start,
            window_end=window.end,
        )
        try:
            fetched = await workflow.execute_activity_method(
                CalendarActivities.fetch_calendar,
                CalendarFetchInput(
                    user_id=inp.user_id,
                    source=inp.source,
                    window_start=window.start,
                    window_end=window.end,
                    timeout_s=inp.fetch_timeout_s,
                ),
                start_to_close_timeout=timedelta(seconds=inp.fetch_timeout_s) + FETCH_MARGIN,
                retry_policy=FETCH_RETRY,
                summary=f"calendar sync ({kind})",
            )
        except ActivityError as err:
            status, message = _failure(err)
            workflow.logger.warning("calendar fetch failed", extra={"status": status})
            return result.model_copy(update={"status": status, "error": message})
        if fetched.status != "ok":
            return result.model_copy(update={"status": fetched.status, "error": fetched.error})

        applied = await workflow.execute_activity_method(
            CalendarActivities.apply_calendar_sync,
            CalendarApplyInput(
                user_id=inp.user_id,
                source=inp.source.name,
                window_start=window.start,
                window_end=window.end,
                events=fetched.events,
                event_id=sync_event_id(info.workflow_id, info.run_id),
            ),
            start_to_close_timeout=APPLY_TIMEOUT,
            retry_policy=APPLY_RETRY,
            summary=f"calendar diff to brain ({kind})",
        )
        return result.model_copy(
            update={
                "fetched": len(fetched.events),
                "upserts": applied.upserts,
                "deletes": applied.deletes,
                "event_id": applied.event_id,
            }
        )


def _failure(err: ActivityError) -> tuple[CalendarSyncStatus, str]:
    cause = err.cause
    if isinstance(cause, TimeoutError):
        return ErrorType.TIMEOUT, "the calendar source did not answer in time"
    if isinstance(cause, ApplicationError):
        kind = _LEGACY_TYPES.get(cause.type or "") or ErrorType.of(cause.type, ErrorType.ERROR)
        return kind if kind in CALENDAR_STATUSES else ErrorType.ERROR, cause.message
    return ErrorType.ERROR, str(cause or err)
