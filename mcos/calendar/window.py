"""The time window a calendar sync covers."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from mcos.kernel.models import CalendarWindow


def sync_window(now: datetime, days_back: int = 1, days_ahead: int = 60) -> CalendarWindow:
    """The window ``[midnight UTC days_back days ago, midnight UTC after the day days_ahead
    days from now)``.

    Both ends are aligned to UTC midnight so that syncs every few minutes on the same day
    ask for the same window and an unchanged calendar yields an empty diff. ``now`` must be
    timezone-aware (pass ``workflow.now()`` or ``datetime.now(UTC)``).
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("sync_window needs a timezone-aware 'now'")
    if days_back < 0 or days_ahead < 0:
        raise ValueError("days_back and days_ahead must be >= 0")
    today = datetime.combine(now.astimezone(UTC).date(), time(0), tzinfo=UTC)
    return CalendarWindow(
        start=today - timedelta(days=days_back),
        end=today + timedelta(days=days_ahead + 1),
    )
