"""ICS feeds: fetch (file path or http(s) URL) and parse into ``CalendarEvent``s.

Choices, so that repeated syncs of an unchanged feed give identical events:

* Timed events are converted to UTC. ``TZID`` (with or without a ``VTIMEZONE``) and UTC
  times are honoured; floating times (no zone) are read in ``default_tz``, else the feed's
  ``X-WR-TIMEZONE``, else UTC.
* All-day events get ``all_day=True`` with ``start``/``end`` at midnight UTC of their dates;
  ``end`` stays exclusive as in ICS (a 10-14 March trip ends at 15 March 00:00 UTC). They
  are dates, not instants: read them back with ``.date()``, never shift them to a zone.
* Ids: ``"<UID>"`` for a single event, ``"<UID>@<original start>"`` for each instance of a
  recurring event, the original start being its ``RECURRENCE-ID`` (so a moved instance
  keeps its id) as ``YYYY-MM-DDTHH:MM:SSZ`` in UTC, or ``YYYY-MM-DD`` for all-day series.
* Cancelled events and instances (``STATUS:CANCELLED``, ``EXDATE``) are left out.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import cast
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
import icalendar
import recurring_ical_events

from mcos.calendar.errors import CalendarSourceError, ErrorKind
from mcos.calendar.events import make_event, midnight_utc, overlaps
from mcos.infra.egress import AddressPolicy, AddressRefused, guarded_client
from mcos.kernel.models import CalendarEvent, CalendarWindow

DEFAULT_TIMEOUT_S = 20.0
MAX_ICS_BYTES = 10 * 1024 * 1024
# Floating times can be up to 14 h away from UTC; ask the expander for a wider window and
# cut precisely once every time is in UTC.
_QUERY_MARGIN = timedelta(days=1)


# --- fetch ----------------------------------------------------------------------------


def redact_source(source: str) -> str:
    """A URL without its path and query (private ICS links carry their secret there)."""
    parts = urlsplit(source)
    if parts.scheme in ("http", "https", "webcal"):
        return f"{parts.scheme}://{parts.hostname or ''}/…"
    return source


async def fetch_ics(
    source: str,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    *,
    max_bytes: int = MAX_ICS_BYTES,
    policy: AddressPolicy | None = None,
    client: httpx.AsyncClient | None = None,
) -> bytes:
    """The raw bytes of an ICS feed given as a file path, ``file://``, ``http(s)://`` or
    ``webcal://`` URL.

    URLs are fetched through :func:`mcos.infra.egress.guarded_client` with ``policy``
    (default: public addresses only), for the URL and every redirect, within ``timeout_s``
    in all. Raises ``CalendarSourceError`` (``not_found``, ``auth``, ``unavailable``,
    ``timeout``, ``refused`` for an internal address, ``invalid`` when larger than
    ``max_bytes``). Error messages never contain the URL's path or query.
    """
    scheme = urlsplit(source).scheme.lower()
    if scheme in ("http", "https", "webcal"):
        url = "https" + source[len("webcal") :] if scheme == "webcal" else source
        return await _fetch_url(url, timeout_s, max_bytes, policy or AddressPolicy(), client)
    path = Path(unquote(urlsplit(source).path)) if scheme == "file" else Path(source)
    return await _read_file(path, source, max_bytes)


async def _read_file(path: Path, source: str, max_bytes: int) -> bytes:
    try:
        size = (await asyncio.to_thread(path.stat)).st_size
        if size > max_bytes:
            raise CalendarSourceError(
                f"ICS file is {size} bytes, more than the {max_bytes} allowed",
                kind="invalid",
                source=source,
            )
        return await asyncio.to_thread(path.read_bytes)
    except FileNotFoundError as exc:
        raise CalendarSourceError("ICS file not found", kind="not_found", source=source) from exc
    except IsADirectoryError as exc:
        raise CalendarSourceError(
            "ICS path is a directory", kind="not_found", source=source
        ) from exc
    except PermissionError as exc:
        raise CalendarSourceError(
            "ICS file is not readable (permission denied)", kind="auth", source=source
        ) from exc
    except OSError as exc:
        raise CalendarSourceError(
            f"cannot read ICS file: {exc.strerror or exc}", kind="unavailable", source=source
        ) from exc


async def _fetch_url(
    url: str,
    timeout_s: float,
    max_bytes: int,
    policy: AddressPolicy,
    client: httpx.AsyncClient | None,
) -> bytes:
    shown = redact_source(url)
    owned = client is None
    http = client or guarded_client(policy, timeout_s)
    try:
        async with asyncio.timeout(timeout_s):
            async with http.stream("GET", url, timeout=timeout_s) as response:
                _raise_for_status(response.status_code, shown)
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise _too_large(max_bytes, shown)
                chunks: list[bytes] = []
                received = 0
                async for chunk in response.aiter_bytes():
                    received += len(chunk)
                    if received > max_bytes:
                        raise _too_large(max_bytes, shown)
                    chunks.append(chunk)
                return b"".join(chunks)
    except AddressRefused as exc:
        raise CalendarSourceError(
            f"ICS feed refused: {exc}; fetching internal addresses is not allowed",
            kind="refused",
            source=shown,
        ) from exc
    except (TimeoutError, httpx.TimeoutException) as exc:
        raise CalendarSourceError(
            f"ICS feed did not answer within {timeout_s:g} s", kind="timeout", source=shown
        ) from exc
    except httpx.TooManyRedirects as exc:
        raise CalendarSourceError(
            "ICS feed redirected too many times", kind="invalid", source=shown
        ) from exc
    except httpx.UnsupportedProtocol as exc:
        raise CalendarSourceError(
            "ICS feed redirected to a URL that is not http(s)", kind="refused", source=shown
        ) from exc
    except httpx.HTTPError as exc:
        raise CalendarSourceError(
            f"cannot reach ICS feed: {type(exc).__name__}", kind="unavailable", source=shown
        ) from exc
    finally:
        if owned:
            await http.aclose()


def _too_large(max_bytes: int, shown: str) -> CalendarSourceError:
    return CalendarSourceError(
        f"ICS feed is larger than the {max_bytes} bytes allowed", kind="invalid", source=shown
    )


def _raise_for_status(status: int, shown: str) -> None:
    if status < 400:
        return
    kind: ErrorKind
    if status in (401, 403):
        kind, what = "auth", "refused access (is the private link still valid?)"
    elif status in (404, 410):
        kind, what = "not_found", "does not exist"
    else:
        kind, what = "unavailable", "failed"
    raise CalendarSourceError(f"ICS feed {what}: HTTP {status}", kind=kind, source=shown)


# --- parse ----------------------------------------------------------------------------


def parse_ics(
    data: bytes,
    window: CalendarWindow,
    source: str = "ics",
    *,
    default_tz: str | tzinfo | None = None,
) -> list[CalendarEvent]:
    """Every event (recurring ones expanded) overlapping ``window``, sorted by start then id.

    Raises ``CalendarSourceError(kind="invalid")`` if ``data`` is not an iCalendar
    ``VCALENDAR``.
    """
    if not data or not data.strip():
        raise CalendarSourceError("ICS data is empty", kind="invalid", source=source)
    try:
        calendar = icalendar.Calendar.from_ical(data)
    except ValueError as exc:
        raise CalendarSourceError(
            f"not a valid iCalendar file: {_short(exc)}", kind="invalid", source=source
        ) from exc
    if calendar.name != "VCALENDAR":
        raise CalendarSourceError(
            f"expected a VCALENDAR, found {calendar.name or 'nothing'}",
            kind="invalid",
            source=source,
        )

    floating = _floating_zone(calendar, default_tz)
    recurring_uids = {
        str(event.get("UID"))
        for event in calendar.walk("VEVENT")
        if any(key in event for key in ("RRULE", "RDATE", "RECURRENCE-ID"))
    }
    start, end = _utc(window.start, UTC), _utc(window.end, UTC)
    exact = CalendarWindow(start=start, end=end)

    found: dict[str, tuple[int, CalendarEvent]] = {}
    try:
        occurrences = recurring_ical_events.of(calendar).between(
            start - _QUERY_MARGIN, end + _QUERY_MARGIN
        )
        for component in occurrences:
            if str(component.get("STATUS", "")).upper() == "CANCELLED":
                continue
            event = _to_event(component, source, floating, recurring_uids)
            if event is None or not overlaps(event, exact):
                continue
            sequence = _sequence(component)
            if event.id not in found or sequence > found[event.id][0]:
                found[event.id] = (sequence, event)
    except CalendarSourceError:
        raise
    except ValueError as exc:  # icalendar and recurring-ical-events errors are ValueErrors
        raise CalendarSourceError(
            f"invalid calendar content: {_short(exc)}", kind="invalid", source=source
        ) from exc
    return sorted((event for _, event in found.values()), key=lambda e: (e.start, e.id))


def _to_event(
    component: icalendar.cal.Component,
    source: str,
    floating: tzinfo,
    recurring_uids: set[str],
) -> CalendarEvent | None:
    dtstart = _when(component, "DTSTART")
    if not isinstance(dtstart, date):
        return None  # not a schedulable event
    dtend = _when(component, "DTEND")
    duration = _when(component, "DURATION")

    if isinstance(dtstart, datetime):
        all_day = False
        start = _utc(dtstart, floating)
        if isinstance(dtend, datetime):
            end = _utc(dtend, floating)
        elif isinstance(duration, timedelta):
            end = start + duration
        else:
            end = start
    else:
        all_day = True
        start = midnight_utc(dtstart)
        if isinstance(dtend, date):
            end_day = dtend.date() if isinstance(dtend, datetime) else dtend
            end = midnight_utc(end_day)
        elif isinstance(duration, timedelta):
            end = start + timedelta(days=max(duration.days, 1))
        else:
            end = start + timedelta(days=1)
        end = max(end, start + timedelta(days=1))

    return make_event(
        event_id=_event_id(component, floating, recurring_uids),
        source=source,
        title=_text(component.get("SUMMARY")),
        start=start,
        end=end,
        all_day=all_day,
        location=_text(component.get("LOCATION")),
        description=_text(component.get("DESCRIPTION")),
    )


def _when(component: icalendar.cal.Component, name: str) -> date | timedelta | None:
    """A date-time property's value, or None. icalendar types every property as the union of
    all value types; DTSTART, DTEND, DURATION and RECURRENCE-ID are vDDDTypes."""
    if name not in component:
        return None
    value = cast(icalendar.prop.vDDDTypes, component[name]).dt
    return value if isinstance(value, date | timedelta) else None


def _event_id(component: icalendar.cal.Component, floating: tzinfo, recurring: set[str]) -> str:
    uid = str(component.get("UID") or "").strip()
    if not uid:
        # No UID (invalid but seen in the wild): derive one from what identifies the event.
        basis = f"{component.get('SUMMARY', '')}|{_ical(component['DTSTART'])}"
        return "nouid-" + hashlib.sha256(basis.encode()).hexdigest()[:24]
    if uid not in recurring:
        return uid
    original = _when(component, "RECURRENCE-ID")
    if not isinstance(original, date):
        original = _when(component, "DTSTART")
    assert isinstance(original, date)  # _to_event checked DTSTART
    return f"{uid}@{_iso(original, floating)}"


def _ical(prop: object) -> str:
    raw = cast(icalendar.prop.vDDDTypes, prop).to_ical()
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def _iso(value: date | datetime, floating: tzinfo) -> str:
    if isinstance(value, datetime):
        return _utc(value, floating).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value.isoformat()


def _utc(value: datetime, floating: tzinfo) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        value = value.replace(tzinfo=floating)
    return value.astimezone(UTC)


def _floating_zone(calendar: icalendar.Calendar, default_tz: str | tzinfo | None) -> tzinfo:
    if isinstance(default_tz, tzinfo):
        return default_tz
    if default_tz:
        return ZoneInfo(default_tz)  # a bad name here is a programming error: let it raise
    declared = str(calendar.get("X-WR-TIMEZONE") or "").strip()
    if declared:
        try:
            return ZoneInfo(declared)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return UTC


def _sequence(component: icalendar.cal.Component) -> int:
    try:
        return int(component.get("SEQUENCE", 0))
    except (TypeError, ValueError):
        return 0


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _short(exc: Exception, limit: int = 200) -> str:
    text = str(exc).replace("\n", " ")
    return text if len(text) <= limit else text[:limit] + "…"
