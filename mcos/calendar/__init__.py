"""Calendar sources (ICS feeds, the Google Calendar MCP server), sync diffs and travel
detection: pure functions plus thin I/O, no Temporal code."""

from __future__ import annotations

from mcos.calendar.diff import diff_calendar
from mcos.calendar.errors import CalendarSourceError
from mcos.calendar.google_mcp import GoogleCalendarMcp, fetch_google_events
from mcos.calendar.ics import fetch_ics, parse_ics
from mcos.calendar.travel import detect_travel
from mcos.calendar.window import sync_window

__all__ = [
    "CalendarSourceError",
    "GoogleCalendarMcp",
    "detect_travel",
    "diff_calendar",
    "fetch_google_events",
    "fetch_ics",
    "parse_ics",
    "sync_window",
]
