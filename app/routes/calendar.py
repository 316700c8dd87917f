"""Calendar: connect a source (a per-user sync schedule), see its status, add events by
hand, and connect the user's own Google account.

ICS rule (``mcos.calendar.location`` and ``mcos.infra.egress``): URLs must be http(s) (or
webcal) and may not lead to an internal address — checked here for a quick answer, and
again for the URL and every redirect at each fetch; file paths are only read inside the
server's calendar directory (``MCOS_CALENDAR_ICS_DIR``, default ``data/calendars``).

Google rule: a user's Google syncs use that user's own grant (``/google/connect`` →
Google's consent → ``/google/callback``); only the one user ``MCOS_GOOGLE_SINGLE_USER``
names may use the operator's credentials instead.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Cookie, Query, Request, Response, status
from fastapi.responses import RedirectResponse

from app.deps import AppSettings, Brain, Calendar, CurrentUser, Google, RequestId
from app.errors import error_responses
from app.schemas import (
    CALENDAR_ID_PATTERN,
    CalendarEventAdded,
    CalendarEventIn,
    CalendarSourceConnected,
    CalendarSourceDisconnected,
    CalendarSourceIn,
    CalendarSourceView,
    CalendarStatus,
    CalendarSyncView,
    GoogleConnectionView,
    GoogleConnectStarted,
)
from mcos.calendar.errors import CalendarSourceError
from mcos.calendar.events import overlaps
from mcos.calendar.google_accounts import (
    CONSENT_TTL,
    ConsentFailed,
    GoogleAccounts,
    not_connected,
)
from mcos.calendar.location import check_ics_location
from mcos.calendar.window import sync_window
from mcos.infra.egress import AddressRefused, policy_from, vet_url
from mcos.kernel.contracts import CalendarSource
from mcos.kernel.errors import DomainError, NotFoundError, ValidationFailed
from mcos.kernel.ids import new_id
from mcos.kernel.models import CalendarEvent, CalendarSyncedPayload
from mcos.kernel.settings import Settings
from workflows.client import BrainClient, make_event
from workflows.schedules import CalendarScheduler, source_view

router = APIRouter(prefix="/calendar", tags=["calendar"])
# Google's redirect back carries no token (the consent's state and cookie identify it).
callback_router = APIRouter(prefix="/calendar", tags=["calendar"])

CONSENT_COOKIE = "mcos_google_consent"
GOOGLE_PATH = "/api/v1/calendar/google"
VET_TIMEOUT_S = 5.0


@router.post(
    "/source",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(
        (409, "`google_not_connected`: connect a Google account first"),
        (422, "invalid source, or `address_refused`: an internal address"),
    ),
)
async def connect_source(
    body: CalendarSourceIn,
    user: CurrentUser,
    calendar: Calendar,
    brain: Brain,
    google: Google,
    settings: AppSettings,
    request_id: RequestId,
) -> CalendarSourceConnected:
    """Connect an ICS feed or the user's Google Calendar: creates (or replaces) the sync
    schedule and starts a first sync. Google needs the user's own connected account (409
    ``google_not_connected`` otherwise); an ICS URL leading to an internal address is
    refused (422 ``address_refused``)."""
    source = await _source_from(body, settings)
    if source.kind == "google" and not await _may_use_google(google, user.user_id, settings):
        raise not_connected()
    return await _connect(calendar, brain, settings, user.user_id, source, request_id)


@router.delete("/source", responses=error_responses((404, "nothing was connected")))
async def disconnect_source(
    user: CurrentUser, calendar: Calendar, brain: Brain, google: Google, request_id: RequestId
) -> CalendarSourceDisconnected:
    """Disconnect the calendar: deletes the sync schedule and that source's events, and
    forgets the user's Google grant (revoking it at Google, best effort)."""
    source = await calendar.disconnect(user.user_id)
    removed = await _forget_source(brain, user.user_id, source.name, request_id) if source else 0
    forgotten, revoked = await google.forget(user.user_id)
    if source is None and not forgotten:
        raise NotFoundError("no calendar source is connected")
    return CalendarSourceDisconnected(
        disconnected=_view(source),
        events_removed=removed,
        google_forgotten=forgotten,
        google_revoked=revoked,
    )


