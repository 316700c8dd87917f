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

import structlog
from temporalio import activity
from temporalio.api.enums.v1 import WorkflowExecutionStatus
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

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
from mcos.kernel.models import CalendarEvent, CalendarSyncedPayload, CalendarWindow, Event
from mcos.kernel.settings import Settings

log = structlog.get_logger(__name__)

STATUS_OF_KIND: dict[str, CalendarSyncStatus] = {
    "auth": "auth_error",
    "not_found": "not_found",
    "invalid": "invalid",
    "unavailable": "unavailable",
    "timeout": "timeout",
    "tool_error": "error",
}
# ApplicationError types of transient failures; the workflow maps them back to a status.
RETRYABLE_TYPES: dict[str, CalendarSyncStatus] = {
    "CalendarUnavailable": "unavailable",
    "CalendarTimeout": "timeout",
    "CalendarToolError": "error",
}
_TYPE_OF_KIND = {
    "unavailable": "CalendarUnavailable",
    "timeout": "CalendarTimeout",
    "tool_error": "CalendarToolError",
}
MAX_EVENTS = 5000  # the brain refuses larger changes


class CalendarActivities:
    def __init__(self, settings: Settings, client: Client | None = None) -> None:
        self.settings = settings
        self._client = client  # None: the worker's own client (``activity.client()``)

    # --- fetch ----------------------------------------------------------------------

    @activity.defn(name="fetch_calendar")
    async def fetch_calendar(self, inp: CalendarFetchInput) -> CalendarFetchOutput:
        structlog.contextvars.bind_contextvars(user_id=inp.user_id, source=inp.source.kind)
        window = CalendarWindow(start=inp.window_start, end=inp.window_end)
        try:
            events = await self._fetch(inp.source, window, inp.timeout_s)
        except CalendarSourceError as err:
            log.warning("calendar fetch failed", kind=err.kind, error=str(err))
            if err.kind in _TYPE_OF_KIND:
                raise ApplicationError(str(err), type=_TYPE_OF_KIND[err.kind]) from None
            return CalendarFetchOutput(status=STATUS_OF_KIND.get(err.kind, "error"), error=str(err))
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
        from workflows.client import BrainClient  # the one door into the brain (signal-with-start)

        structlog.contextvars.bind_contextvars(user_id=inp.user_id, source=inp.source)
        client = self._client or activity.client()
        if await _brain_closed(client, inp.user_id):
            # The account was erased: a background sync must not bring the brain back.
            log.info("calendar sync skipped: brain closed")
            return CalendarApplyOutput()
        brain = BrainClient(client, self.settings)
        state = await brain.snapshot(inp.user_id)
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
        await brain.signal_event(inp.user_id, event)
        log.info("calendar change signalled", upserts=len(upserts), deletes=len(deletes))
        return CalendarApplyOutput(
            upserts=len(upserts), deletes=len(deletes), signalled=True, event_id=event.event_id
        )


async def _brain_closed(client: Client, user_id: str) -> bool:
    from workflows.brain import workflow_id

    try:
        desc = await client.get_workflow_handle(workflow_id(user_id)).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return False  # not started yet: the signal starts it
        raise
    status = desc.raw_description.workflow_execution_info.status
    return status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_COMPLETED
