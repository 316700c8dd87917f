"""Calendar sync on a real dev server: the schedule, the first sync, a sync that changes
nothing (records nothing), an edit that records exactly the change, manual triggers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.client import ScheduleActionExecutionStartWorkflow, ScheduleOverlapPolicy

from mcos.calendar.ics import parse_ics
from mcos.calendar.window import sync_window
from mcos.kernel.contracts import CalendarSource
from mcos.kernel.settings import Settings
from tests.conftest import Stack, user_id
from tests.support.calendar_sync import (
    FAKE_GCAL_COMMAND,
    WEEKLY_COUNT,
    WEEKLY_UID,
    activity_types,
    base_day,
    build_sync_ics,
    extra_event,
    instance_id,
    wait_for_run,
    weekly_dates,
)
from tests.support.wait import eventually
from tests.workflows.helpers import brain, history_event_types, settled_history, snapshot
from workflows.schedules import CalendarScheduler

TEMPORAL_CLI = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "temporal"


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    ics_dir = tmp_path / "calendars"
    ics_dir.mkdir()
    return settings.model_copy(
        update={"calendar_ics_dir": ics_dir, "google_calendar_mcp_command": FAKE_GCAL_COMMAND}
    )


async def _settled_history(stack: Stack, uid: str) -> list[str]:
    """The brain's history once it stopped growing (publishing follows each event)."""
    return await settled_history(stack.client, uid)


def _ny_10am_utc_hour(day) -> int:  # noqa: ANN001
    from zoneinfo import ZoneInfo

    return (
        datetime(day.year, day.month, day.day, 10, tzinfo=ZoneInfo("America/New_York"))
        .astimezone(UTC)
        .hour
    )


async def test_ics_sync_first_noop_and_edit(stack: Stack) -> None:
    uid = user_id()
    ics = stack.settings.ics_dir / "work.ics"
    ics.write_bytes(build_sync_ics())
    b = brain(stack.client, stack.settings, chat_replies=False)
    sched = CalendarScheduler(stack.client, stack.settings)

    await sched.connect(uid, CalendarSource(kind="ics", location=str(ics)))
    first = await wait_for_run(sched, uid, 1)
    assert first["status"] == "ok", first

    # --- first sync: the expanded events of the window and a Paris travel event ---------
    state = await eventually(lambda: _calendar_of(stack, uid))
    weeks = weekly_dates(base_day())
    hour = [_ny_10am_utc_hour(d) for d in weeks]
    standups = {k: v for k, v in state.calendar.items() if k.startswith(WEEKLY_UID)}
    assert len(standups) == WEEKLY_COUNT - 1  # one excluded date
    assert instance_id(weeks[1], hour[1]) not in standups  # the EXDATE
    moved = standups[instance_id(weeks[3], hour[3])]  # keeps the id of its original slot
    assert moved.title == "Weekly stand-up (moved)"
    assert moved.start.date() == weeks[3] + timedelta(days=1)
    assert {"paris-trip@test", "conference@test"} <= set(state.calendar)
    paris = state.calendar["paris-trip@test"]
    assert paris.all_day and (paris.end - paris.start).days == 5
    expected = parse_ics(ics.read_bytes(), sync_window(datetime.now(UTC)), "ics")
    assert sorted(state.calendar) == sorted(e.id for e in expected)
    destinations = {t.destination for t in state.travel}
    assert "Paris" in destinations and "London" in destinations
    assert first["fetched"] == len(expected) == first["upserts"] and first["deletes"] == 0

    window_before = await b.event_window(uid)
    assert [e.type for e in window_before] == ["calendar.synced"]
    history_before = await _settled_history(stack, uid)
    seq_before = state.seq

    # --- second sync, nothing changed: nothing recorded ---------------------------------
    await sched.trigger(uid)
    second = await wait_for_run(sched, uid, 2)
    assert second["status"] == "ok" and second["fetched"] == len(expected)
    assert (second["upserts"], second["deletes"], second["changed"]) == (0, 0, False)
    assert (await snapshot(stack.client, uid)).seq == seq_before
    assert await b.event_window(uid) == window_before
    assert await history_event_types(stack.client, uid) == history_before, (
        "a sync that changes nothing must not touch the brain's history"
    )

    # --- edit the file: rename the trip, drop one stand-up, add a dentist visit ---------
    dentist_day = base_day() + timedelta(days=2)
    ics.write_bytes(
        build_sync_ics(
            paris_title="Trip to Paris (family)",
            more_exdates=(weeks[4],),
            extra=(extra_event("dentist@test", "Dentist", dentist_day),),
        )
    )
    await sched.trigger(uid)
    third = await wait_for_run(sched, uid, 3)
    assert (third["upserts"], third["deletes"]) == (2, 1), third
    events = await eventually(lambda: _window_longer(b, uid, 2))
    change = events[-1]
    assert change.type == "calendar.synced" and change.seq == seq_before + 1
    assert change.event_id == third["event_id"]
    assert sorted(u["id"] for u in change.payload["upserts"]) == ["dentist@test", "paris-trip@test"]
    assert change.payload["deletes"] == [instance_id(weeks[4], hour[4])]
    state = await snapshot(stack.client, uid)
    assert state.calendar["paris-trip@test"].title == "Trip to Paris (family)"
    assert instance_id(weeks[4], hour[4]) not in state.calendar
    assert state.messages == []


