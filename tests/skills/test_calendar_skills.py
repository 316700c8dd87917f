"""Agenda and flight-ranking conflicts read the warm calendar a sync filled (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from mcos.brain.reducer import reduce
from mcos.calendar.busy import busy_on_dates
from mcos.calendar.ics import parse_ics
from mcos.calendar.window import sync_window
from mcos.kernel.models import BrainState, CalendarSyncedPayload, Event
from mcos.skills.agenda import agenda
from mcos.skills.flights import busy_intervals
from tests.support.calendar_sync import base_day, build_sync_ics, weekly_dates

NY = ZoneInfo("America/New_York")


def synced_state() -> BrainState:
    window = sync_window(datetime.now(UTC))
    events = parse_ics(build_sync_ics(), window, "ics")
    payload = CalendarSyncedPayload(source="ics", upserts=events, window=window)
    event = Event(
        event_id="evt_" + "1" * 32,
        type="calendar.synced",
        payload=payload.model_dump(mode="json"),
        timestamp=datetime.now(UTC),
    )
    return reduce(BrainState(user_id="u"), event)


def _titles(data: dict) -> list[str]:
    return [e["title"] for e in data["events"]]


def test_agenda_lists_synced_instances_in_the_users_zone() -> None:
    state = synced_state()
    weeks = weekly_dates(base_day())
    on_first = datetime.combine(weeks[0], datetime.min.time(), NY) + timedelta(hours=8)
    assert _titles(agenda(state, on_first, "America/New_York", "today")) == ["Weekly stand-up"]
    on_excluded = datetime.combine(weeks[1], datetime.min.time(), NY) + timedelta(hours=8)
    assert _titles(agenda(state, on_excluded, "America/New_York", "today")) == []
    week_of_move = datetime.combine(weeks[3], datetime.min.time(), NY) + timedelta(hours=8)
    # The moved instance left its Monday slot (the conference spans that day) for Tuesday.
    assert _titles(agenda(state, week_of_move, "America/New_York", "today")) == [
        "Cloud Native Conference"
    ]
    titles = _titles(agenda(state, week_of_move, "America/New_York", "tomorrow"))
    assert titles == ["Cloud Native Conference", "Weekly stand-up (moved)"]
    # The all-day trip shows on each of its dates, whatever the user's zone.
    trip_day = base_day() + timedelta(days=12)
    for tz in ("America/Los_Angeles", "Asia/Tokyo"):
        noon = datetime.combine(trip_day, datetime.min.time(), ZoneInfo(tz)) + timedelta(hours=12)
        assert "Trip to Paris" in _titles(agenda(state, noon, tz, "today"))


def test_busy_intervals_are_in_the_departure_airports_local_time() -> None:
    state = synced_state()
    day = weekly_dates(base_day())[0]
    busy = busy_intervals(
        state, {"origin": "JFK", "destination": "CDG", "departure_date": day.isoformat()}
    )
    assert len(busy) == 1
    start = datetime.fromisoformat(busy[0][0])
    assert (start.date(), start.hour, start.minute) == (day, 10, 0)  # 10:00 in New York
    # The ranker compares wall-clock times: the stand-up blocks a 10:15 departure.
    assert start.replace(tzinfo=None) <= datetime.combine(day, datetime.min.time()) + timedelta(
        hours=10, minutes=15
    )


def test_multi_day_conference_blocks_its_middle_day_and_all_day_trips_do_not() -> None:
    state = synced_state()
    conf_middle = base_day() + timedelta(days=21)
    busy = busy_intervals(
        state, {"origin": "LHR", "destination": "SFO", "departure_date": conf_middle.isoformat()}
    )
    assert len(busy) == 1 and datetime.fromisoformat(busy[0][0]).hour == 9  # 09:00 London
    paris_day = base_day() + timedelta(days=11)
    assert (
        busy_intervals(
            state, {"origin": "CDG", "destination": "SFO", "departure_date": paris_day.isoformat()}
        )
        == []
    )


def test_return_day_uses_the_destination_zone_and_unknown_airports_fall_back_to_utc() -> None:
    state = synced_state()
    day = weekly_dates(base_day())[2]
    busy = busy_on_dates(state.calendar.values(), [(day.isoformat(), "America/New_York")])
    assert [datetime.fromisoformat(b[0]).hour for b in busy] == [10]
    via_return = busy_intervals(
        state,
        {
            "origin": "SFO",
            "destination": "JFK",
            "departure_date": (day - timedelta(days=3)).isoformat(),
            "return_date": day.isoformat(),
        },
    )
    assert via_return == busy
    utc = busy_intervals(state, {"origin": "???", "departure_date": day.isoformat()})
    assert datetime.fromisoformat(utc[0][0]).utcoffset() == timedelta(0)
