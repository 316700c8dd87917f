from __future__ import annotations

from datetime import UTC, datetime

from mcos.calendar.diff import diff_calendar
from mcos.calendar.ics import parse_ics
from mcos.kernel.models import CalendarEvent, CalendarWindow

from .conftest import MARCH, build_ics


def state_of(events: list[CalendarEvent]) -> dict[str, CalendarEvent]:
    return {e.id: e for e in events}


def test_first_sync_upserts_everything(ics_bytes: bytes) -> None:
    fetched = parse_ics(ics_bytes, MARCH)
    upserts, deletes = diff_calendar({}, fetched, MARCH, "ics")
    assert [e.id for e in upserts] == [e.id for e in fetched]
    assert len(upserts) == 10
    assert deletes == []


def test_unchanged_file_gives_empty_diff(ics_bytes: bytes) -> None:
    current = state_of(parse_ics(ics_bytes, MARCH))
    # Round-trip through JSON, as the brain's state does in Temporal.
    current = {
        k: CalendarEvent.model_validate_json(v.model_dump_json()) for k, v in current.items()
    }
    assert diff_calendar(current, parse_ics(build_ics(), MARCH), MARCH, "ics") == ([], [])


def test_renamed_event_is_the_only_upsert(ics_bytes: bytes) -> None:
    current = state_of(parse_ics(ics_bytes, MARCH))
    fetched = parse_ics(build_ics(tokyo_title="Call with Osaka team"), MARCH)
    upserts, deletes = diff_calendar(current, fetched, MARCH, "ics")
    assert [(e.id, e.title) for e in upserts] == [("tokyo-call@test", "Call with Osaka team")]
    assert deletes == []


def test_new_exdate_is_the_only_delete(ics_bytes: bytes) -> None:
    current = state_of(parse_ics(ics_bytes, MARCH))
    fetched = parse_ics(build_ics(weekly_exdates=("20250317T100000", "20250331T100000")), MARCH)
    assert diff_calendar(current, fetched, MARCH, "ics") == (
        [],
        ["weekly-1@test@2025-03-31T14:00:00Z"],
    )


def test_deletes_spare_other_sources_and_events_outside_window(ics_bytes: bytes) -> None:
    current = state_of(parse_ics(ics_bytes, MARCH))
    api_event = CalendarEvent(
        id="api-1", source="api", title="Added by hand",
        start=datetime(2025, 3, 20, 9, tzinfo=UTC), end=datetime(2025, 3, 20, 10, tzinfo=UTC),
    )  # fmt: skip
    old_event = CalendarEvent(
        id="old@test", source="ics", title="Last year",
        start=datetime(2024, 3, 20, 9, tzinfo=UTC), end=datetime(2024, 3, 20, 10, tzinfo=UTC),
    )  # fmt: skip
    gone = CalendarEvent(
        id="gone@test", source="ics", title="Removed from feed",
        start=datetime(2025, 3, 20, 9, tzinfo=UTC), end=datetime(2025, 3, 20, 10, tzinfo=UTC),
    )  # fmt: skip
    current |= {"api-1": api_event, "old@test": old_event, "gone@test": gone}
    upserts, deletes = diff_calendar(current, parse_ics(ics_bytes, MARCH), MARCH, "ics")
    assert upserts == []
    assert deletes == ["gone@test"]


def test_moved_instance_is_an_update_of_the_same_id(ics_bytes: bytes) -> None:
    current = state_of(parse_ics(ics_bytes, MARCH))
    moved_again = build_ics().replace(b"20250325T13", b"20250326T13")
    upserts, deletes = diff_calendar(current, parse_ics(moved_again, MARCH), MARCH, "ics")
    assert [(e.id, e.start) for e in upserts] == [
        ("weekly-1@test@2025-03-24T14:00:00Z", datetime(2025, 3, 26, 17, tzinfo=UTC))
    ]
    assert deletes == []


def test_partial_window_only_deletes_inside_it(ics_bytes: bytes) -> None:
    current = state_of(parse_ics(ics_bytes, MARCH))
    first_week = CalendarWindow(
        start=datetime(2025, 3, 1, tzinfo=UTC), end=datetime(2025, 3, 8, tzinfo=UTC)
    )
    upserts, deletes = diff_calendar(current, [], first_week, "ics")
    assert upserts == []
    assert deletes == ["custom-zone@test", "tokyo-call@test", "weekly-1@test@2025-03-03T15:00:00Z"]
