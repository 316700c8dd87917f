"""Declared metrics are incremented where the thing happens (checked by value)."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import REGISTRY
from temporalio.testing import ActivityEnvironment

from activities.calendar import CalendarActivities
from mcos.kernel.contracts import CalendarSource
from tests.activities.test_calendar import _input, _settings
from tests.support.calendar_sync import build_sync_ics


def syncs(status: str) -> float:
    return REGISTRY.get_sample_value("calendar_sync_total", {"status": status}) or 0.0


async def test_calendar_sync_total_counts_each_fetch_by_status(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    (settings.ics_dir / "a.ics").write_bytes(build_sync_ics())
    acts = CalendarActivities(settings)
    ok, invalid = syncs("ok"), syncs("invalid")
    out = await ActivityEnvironment().run(
        acts.fetch_calendar, _input(CalendarSource(kind="ics", location="a.ics"))
    )
    assert out.status == "ok"
    assert (syncs("ok"), syncs("invalid")) == (ok + 1, invalid)
    (settings.ics_dir / "bad.ics").write_bytes(b"not a calendar")
    out = await ActivityEnvironment().run(
        acts.fetch_calendar, _input(CalendarSource(kind="ics", location="bad.ics"))
    )
    assert out.status == "invalid"
    assert (syncs("ok"), syncs("invalid")) == (ok + 1, invalid + 1)