@router.get("/status")
async def get_calendar_status(
    user: CurrentUser, calendar: Calendar, brain: Brain, google: Google, settings: AppSettings
) -> CalendarStatus:
    """The connected source, its last sync (result, counts, error) and the next run, and
    whose Google credentials the user's Google syncs use."""
    found = await calendar.status(user.user_id)
    state = await brain.snapshot(user.user_id)
    by_source: dict[str, int] = {}
    for event in state.calendar.values():
        by_source[event.source] = by_source.get(event.source, 0) + 1
    last = found.get("last_sync")
    return CalendarStatus(
        **{k: v for k, v in found.items() if k not in ("source", "last_sync")},
        source=CalendarSourceView(**found["source"]) if found.get("source") else None,
        last_sync=CalendarSyncView(**last) if last else None,
        events_in_brain=by_source,
        travel_events=len(state.travel),
        window=state.calendar_window,
        google=await _google_view(google, user.user_id, settings),
    )


@router.post("/event", status_code=status.HTTP_201_CREATED, responses=error_responses(429))
async def add_calendar_event(
    body: CalendarEventIn,
    user: CurrentUser,
    brain: Brain,
    settings: AppSettings,
    request_id: RequestId,
) -> CalendarEventAdded:
    """Add an event to the warm calendar by hand."""
    start = _aware(body.start)
    if body.all_day:
        start = datetime.combine(start.date(), datetime.min.time(), tzinfo=UTC)
    end = _aware(body.end) if body.end else start + timedelta(days=1 if body.all_day else 0)
    if end < start:
        raise ValidationFailed("end is before start")
    event = CalendarEvent(
        id=new_id("cal"),
        source="api",
        title=body.title,
        start=start,
        end=end,
        all_day=body.all_day,
        location=body.location,
        description=body.description,
    )
    window = sync_window(
        datetime.now(UTC), settings.calendar_days_back, settings.calendar_days_ahead
    )
    if not overlaps(event, window):
        raise ValidationFailed(
            "the event is outside the calendar window kept warm",
            {"window": window.model_dump(mode="json")},
        )
    payload = CalendarSyncedPayload(source="api", upserts=[event], window=window)
    result = await brain.command(
        user.user_id,
        "add_calendar_event",
        make_event(
            "calendar.synced", payload.model_dump(mode="json"), request_id, body.client_action_id
        ),
    )
    return CalendarEventAdded(event=event, seq=result.seq, duplicate=result.duplicate)


# --- the user's own Google account ---------------------------------------------------


@router.get(
    "/google/connect",
    responses=error_responses((403, "`google_not_configured`: no Google client on this server")),
)
async def connect_google(
    request: Request,
    response: Response,
    user: CurrentUser,
    google: Google,
    settings: AppSettings,
    calendar_id: Annotated[
        str, Query(min_length=1, max_length=256, pattern=CALENDAR_ID_PATTERN)
    ] = "primary",
) -> GoogleConnectStarted:
    """Start connecting the user's own Google account (OAuth 2.0 authorization code with
    PKCE): answers Google's consent URL and sets a short-lived cookie that ties the consent
    to this browser. Once the user agrees, Google sends the browser to ``/google/callback``,
    which stores the grant (encrypted) and starts syncing ``calendar_id``."""
    redirect_uri = settings.google_redirect_url or str(request.url_for("google_callback"))
    started = await google.start(user.user_id, redirect_uri, calendar_id)
    response.set_cookie(
        CONSENT_COOKIE,
        started.browser_key,
        max_age=int(CONSENT_TTL.total_seconds()),
        path=GOOGLE_PATH,
        httponly=True,
        secure=settings.production or request.url.scheme == "https",
        samesite="lax",  # sent on Google's top-level redirect back, not on cross-site posts
    )
    return GoogleConnectStarted(
        authorization_url=started.authorization_url, expires_at=started.expires_at
    )


@callback_router.get(
    "/google/callback",
    name="google_callback",
    status_code=status.HTTP_303_SEE_OTHER,
    response_class=RedirectResponse,
    responses={
        303: {
            "description": "connected: back to the app (`?calendar=google-connected`)",
            "headers": {"Location": {"description": "the app's URL", "schema": {"type": "string"}}},
        },
        **error_responses(
            (400, "the consent cannot be finished (expired, reused, declined…)"),
            (403, "`google_not_configured`: no Google client on this server"),
        ),
    },
)
async def google_callback(
    google: Google,
    calendar: Calendar,
    brain: Brain,
    settings: AppSettings,
    request_id: RequestId,
    state: Annotated[str, Query(min_length=1, max_length=512)],
    code: Annotated[str | None, Query(max_length=4096)] = None,
    error: Annotated[str | None, Query(max_length=256)] = None,
    consent: Annotated[str | None, Cookie(alias=CONSENT_COOKIE, max_length=256)] = None,
) -> RedirectResponse:
    """Where Google sends the browser back: checks the state (this user's, this browser's,
    unused, not expired), exchanges the code with the PKCE verifier, stores the refresh
    token encrypted, and connects the Google source (a first sync starts)."""
    if error is not None:
        await google.decline(state)
        raise ConsentFailed("consent_declined", f"the Google consent was not given ({error})")
    if not code:
        raise ConsentFailed("consent_refused", "Google sent no authorization code")
    done = await google.finish(state, code, consent)
    source = CalendarSource(kind="google", calendar_id=done.calendar_id)
    await _connect(calendar, brain, settings, done.user_id, source, request_id)
    query = urlencode({"calendar": "google-connected"})
    target = settings.google_connected_url
    redirect = RedirectResponse(
        f"{target}{'&' if '?' in target else '?'}{query}", status_code=status.HTTP_303_SEE_OTHER
    )
    redirect.delete_cookie(CONSENT_COOKIE, path=GOOGLE_PATH)
    return redirect