async def test_schedule_is_listed_skips_overlaps_and_triggers_by_hand(stack: Stack) -> None:
    uid = user_id()
    ics = stack.settings.ics_dir / "c.ics"
    ics.write_bytes(build_sync_ics())
    sched = CalendarScheduler(stack.client, stack.settings)
    await sched.connect(uid, CalendarSource(kind="ics", location=str(ics)))
    await wait_for_run(sched, uid, 1)

    desc = await sched.describe(uid)
    assert desc is not None and desc.id == f"calendar-sync:{uid}"
    assert desc.schedule.spec.intervals[0].every == timedelta(minutes=15)
    assert desc.schedule.policy.overlap == ScheduleOverlapPolicy.SKIP
    assert desc.info.next_action_times and desc.info.next_action_times[0] > datetime.now(UTC)
    assert (await sched.source(uid)) == CalendarSource(kind="ics", location=str(ics))

    assert stack.settings.temporal_address is not None  # the session's dev server
    proc = await asyncio.create_subprocess_exec(
        str(TEMPORAL_CLI),
        "schedule",
        "list",
        "--address",
        stack.settings.temporal_address,
        "-o",
        "json",
        stdout=asyncio.subprocess.PIPE,
    )
    listed = (await asyncio.wait_for(proc.communicate(), 30))[0].decode()
    assert proc.returncode == 0
    assert f"calendar-sync:{uid}" in listed

    await sched.trigger(uid)
    result = await wait_for_run(sched, uid, 2)
    assert result["status"] == "ok"
    status = await sched.status(uid)
    assert status["connected"] and status["runs"] == 2 and status["source"]["kind"] == "ics"
    assert status["last_sync"]["workflow_id"].startswith(f"calendar-sync:{uid}-")

    # Chat-first: the runs only fetched and diffed.
    desc = await sched.describe(uid)
    assert desc is not None
    for action in desc.info.recent_actions:
        assert isinstance(action.action, ScheduleActionExecutionStartWorkflow), action.action
        names = await activity_types(
            stack.client, action.action.workflow_id, action.action.first_execution_run_id
        )
        assert set(names) == {"fetch_calendar", "apply_calendar_sync"}, names

    assert (await sched.disconnect(uid)) is not None
    assert await sched.describe(uid) is None
    assert (await sched.status(uid))["connected"] is False


async def test_unreadable_source_gives_a_status_not_a_crash(stack: Stack) -> None:
    uid = user_id()
    sched = CalendarScheduler(stack.client, stack.settings)
    missing = stack.settings.ics_dir / "gone.ics"
    await sched.connect(uid, CalendarSource(kind="ics", location=str(missing)))
    result = await wait_for_run(sched, uid, 1)
    assert result["status"] == "not_found" and "not found" in result["error"]

    # A location outside the calendar directory is refused by the activity as well.
    await sched.connect(uid, CalendarSource(kind="ics", location="/etc/hostname"))
    result = await wait_for_run(sched, uid, 2)
    assert result["status"] == "invalid" and "calendar directory" in result["error"]
    assert (await brain(stack.client, stack.settings).snapshot(uid)).calendar == {}


async def _calendar_of(stack: Stack, uid: str):  # noqa: ANN202
    try:
        state = await snapshot(stack.client, uid)
    except Exception:  # noqa: BLE001 - the brain is not started yet
        return None
    return state if state.calendar else None


async def _window_longer(b, uid: str, n: int):  # noqa: ANN001, ANN202
    events = await b.event_window(uid)
    return events if len(events) >= n else None


async def test_transient_failures_are_retried_then_reported(stack: Stack) -> None:
    uid = user_id()
    stack.settings.google_single_user = uid  # the operator's (fake) MCP credentials
    stack.settings.google_calendar_mcp_env = {"FAKE_GCAL_MODE": "crash_on_start"}
    sched = CalendarScheduler(stack.client, stack.settings)
    await sched.connect(uid, CalendarSource(kind="google"))
    result = await wait_for_run(sched, uid, 1)
    assert result["status"] == "unavailable" and "MCP server" in result["error"]
    desc = await sched.describe(uid)
    assert desc is not None
    run_id = desc.info.recent_actions[-1].action
    assert isinstance(run_id, ScheduleActionExecutionStartWorkflow), run_id
    history = await stack.client.get_workflow_handle(
        run_id.workflow_id, run_id=run_id.first_execution_run_id
    ).fetch_history()
    failed = [e for e in history.events if e.HasField("activity_task_failed_event_attributes")]
    assert len(failed) == 1  # the last of the 3 attempts; earlier ones are not in history
    started = [e for e in history.events if e.HasField("activity_task_started_event_attributes")]
    assert started[0].activity_task_started_event_attributes.attempt == 3
