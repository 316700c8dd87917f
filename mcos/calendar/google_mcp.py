"""Google Calendar through the ``@cocal/google-calendar-mcp`` server over stdio.

The server is started per fetch (``npx -y @cocal/google-calendar-mcp`` by default), asked
for ``list-events`` over the window, and stopped. Whatever goes wrong (no credentials,
expired tokens, the command missing, the server dying or hanging) ends as a
``CalendarSourceError`` within ``timeout_s``.

Credentials reach the server through ``env`` (the MCP SDK only forwards a few safe
variables — HOME, PATH, … — of this process): ``GOOGLE_OAUTH_CREDENTIALS`` (the OAuth
client file) and ``GOOGLE_CALENDAR_MCP_TOKEN_PATH`` (its token file). For a user's own
account, :func:`user_credentials` writes both into a private temporary directory for one
run: the client id and that user's short-lived access token only — no refresh token, no
client secret, nothing of any other user — and deletes them afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import anyio

from mcos.calendar.errors import CalendarSourceError, ErrorKind
from mcos.calendar.events import make_event, midnight_utc, overlaps
from mcos.kernel.models import CalendarEvent, CalendarWindow

if TYPE_CHECKING:
    from mcp import Client

DEFAULT_COMMAND: tuple[str, ...] = ("npx", "-y", "@cocal/google-calendar-mcp@2.6.3")
DEFAULT_TIMEOUT_S = 60.0  # the first ``npx -y`` run downloads the package
LIST_EVENTS_TOOL = "list-events"
SOURCE = "google"
PAGE_LIMIT = 250  # Google's default page size; the server does not ask for more pages
MAX_SPLITS = 6
MIN_SPLIT_SPAN = timedelta(hours=1)

_AUTH_PATTERNS = re.compile(
    r"credentials not found|oauth credentials|no authenticated accounts|"
    r"authentication tokens?|not authenticated|re-?authenticate|invalid_grant|"
    r"unauthori[sz]ed|invalid credentials|token (?:has )?expired|\b401\b",
    re.IGNORECASE,
)
_STDERR_TAIL = 600
# The server's variables that choose whose credentials it uses; a per-user run sets them
# all, so nothing of the operator's environment can point it at other tokens.
CREDENTIAL_ENV = (
    "GOOGLE_OAUTH_CREDENTIALS",
    "GOOGLE_CALENDAR_MCP_TOKEN_PATH",
    "GOOGLE_ACCOUNT_MODE",
)
TOKEN_ACCOUNT = "normal"  # the server's default account name


@contextlib.contextmanager
def user_credentials(
    access_token: str, expires_at: datetime, client_id: str
) -> Iterator[tuple[dict[str, str], str]]:
    """``(env, directory)`` for one server run with one user's access token: the files the
    server reads (client file, token file in its multi-account format), mode 0600 in a
    fresh 0700 directory that is removed on exit. Run the server with ``cwd=directory``
    too, so its legacy token look-up (``./.gcp-saved-tokens.json``) finds nothing else."""
    with tempfile.TemporaryDirectory(prefix="mcos-gcal-") as home:
        keys = Path(home, "oauth-client.json")
        tokens = Path(home, "tokens.json")
        _write_private(
            keys, {"installed": {"client_id": client_id, "redirect_uris": ["http://127.0.0.1"]}}
        )
        expiry_ms = int(expires_at.timestamp() * 1000)
        _write_private(
            tokens,
            {
                TOKEN_ACCOUNT: {
                    "access_token": access_token,
                    "token_type": "Bearer",
                    "expiry_date": expiry_ms,
                }
            },
        )
        yield (
            {
                "GOOGLE_OAUTH_CREDENTIALS": str(keys),
                "GOOGLE_CALENDAR_MCP_TOKEN_PATH": str(tokens),
                "GOOGLE_ACCOUNT_MODE": TOKEN_ACCOUNT,
            },
            home,
        )


def _write_private(path: Path, content: dict[str, Any]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(content, out)


@dataclass(frozen=True)
class GoogleCalendarMcp:
    """How to reach the Google Calendar MCP server; ``fetch`` does one sync's read."""

    command: Sequence[str] = DEFAULT_COMMAND
    env: Mapping[str, str] = field(default_factory=dict)
    calendar_id: str = "primary"
    timeout_s: float = DEFAULT_TIMEOUT_S
    source: str = SOURCE
    cwd: str | None = None

    async def fetch(self, window: CalendarWindow) -> list[CalendarEvent]:
        """Events overlapping ``window``, sorted by start then id; raises
        ``CalendarSourceError``."""
        return events_from_google(await self.fetch_raw(window), window, self.source)

    async def fetch_raw(self, window: CalendarWindow) -> list[dict[str, Any]]:
        """The Google API events ``list-events`` returns for ``window``.

        The server asks Google for one page (at most ``PAGE_LIMIT`` events) per call, so a
        full answer is split into halves and asked again: a truncated list would turn into
        deletes in the diff.
        """
        if not self.command:
            raise CalendarSourceError("no MCP server command configured", kind="unavailable")
        # Imported on use (as in mcos.flights.client): ~0.7 s of CPU per process otherwise.
        from mcp import Client, StdioServerParameters  # noqa: PLC0415
        from mcp.client.stdio import stdio_client  # noqa: PLC0415

        params = StdioServerParameters(
            command=self.command[0],
            args=list(self.command[1:]),
            env=dict(self.env),
            cwd=self.cwd,
        )
        with tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace") as errlog:
            try:
                with anyio.fail_after(self.timeout_s):
                    async with Client(
                        stdio_client(params, errlog=errlog),
                        read_timeout_seconds=self.timeout_s,
                        mode="legacy",
                    ) as client:
                        # Errors are returned, not raised, inside the session: its task
                        # group would wrap them.
                        outcome = await self._collect(client, window, depth=0)
            except TimeoutError as exc:
                raise self._error(
                    f"no answer within {self.timeout_s:g} s", "timeout", errlog
                ) from exc
            except Exception as exc:  # noqa: BLE001 - every failure becomes a typed error
                raise self._failure(exc, errlog) from exc
        if isinstance(outcome, CalendarSourceError):
            raise outcome
        return outcome

    async def _collect(
        self, client: Client, window: CalendarWindow, depth: int
    ) -> list[dict[str, Any]] | CalendarSourceError:
        arguments = {
            "calendarId": self.calendar_id,
            "timeMin": _rfc3339(window.start),
            "timeMax": _rfc3339(window.end),
            "fields": ["description"],  # not among the server's default fields
        }
        result = await client.call_tool(LIST_EVENTS_TOOL, arguments)
        text = _text_of(result.content)
        if result.is_error:
            message = text or "list-events failed"
            kind: ErrorKind = "auth" if _AUTH_PATTERNS.search(message) else "tool_error"
            return CalendarSourceError(
                f"list-events failed: {_clip(message)}", kind=kind, source=self.source
            )
        try:
            raw = list_events_payload(text, self.source)
        except CalendarSourceError as error:
            return error
        span = window.end - window.start
        if len(raw) < PAGE_LIMIT or depth >= MAX_SPLITS or span <= MIN_SPLIT_SPAN:
            return raw
        middle = window.start + span / 2
        merged: list[dict[str, Any]] = []
        for half in (
            CalendarWindow(start=window.start, end=middle),
            CalendarWindow(start=middle, end=window.end),
        ):
            part = await self._collect(client, half, depth + 1)
            if isinstance(part, CalendarSourceError):
                return part
            merged.extend(part)
        return merged

    def _failure(self, exc: BaseException, errlog: IO[str]) -> CalendarSourceError:
        leaves = list(_leaves(exc))
        if any(isinstance(e, TimeoutError) for e in leaves):
            return self._error(f"no answer within {self.timeout_s:g} s", "timeout", errlog)
        if any(isinstance(e, FileNotFoundError) for e in leaves):
            return CalendarSourceError(
                f"cannot start the MCP server: command {self.command[0]!r} not found",
                kind="unavailable",
                source=self.source,
            )
        if any(isinstance(e, OSError) for e in leaves):
            first = next(e for e in leaves if isinstance(e, OSError))
            return self._error(f"cannot start the MCP server: {first}", "unavailable", errlog)
        from mcp import MCPError  # noqa: PLC0415 - loaded by fetch_raw already

        mcp_error = next((e for e in leaves if isinstance(e, MCPError)), None)
        detail = str(mcp_error) if mcp_error is not None else f"{type(leaves[0]).__name__}"
        if "timed out" in detail.lower():
            return self._error(f"no answer within {self.timeout_s:g} s", "timeout", errlog)
        return self._error(f"MCP server failed ({_clip(detail)})", "unavailable", errlog)

    def _error(self, message: str, kind: ErrorKind, errlog: IO[str]) -> CalendarSourceError:
        stderr = _read_all(errlog)
        auth_line = _auth_line(stderr)
        if kind != "timeout" and auth_line:
            kind = "auth"
            message = f"Google Calendar credentials are missing or invalid ({message})"
        shown = auth_line or _tail(stderr)
        if shown:
            message = f"{message}; server said: {shown}"
        return CalendarSourceError(message, kind=kind, source=self.source)


