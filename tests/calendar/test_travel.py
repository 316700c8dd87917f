from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime

import pytest

from mcos.calendar.ics import parse_ics
from mcos.calendar.travel import MIN_CONFIDENCE, detect_travel
from mcos.kernel.models import CalendarEvent

from .conftest import MARCH


def event(
    title: str, location: str | None = None, *, days: int = 0, all_day: bool = False
) -> CalendarEvent:
    start = (
        datetime(2025, 3, 3, 17, tzinfo=UTC) if not all_day else datetime(2025, 3, 3, tzinfo=UTC)
    )
    end = start.replace(hour=18) if not days else start.replace(day=3 + days)
    return CalendarEvent(
        id=f"ev-{title}", title=title, location=location, start=start, end=end, all_day=all_day
    )


@pytest.fixture
def march_events(ics_bytes: bytes) -> list[CalendarEvent]:
    return parse_ics(ics_bytes, MARCH)


@pytest.mark.parametrize("home", ["SFO", "San Francisco", "San Francisco, CA"])
def test_fixture_calendar_yields_paris_trip_and_london_conference(
    march_events: list[CalendarEvent], home: str
) -> None:
    found = detect_travel(march_events, home)

    assert [t.calendar_event_id for t in found] == ["paris-trip@test", "kubecon@test"]
    paris, london = found
    assert paris.destination == "Paris"
    assert paris.confidence >= 0.9
    assert (paris.start_date, paris.end_date) == (date(2025, 3, 10), date(2025, 3, 14))
    assert paris.reasons == [
        "title mentions 'trip'",
        "title names Paris, away from home (San Francisco)",
        "spans 5 days",
    ]
    assert paris.id == "trv_" + hashlib.sha256(b"paris-trip@test").hexdigest()[:32]
    assert paris.title == "Trip to Paris"
    assert london.destination == "London"
    assert london.confidence >= 0.9
    assert (london.start_date, london.end_date) == (date(2025, 3, 19), date(2025, 3, 21))
    assert "location names London, away from home (San Francisco)" in london.reasons


def test_local_and_remote_meetings_are_not_travel(march_events: list[CalendarEvent]) -> None:
    found_ids = {t.calendar_event_id for t in detect_travel(march_events, "SFO")}
    assert "team-sync@test" not in found_ids
    assert "tokyo-call@test" not in found_ids  # a city only mentioned, no travel signal
    assert not any(i.startswith("weekly-1@test") for i in found_ids)


def test_detection_is_deterministic_and_order_independent(
    march_events: list[CalendarEvent],
) -> None:
    first = detect_travel(march_events, "SFO")
    assert detect_travel(list(reversed(march_events)), "SFO") == first
    assert detect_travel(march_events, "SFO") == first


def test_trip_to_home_city_is_not_travel(march_events: list[CalendarEvent]) -> None:
    found = detect_travel(march_events, "CDG")  # home is Paris
    # From Paris, the San Francisco meeting is the one away (a meeting in another city).
    assert [t.calendar_event_id for t in found] == ["team-sync@test", "kubecon@test"]
    assert found[0].destination == "San Francisco"
    assert found[0].confidence == pytest.approx(0.4)


def test_unknown_home_still_finds_trip_with_lower_confidence(
    march_events: list[CalendarEvent],
) -> None:
    with_home = {t.calendar_event_id: t.confidence for t in detect_travel(march_events, "SFO")}
    without = {t.calendar_event_id: t.confidence for t in detect_travel(march_events, None)}
    assert without["paris-trip@test"] < with_home["paris-trip@test"]
    assert without["paris-trip@test"] >= 0.8


@pytest.mark.parametrize(
    ("title", "location", "destination"),
    [
        ("Flight SFO → JFK", None, "JFK"),
        ("Offsite in Berlin", None, "Berlin"),
        ("Sales summit", "Hilton Chicago, 720 S Michigan Ave, Chicago, IL", "Chicago"),
        ("Visit grandma", None, None),
        ("Trip to Nice", None, "Nice"),
    ],
)
def test_travel_examples(title: str, location: str | None, destination: str | None) -> None:
    [found] = detect_travel([event(title, location)], "SFO")
    assert found.destination == destination
    assert MIN_CONFIDENCE <= found.confidence <= 1


@pytest.mark.parametrize(
    ("title", "location"),
    [
        ("Conference call with Bob", None),
        ("Team lunch", "Oakland"),  # within 100 km of SFO
        ("Tech conference", "Moscone Center, 747 Howard St, San Francisco, CA"),
        ("Nice dinner", None),
        ("Reading group", None),
        ("Holiday", None),
    ],
)
def test_not_travel_examples(title: str, location: str | None) -> None:
    assert detect_travel([event(title, location)], "SFO") == []


def test_multi_day_away_event_without_keyword() -> None:
    [found] = detect_travel([event("Board meeting", "London, UK", days=2)], "SFO")
    assert found.destination == "London"
    assert found.confidence == pytest.approx(0.6)
    assert found.reasons[-1] == "spans 3 days"
