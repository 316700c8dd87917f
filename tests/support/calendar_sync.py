"""Helpers for calendar sync tests on the real dev server: an ICS file dated relative to
today (so it falls inside the live sync window), waiting for schedule runs, histories."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client, ScheduleActionExecutionStartWorkflow

from tests.support.wait import eventually
from workflows.schedules import CalendarScheduler

FAKE_GCAL_SERVER = str(Path(__file__).with_name("fake_gcal_server.py"))
FAKE_GCAL_COMMAND = f"{sys.executable} {FAKE_GCAL_SERVER}"
WEEKLY_UID = "weekly-standup@test"
WEEKLY_COUNT = 6


def _d(day: date) -> str:
    return day.strftime("%Y%m%d")


def _vevent(*lines: str) -> str:
    return "\n".join(["BEGIN:VEVENT", "DTSTAMP:20250101T000000Z", *lines, "END:VEVENT"])


def base_day() -> date:
    """A Monday a few days ahead: every event below lies well inside the sync window."""
    today = datetime.now(UTC).date()
    return today + timedelta(days=3 + (7 - (today + timedelta(days=3)).weekday()) % 7)


def weekly_dates(base: date) -> list[date]:
    return [base + timedelta(weeks=i) for i in range(WEEKLY_COUNT)]


def build_sync_ics(
    *,
    paris_title: str = "Trip to Paris",
    extra: tuple[str, ...] = (),
    more_exdates: tuple[date, ...] = (),
) -> bytes:
    """A weekly stand-up (New York time, 6 weeks) with the 2nd instance excluded and the 4th
    moved one day later, an all-day multi-day trip to Paris, and a conference in London."""
    base = base_day()
    weeks = weekly_dates(base)
    exdates = [weeks[1], *more_exdates]
    moved_from, moved_to = weeks[3], weeks[3] + timedelta(days=1)
    paris = base + timedelta(days=10)
    conf = base + timedelta(days=20)
    events = [
        _vevent(
            f"UID:{WEEKLY_UID}",
            "SUMMARY:Weekly stand-up",
            f"DTSTART;TZID=America/New_York:{_d(base)}T100000",
            f"DTEND;TZID=America/New_York:{_d(base)}T103000",
            f"RRULE:FREQ=WEEKLY;COUNT={WEEKLY_COUNT}",
            *[f"EXDATE;TZID=America/New_York:{_d(d)}T100000" for d in exdates],
        ),
        _vevent(
            f"UID:{WEEKLY_UID}",
            "SUMMARY:Weekly stand-up (moved)",
            f"RECURRENCE-ID;TZID=America/New_York:{_d(moved_from)}T100000",
            f"DTSTART;TZID=America/New_York:{_d(moved_to)}T130000",
            f"DTEND;TZID=America/New_York:{_d(moved_to)}T133000",
            "SEQUENCE:1",
        ),
        _vevent(
            "UID:paris-trip@test",
            f"SUMMARY:{paris_title}",
            f"DTSTART;VALUE=DATE:{_d(paris)}",
            f"DTEND;VALUE=DATE:{_d(paris + timedelta(days=5))}",
        ),
        _vevent(
            "UID:conference@test",
            "SUMMARY:Cloud Native Conference",
            "LOCATION:ExCeL London\\, Royal Victoria Dock\\, London\\, UK",
            f"DTSTART;TZID=Europe/London:{_d(conf)}T090000",
            f"DTEND;TZID=Europe/London:{_d(conf + timedelta(days=2))}T170000",
        ),
        *extra,
    ]
    text = "\n".join(
        [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//mcos//sync tests//EN",
            *events,
            "END:VCALENDAR",
            "",
        ]
    )
    return text.replace("\n", "\r\n").encode()


def extra_event(uid: str, title: str, day: date) -> str:
    return _vevent(
        f"UID:{uid}", f"SUMMARY:{title}", f"DTSTART:{_d(day)}T150000Z", f"DTEND:{_d(day)}T160000Z"
    )


def instance_id(day: date, hour_utc: int) -> str:
    return f"{WEEKLY_UID}@{day.isoformat()}T{hour_utc:02d}:00:00Z"


async def wait_for_run(
    sched: CalendarScheduler, user: str, runs: int, within: float = 30.0
) -> dict[str, Any]:
    """The result of the schedule's run number ``runs`` once it has finished."""

    async def done() -> dict[str, Any] | None:
        desc = await sched.describe(user)
        if desc is None or desc.info.num_actions < runs or desc.info.running_actions:
            return None
        running, last = await sched.last_result(desc)
        return None if running or last is None else last

    return await eventually(done, timeout=within)


async def activity_types(client: Client, workflow_id: str, run_id: str | None = None) -> list[str]:
    """Activities a run scheduled (normal ones) plus the local ones (marker details)."""
    history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
    names: list[str] = []
    for event in history.events:
        if event.HasField("activity_task_scheduled_event_attributes"):
            names.append(event.activity_task_scheduled_event_attributes.activity_type.name)
        if event.HasField("marker_recorded_event_attributes"):
            details = event.marker_recorded_event_attributes.details
            if "data" in details:
                import json

                for payload in details["data"].payloads:
                    try:
                        names.append("local:" + str(json.loads(payload.data).get("activity_type")))
                    except (ValueError, AttributeError):
                        names.append("local:?")
    return names


async def sync_runs(sched: CalendarScheduler, user: str) -> list[tuple[str, str]]:
    desc = await sched.describe(user)
    assert desc is not None
    runs = []
    for a in desc.info.recent_actions:
        assert isinstance(a.action, ScheduleActionExecutionStartWorkflow), a.action
        runs.append((a.action.workflow_id, a.action.first_execution_run_id))
    return runs
