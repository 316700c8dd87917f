"""Calendar sync activities: read a source, and hand the change to the user's brain.

``fetch_calendar`` reads an ICS feed or Google Calendar (over its MCP server). Failures
that need someone to act (auth, not found, invalid data) come back as a status in the
output; transient ones (unavailable, timeout, tool errors) raise a retryable error so
Temporal retries them, and the workflow turns the last failure into a status.

``apply_calendar_sync`` diffs the fetched events against the brain's warm calendar (a
query: nothing is recorded) and signals the brain only when something changed, with the
event id the workflow fixed for this run, so a retried signal is dropped as a duplicate.
"""

from __future__ import annotations

import asyncio
import shlex
from datetime import UTC, datetime
from typing import Protocol

import structlog
from temporalio import activity
from temporalio.client import WorkflowExecutionStatus
from temporalio.exceptions import ApplicationError

from mcos.calendar.diff import diff_calendar
from mcos.calendar.errors import CalendarSourceError
from mcos.calendar.google_mcp import GoogleCalendarMcp
from mcos.calendar.ics import fetch_ics, parse_ics, redact_source
from mcos.calendar.location import check_ics_location
from mcos.kernel.contracts import (
    CalendarApplyInput,
    CalendarApplyOutput,
    CalendarFetchInput,
    CalendarFetchOutput,
    CalendarSource,
    CalendarSyncStatus,
)
from mcos.kernel.errors import ErrorType
from mcos.kernel.models import (
    BrainState,
    CalendarEvent,
    CalendarSyncedPayload,
    CalendarWindow,
    Event,
)
from mcos.kernel.settings import Settings

log = structlog.get_logger(__name__)

STATUS_OF_KIND: dict[str, CalendarSyncStatus] = {
    "auth": ErrorType.AUTH_ERROR,
    "not_found": ErrorType.NOT_FOUND,
    "invalid": ErrorType.INVALID,
    "unavailable": ErrorType.UNAVAILABLE,
    "timeout": ErrorType.TIMEOUT,
    "tool_error": ErrorType.ERROR,
}
# Transient failures raise (Temporal retries them) with the status as the error's type;
# the workflow reports the last one as the sync's status.
RETRYABLE_KINDS = frozenset({"unavailable", "timeout", "tool_error"})
MAX_EVENTS = 5000  # the brain refuses larger changes


class BrainDoor(Protocol):
    """What the sync needs of the brain (the worker passes a ``BrainClient``)."""

    async def status(self, user_id: str) -> WorkflowExecutionStatus | None: ...
    async def snapshot(self, user_id: str) -> BrainState: ...
    async def signal_event(self, user_id: str, event: Event) -> None: ...


class CalendarActivities:
    def __init__(self, settings: Settings, brain: BrainDoor | None = None) -> None:
        self.settings = settings
        self.brain = brain  # only apply_calendar_sync needs it

    # --- fetch ----------------------------------------------------------------------

    @activity.defn(name="fetch_calendar")
    async def fetch_calendar(self, inp: CalendarFetchInput) -> CalendarFetchOutput:
        structlog.contextvars.bind_contextvars(user_id=inp.user_id, source=inp.source.kind)
        window = CalendarWindow(start=inp.window_start, end=inp.window_end)
        try:
            events = await self._fetch(inp.source, window, inp.timeout_s)
        except CalendarSourceError as err:
            log.warning("calendar fetch failed", kind=err.kind, error=str(err))
            status = STATUS_OF_KIND.get(err.kind, ErrorType.ERROR)
            if err.kind in RETRYABLE_KINDS:
                raise ApplicationError(str(err), type=status) from None
            return CalendarFetchOutput(status=status, error=str(err))
        if len(events) > MAX_EVENTS:
            return CalendarFetchOutput(
                status="invalid",
                error=f"{len(events)} events in the window, more than the {MAX_EVENTS} kept",
            )
        log.info("calendar fetched", events=len(events))
        return CalendarFetchOutput(events=[e.model_dump(mode="json") for e in events])

    async def _fetch(
        self, source: CalendarSource, window: CalendarWindow, timeout_s: float
    ) -> list[CalendarEvent]:
        if source.kind == "ics":
            if not source.location:
                raise CalendarSourceError("no ICS location configured", kind="invalid")
            location = check_ics_location(
                source.location, self.settings.ics_dir, production=self.settings.production
            )
            data = await fetch_ics(location, timeout_s)
            shown = redact_source(location)
            try:
                return await asyncio.to_thread(parse_ics, data, window, source.name)
            except CalendarSourceError as err:
                raise CalendarSourceError(err.message, kind=err.kind, source=shown) from None
        return await self.google(source, timeout_s).fetch(window)

    def google(self, source: CalendarSource, timeout_s: float) -> GoogleCalendarMcp:
        env = dict(self.settings.google_calendar_mcp_env)
        if self.settings.google_oauth_credentials:
            env["GOOGLE_OAUTH_CREDENTIALS"] = self.settings.google_oauth_credentials
        return GoogleCalendarMcp(
            command=tuple(shlex.split(self.settings.google_calendar_mcp_command)),
            env=env,
            calendar_id=source.calendar_id,
            timeout_s=timeout_s,
            source=source.name,
        )

    # --- apply ----------------------------------------------------------------------

    @activity.defn(name="apply_calendar_sync")
    async def apply_calendar_sync(self, inp: CalendarApplyInput) -> CalendarApplyOutput:
        structlog.contextvars.bind_contextvars(user_id=inp.user_id, source=inp.source)
        if self.brain is None:
            raise ApplicationError("no brain client configured", non_retryable=True)
        if await self.brain.status(inp.user_id) == WorkflowExecutionStatus.COMPLETED:
            # The account was erased: a background sync must not bring the brain back.
            log.info("calendar sync skipped: brain closed")
            return CalendarApplyOutput()
        state = await self.brain.snapshot(inp.user_id)
        window = CalendarWindow(start=inp.window_start, end=inp.window_end)
        fetched = [CalendarEvent.model_validate(e) for e in inp.events]
        upserts, deletes = diff_calendar(state.calendar, fetched, window, inp.source)
        if not upserts and not deletes:
            return CalendarApplyOutput()
        payload = CalendarSyncedPayload(
            source=inp.source, upserts=upserts, deletes=deletes, window=window
        )
        event = Event(
            event_id=inp.event_id,
            type="calendar.synced",
            payload=payload.model_dump(mode="json"),
            timestamp=datetime.now(UTC),
            request_id=inp.request_id,
        )
        await self.brain.signal_event(inp.user_id, event)
        log.info("calendar change signalled", upserts=len(upserts), deletes=len(deletes))
        return CalendarApplyOutput(
            upserts=len(upserts), deletes=len(deletes), signalled=True, event_id=event.event_id
        )
