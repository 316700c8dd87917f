"""Calendar sources (ICS feeds, the Google Calendar MCP server), sync diffs and travel
detection: pure functions plus thin I/O, no Temporal code."""

from __future__ import annotations

from calendar_sync.diff import diff_calendar
from calendar_sync.errors import CalendarSourceError
from calendar_sync.google_mcp import GoogleCalendarMcp, fetch_google_events
from calendar_sync.ics import fetch_ics, parse_ics
from calendar_sync.travel import detect_travel
from calendar_sync.window import sync_window

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