async def fetch_google_events(
    window: CalendarWindow,
    *,
    calendar_id: str = "primary",
    command: Sequence[str] = DEFAULT_COMMAND,
    env: Mapping[str, str] | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    source: str = SOURCE,
) -> list[CalendarEvent]:
    """Shortcut for ``GoogleCalendarMcp(...).fetch(window)``."""
    server = GoogleCalendarMcp(
        command=tuple(command),
        env=dict(env or {}),
        calendar_id=calendar_id,
        timeout_s=timeout_s,
        source=source,
    )
    return await server.fetch(window)


# --- mapping (pure) -------------------------------------------------------------------


def list_events_payload(text: str, source: str = SOURCE) -> list[dict[str, Any]]:
    """The ``events`` of a ``list-events`` JSON text. A partial answer (an account or
    calendar failed, reported in ``warnings``) is an error: applying it would delete the
    missing events."""
    try:
        payload = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise CalendarSourceError(
            f"list-events did not return JSON: {_clip(str(text))}", kind="invalid", source=source
        ) from exc
    raw = payload.get("events") if isinstance(payload, dict) else None
    if not isinstance(raw, list):
        raise CalendarSourceError(
            "list-events result has no 'events' list", kind="invalid", source=source
        )
    failures = [w for w in payload.get("warnings") or [] if "fail" in str(w).lower()]
    if failures:
        message = "; ".join(str(w) for w in failures)
        kind: ErrorKind = "auth" if _AUTH_PATTERNS.search(message) else "tool_error"
        raise CalendarSourceError(
            f"list-events returned partial results: {_clip(message)}", kind=kind, source=source
        )
    return [item for item in raw if isinstance(item, dict)]