# --- helpers --------------------------------------------------------------------------


async def _connect(
    calendar: CalendarScheduler,
    brain: BrainClient,
    settings: Settings,
    user_id: str,
    source: CalendarSource,
    request_id: str,
) -> CalendarSourceConnected:
    previous = await calendar.connect(user_id, source)
    if previous is not None and previous.name != source.name:
        await _forget_source(brain, user_id, previous.name, request_id)
    desc = await calendar.describe(user_id)
    return CalendarSourceConnected(
        source=CalendarSourceView(**source_view(source)),
        schedule_id=desc.id if desc else None,
        interval_minutes=settings.calendar_sync_interval_minutes,
        replaced=_view(previous),
    )


async def _may_use_google(google: GoogleAccounts, user_id: str, settings: Settings) -> bool:
    if user_id == settings.google_single_user:
        return True
    return await google.connection(user_id) is not None


async def _google_view(
    google: GoogleAccounts, user_id: str, settings: Settings
) -> GoogleConnectionView:
    row = await google.connection(user_id)
    if row is not None:
        return GoogleConnectionView(
            connected=True,
            mode="own_account",
            connected_at=row.connected_at,
            refreshed_at=row.refreshed_at,
            scope=row.scope,
        )
    if user_id == settings.google_single_user:
        return GoogleConnectionView(connected=True, mode="single_user")
    return GoogleConnectionView(connected=False)


async def _source_from(body: CalendarSourceIn, settings: Settings) -> CalendarSource:
    if body.kind == "google":
        if body.url or body.path:
            raise ValidationFailed("a google source takes calendar_id, not url or path")
        return CalendarSource(kind="google", calendar_id=body.calendar_id)
    if (body.url is None) == (body.path is None):
        raise ValidationFailed("an ics source takes exactly one of url or path")
    if body.url is not None and urlsplit(body.url).scheme.lower() not in (
        "http",
        "https",
        "webcal",
    ):
        raise ValidationFailed("url must be http(s) (or webcal); local files go in path")
    try:
        location = check_ics_location(body.url or body.path or "", settings.ics_dir)
    except CalendarSourceError as err:
        raise ValidationFailed(err.message) from None
    if body.path is not None and not await asyncio.to_thread(Path(location).is_file):
        raise ValidationFailed(f"no ICS file {body.path!r} in the calendar directory")
    if body.url is not None:
        await _vet(location, settings)
    return CalendarSource(kind="ics", location=location)


async def _vet(url: str, settings: Settings) -> None:
    """Refuse a URL whose host resolves to an internal address now, rather than at its
    first sync. A name that does not resolve (yet) is accepted: the sync reports it."""
    try:
        async with asyncio.timeout(VET_TIMEOUT_S):
            await vet_url(url, policy_from(settings))
    except AddressRefused as refused:
        raise DomainError(
            "address_refused",
            f"the ICS URL is refused: {refused}; fetching internal addresses is not allowed",
            {"host": refused.host, "address": refused.address, "reason": refused.reason},
            422,
        ) from None
    except Exception:  # noqa: BLE001 - unresolvable or slow DNS: the fetch checks again
        return


async def _forget_source(brain: BrainClient, user_id: str, source: str, request_id: str) -> int:
    """Remove a disconnected source's events from the brain (one event, or none)."""
    state = await brain.snapshot(user_id)
    ids = sorted(k for k, v in state.calendar.items() if v.source == source)
    if not ids:
        return 0
    payload = CalendarSyncedPayload(source=source, deletes=ids)
    await brain.command(
        user_id,
        "add_calendar_event",
        make_event("calendar.synced", payload.model_dump(mode="json"), request_id),
    )
    return len(ids)


def _view(source: CalendarSource | None) -> CalendarSourceView | None:
    return CalendarSourceView(**source_view(source)) if source else None


def _aware(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
