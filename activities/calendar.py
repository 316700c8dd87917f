"""Calendar sync activities: read a source, and hand the change to the user's brain.

``fetch_calendar`` reads an ICS feed (through the guarded fetch: internal addresses are
refused, for every redirect too) or Google Calendar over its MCP server, with the syncing
user's OWN Google grant — or, in single-user mode, the operator's credentials for the one
user ``MCOS_GOOGLE_SINGLE_USER`` names and nobody else. Failures that need someone to act
(auth, not found, invalid data, refused address) come back as a status in the output;
transient ones (unavailable, timeout, tool errors) raise a retryable error so Temporal
retries them, and the workflow turns the last failure into a status.

``apply_calendar_sync`` diffs the fetched events against the brain's warm calendar (a
query: nothing is recorded) and signals the brain only when something changed, with the
event id the workflow fixed for this run, so a retried signal is dropped as a duplicate.
"""

from __future__ import annotations

import asyncio
import shlex
import time
from datetime import UTC, datetime
from functools import cached_property
from typing import Protocol

import structlog
from sqlalchemy import Engine
from temporalio import activity
from temporalio.client import WorkflowExecutionStatus
from temporalio.exceptions import ApplicationError

from mcos.calendar.diff import diff_calendar
from mcos.calendar.errors import CalendarSourceError
from mcos.calendar.google_accounts import CONNECT_PATH, GoogleAccounts
from mcos.calendar.google_mcp import CREDENTIAL_ENV, GoogleCalendarMcp, user_credentials
from mcos.calendar.ics import fetch_ics, parse_ics, redact_source
from mcos.calendar.location import check_ics_location
from mcos.infra.db import get_engine
from mcos.infra.egress import policy_from
from mcos.infra.metrics import CALENDAR_SYNCS
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
    "refused": ErrorType.REFUSED,
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
    async def signal_event(
        self, user_id: str, event: Event, *, allow_restart: bool = True
    ) -> None: ...
    async def run_open(self, workflow_id: str, run_id: str) -> bool: ...


class CalendarActivities:
    def __init__(
        self, settings: Settings, brain: BrainDoor | None = None, engine: Engine | None = None
    ) -> None:
        self.settings = settings
        self.brain = brain  # only apply_calendar_sync needs it
        self._engine = engine  # None: the engine of ``settings.sql_url``

    @cached_property
    def accounts(self) -> GoogleAccounts:
        """Where each user's own Google grant is kept (fetch only)."""
        return GoogleAccounts(self.settings, self._engine or get_engine(self.settings.sql_url))

    # --- fetch ----------------------------------------------------------------------

    @activity.defn(name="fetch_calendar")
    async def fetch_calendar(self, inp: CalendarFetchInput) -> CalendarFetchOutput:
        structlog.contextvars.bind_contextvars(user_id=inp.user_id, source=inp.source.kind)
        window = CalendarWindow(start=inp.window_start, end=inp.window_end)
        try:
            events = await self._fetch(inp.user_id, inp.source, window, inp.timeout_s)
        except CalendarSourceError as err:
            log.warning("calendar fetch failed", kind=err.kind, error=str(err))
            status = STATUS_OF_KIND.get(err.kind, ErrorType.ERROR)
            CALENDAR_SYNCS.labels(status=str(status)).inc()
            if err.kind in RETRYABLE_KINDS:
                raise ApplicationError(str(err), type=status) from None
            return CalendarFetchOutput(status=status, error=str(err))
        if len(events) > MAX_EVENTS:
            CALENDAR_SYNCS.labels(status=str(ErrorType.INVALID)).inc()
            return CalendarFetchOutput(
                status=ErrorType.INVALID,
                error=f"{len(events)} events in the window, more than the {MAX_EVENTS} kept",
            )
        log.info("calendar fetched", events=len(events))
        CALENDAR_SYNCS.labels(status="ok").inc()
        return CalendarFetchOutput(events=[e.model_dump(mode="json") for e in events])

    async def _fetch(
        self, user_id: str, source: CalendarSource, window: CalendarWindow, timeout_s: float
    ) -> list[CalendarEvent]:
        if source.kind == "ics":
            if not source.location:
                raise CalendarSourceError("no ICS location configured", kind="invalid")
            location = check_ics_location(source.location, self.settings.ics_dir)
            data = await fetch_ics(location, timeout_s, policy=policy_from(self.settings))
            shown = redact_source(location)
            try:
                return await asyncio.to_thread(parse_ics, data, window, source.name)
            except CalendarSourceError as err:
                raise CalendarSourceError(err.message, kind=err.kind, source=shown) from None
        return await self._fetch_google(user_id, source, window, timeout_s)

    async def _fetch_google(
        self, user_id: str, source: CalendarSource, window: CalendarWindow, timeout_s: float
    ) -> list[CalendarEvent]:
        deadline = time.monotonic() + timeout_s
        try:
            async with asyncio.timeout(timeout_s):
                grant = await self.accounts.access_token(user_id)
        except TimeoutError:
            raise CalendarSourceError(
                f"Google's token endpoint did not answer within {timeout_s:g} s",
                kind="timeout",
                source=source.name,
            ) from None
        if grant is None:
            if user_id == self.settings.google_single_user:
                return await self.operator_google(source, timeout_s).fetch(window)
            raise CalendarSourceError(
                f"no Google account is connected for this user: connect it ({CONNECT_PATH})",
                kind="auth",
                source=source.name,
            )
        client_id = self.settings.google_client_id or ""
        with user_credentials(grant.access_token, grant.expires_at, client_id) as (creds, home):
            env = {
                k: v
                for k, v in self.settings.google_calendar_mcp_env.items()
                if k not in CREDENTIAL_ENV
            }
            server = GoogleCalendarMcp(
                command=tuple(shlex.split(self.settings.google_calendar_mcp_command)),
                env=env | creds,
                calendar_id=source.calendar_id,
                timeout_s=max(1.0, deadline - time.monotonic()),
                source=source.name,
                cwd=home,
            )
            return await server.fetch(window)

    def operator_google(self, source: CalendarSource, timeout_s: float) -> GoogleCalendarMcp:
        """The operator's own MCP credentials: single-user mode only."""
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
        if activity.in_activity():
            info = activity.info()
            wf_id, run_id = info.workflow_id, info.workflow_run_id  # None outside a workflow
            if (
                wf_id is not None
                and run_id is not None
                and not await self.brain.run_open(wf_id, run_id)
            ):
                # The erase terminates sync runs before it ends the brain: a run it ended
                # must not signal (and so start) a brain again.
                log.info("calendar sync skipped: its run was ended (account erased?)")
                return CalendarApplyOutput()
        # Never restarts a closed (erased) brain, even if it closed a moment ago.
        await self.brain.signal_event(inp.user_id, event, allow_restart=False)
        log.info("calendar change signalled", upserts=len(upserts), deletes=len(deletes))
        return CalendarApplyOutput(
            upserts=len(upserts), deletes=len(deletes), signalled=True, event_id=event.event_id
        )