def parse_list_events(
    text: str, window: CalendarWindow, source: str = SOURCE
) -> list[CalendarEvent]:
    """``CalendarEvent``s from the JSON text of ``list-events`` (``{"events": [...]}``)."""
    return events_from_google(list_events_payload(text, source), window, source)


def events_from_google(
    raw: list[dict[str, Any]], window: CalendarWindow, source: str = SOURCE
) -> list[CalendarEvent]:
    """Google API events as ``CalendarEvent``s: cancelled ones dropped, only those
    overlapping ``window``, sorted by start then id."""
    found: dict[str, CalendarEvent] = {}
    for item in raw:
        event = map_google_event(item, source)
        if event is not None and overlaps(event, window):
            found[event.id] = event
    return sorted(found.values(), key=lambda e: (e.start, e.id))


def map_google_event(item: Any, source: str = SOURCE) -> CalendarEvent | None:
    """One Google Calendar API event as a ``CalendarEvent``; ``None`` for cancelled or
    unusable entries (no id or no start). Timed events are converted to UTC; all-day
    events (``date``) start/end at midnight UTC of their dates, end exclusive."""
    if not isinstance(item, dict) or item.get("status") == "cancelled":
        return None
    event_id = str(item.get("id") or "").strip()
    start_raw, end_raw = item.get("start") or {}, item.get("end") or {}
    if not event_id or not isinstance(start_raw, dict) or not isinstance(end_raw, dict):
        return None
    try:
        if start_raw.get("date") and not start_raw.get("dateTime"):
            start = midnight_utc(date.fromisoformat(start_raw["date"]))
            end_date = end_raw.get("date")
            end = midnight_utc(date.fromisoformat(end_date)) if end_date else start
            end = max(end, start + timedelta(days=1))
            all_day = True
        elif start_raw.get("dateTime"):
            start = _instant(start_raw["dateTime"], start_raw.get("timeZone"))
            end_value = end_raw.get("dateTime")
            end = _instant(end_value, end_raw.get("timeZone")) if end_value else start
            all_day = False
        else:
            return None
    except (TypeError, ValueError):
        return None
    return make_event(
        event_id=event_id,
        source=source,
        title=item.get("summary"),
        start=start,
        end=end,
        all_day=all_day,
        location=item.get("location"),
        description=item.get("description"),
    )


def _instant(value: str, zone: str | None) -> datetime:
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        try:
            parsed = parsed.replace(tzinfo=ZoneInfo(zone) if zone else UTC)
        except (ZoneInfoNotFoundError, ValueError):
            parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


# --- helpers --------------------------------------------------------------------------


def _rfc3339(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _text_of(content: Sequence[Any]) -> str:
    return "\n".join(getattr(block, "text", "") for block in content if hasattr(block, "text"))


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    chain = [exc]
    if exc.__cause__ is not None:
        chain.extend(_leaves(exc.__cause__))
    return chain


def _read_all(errlog: IO[str]) -> str:
    try:
        errlog.flush()
        errlog.seek(0)
        return errlog.read()
    except (OSError, ValueError):
        return ""


def _auth_line(stderr: str) -> str:
    """The first stderr line that speaks of credentials, with the one after it."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for index, line in enumerate(lines):
        if _AUTH_PATTERNS.search(line):
            return _clip(" ".join(lines[index : index + 2]), _STDERR_TAIL)
    return ""


def _tail(stderr: str) -> str:
    text = " ".join(line.strip() for line in stderr.splitlines() if line.strip())
    return text if len(text) <= _STDERR_TAIL else "…" + text[-_STDERR_TAIL:]


def _clip(text: str, limit: int = 300) -> str:
    text = text.replace("\n", " ").strip()
    return text if len(text) <= limit else text[:limit] + "…"
