"""A stand-in for ``@cocal/google-calendar-mcp`` over stdio: same tool name, arguments and
result shape (``{"events": [...], "totalCount": n}`` as JSON text).

Behaviour is chosen with environment variables:

* ``FAKE_GCAL_MODE``: ``ok`` (default), ``auth_error`` (the real server's message for
  missing tokens, as an error result), ``missing_credentials`` (exits at start-up with
  the real server's message), ``crash_on_start``, ``crash_on_call``, ``hang``, ``bad_json``.
* ``FAKE_GCAL_EVENTS``: path of a JSON file with the Google API events to return.
* ``FAKE_GCAL_ARGS``: path where the received ``list-events`` arguments are appended,
  one JSON object a line.
* ``FAKE_GCAL_SEEN``: path where, at start, the credentials the server was given are
  appended as one JSON line (the credential variables, the contents of the files they
  name, the working directory) — what the real server would read.

Like the real server, it returns the events overlapping ``timeMin``-``timeMax`` ordered by
start, at most 250 (Google's default page; the real server asks for no further pages).
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

MODE = os.environ.get("FAKE_GCAL_MODE", "ok")

MISSING_CREDENTIALS = """Failed to start server: Error loading OAuth keys: OAuth credentials \
not found. Please provide credentials using one of these methods:

1. Environment variable:
   Set GOOGLE_OAUTH_CREDENTIALS to the path of your credentials file:
"""
TOKENS_INVALID = (
    "MCP error -32600: Authentication tokens are no longer valid. "
    "Please restart the server to re-authenticate."
)

server = MCPServer("fake-google-calendar")


@server.tool(name="list-events")
def list_events(
    calendarId: str | list[str],  # noqa: N803 - the real tool's argument names
    timeMin: str | None = None,  # noqa: N803
    timeMax: str | None = None,  # noqa: N803
    timeZone: str | None = None,  # noqa: N803
    fields: list[str] | None = None,
    account: str | list[str] | None = None,
) -> str:
    if args_path := os.environ.get("FAKE_GCAL_ARGS"):
        received = {"calendarId": calendarId, "timeMin": timeMin, "timeMax": timeMax}
        received.update({"fields": fields} if fields is not None else {})
        with Path(args_path).open("a") as log:
            log.write(json.dumps(received) + "\n")
    if MODE == "auth_error":
        raise ToolError(TOKENS_INVALID)
    if MODE == "crash_on_call":
        sys.stderr.write("fatal: calendar backend exploded\n")
        sys.stderr.flush()
        os._exit(3)
    if MODE == "hang":
        time.sleep(3600)
    if MODE == "bad_json":
        return "<html>not json</html>"
    events: list[dict[str, Any]] = []
    if events_path := os.environ.get("FAKE_GCAL_EVENTS"):
        events = json.loads(Path(events_path).read_text())
    events = sorted((e for e in events if _overlaps(e, timeMin, timeMax)), key=_start)[:PAGE]
    return json.dumps({"events": events, "totalCount": len(events)})


PAGE = 250


def _instant(value: dict[str, str]) -> datetime:
    if value.get("dateTime"):
        return datetime.fromisoformat(value["dateTime"]).astimezone(UTC)
    return datetime.fromisoformat(value["date"]).replace(tzinfo=UTC)


def _start(event: dict[str, Any]) -> datetime:
    return _instant(event["start"])


def _overlaps(event: dict[str, Any], time_min: str | None, time_max: str | None) -> bool:
    start, end = _instant(event["start"]), _instant(event.get("end") or event["start"])
    after_min = time_min is None or end > datetime.fromisoformat(time_min)
    before_max = time_max is None or start < datetime.fromisoformat(time_max)
    return after_min and before_max


def _record_credentials(path: str) -> None:
    names = ("GOOGLE_OAUTH_CREDENTIALS", "GOOGLE_CALENDAR_MCP_TOKEN_PATH", "GOOGLE_ACCOUNT_MODE")
    seen: dict[str, Any] = {"env": {n: os.environ.get(n) for n in names}, "cwd": os.getcwd()}
    for name in names[:2]:
        file = os.environ.get(name)
        seen[name] = json.loads(Path(file).read_text()) if file and Path(file).exists() else None
    with Path(path).open("a") as log:
        log.write(json.dumps(seen) + "\n")


if __name__ == "__main__":
    if seen_path := os.environ.get("FAKE_GCAL_SEEN"):
        _record_credentials(seen_path)
    if MODE == "missing_credentials":
        sys.stderr.write(MISSING_CREDENTIALS)
        sys.exit(1)
    if MODE == "crash_on_start":
        sys.stderr.write("Segmentation fault (pretend)\n")
        sys.exit(139)
    server.run("stdio")
