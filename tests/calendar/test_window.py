from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from mcos.calendar.window import sync_window


def test_window_is_aligned_to_utc_days() -> None:
    window = sync_window(datetime(2025, 3, 15, 13, 45, tzinfo=UTC))
    assert window.start == datetime(2025, 3, 14, tzinfo=UTC)
    assert window.end == datetime(2025, 5, 15, tzinfo=UTC)


def test_same_day_gives_same_window() -> None:
    morning = sync_window(datetime(2025, 3, 15, 0, 5, tzinfo=UTC))
    evening = sync_window(datetime(2025, 3, 15, 23, 55, tzinfo=UTC))
    assert morning == evening


def test_other_zones_are_converted_first() -> None:
    pacific = timezone(timedelta(hours=-8))
    window = sync_window(datetime(2025, 3, 15, 23, 30, tzinfo=pacific), days_back=0, days_ahead=7)
    assert window.start == datetime(2025, 3, 16, tzinfo=UTC)
    assert window.end == datetime(2025, 3, 24, tzinfo=UTC)


def test_naive_or_negative_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        sync_window(datetime(2025, 3, 15, 12))
    with pytest.raises(ValueError, match=">= 0"):
        sync_window(datetime(2025, 3, 15, 12, tzinfo=UTC), days_back=-1)
