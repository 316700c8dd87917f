"""An ICS fixture built in code, and the window it is read in."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mcos.kernel.models import CalendarWindow

MARCH = CalendarWindow(start=datetime(2025, 3, 1, tzinfo=UTC), end=datetime(2025, 4, 1, tzinfo=UTC))

CUSTOM_ZONE = """BEGIN:VTIMEZONE
TZID:Custom India
BEGIN:STANDARD
DTSTART:19700101T000000
TZOFFSETFROM:+0530
TZOFFSETTO:+0530
TZNAME:IST
END:STANDARD
END:VTIMEZONE"""


def vevent(*lines: str) -> str:
    return "\n".join(["BEGIN:VEVENT", "DTSTAMP:20250101T000000Z", *lines, "END:VEVENT"])


def build_ics(
    *,
    tokyo_title: str = "Call with Tokyo team",
    weekly_exdates: tuple[str, ...] = ("20250317T100000",),
    extra: tuple[str, ...] = (),
) -> bytes:
    """Weekly meeting (New York time, across the US DST switch) with an EXDATE and a moved
    instance, a multi-day all-day trip, a conference in London, a Tokyo-time call, an event
    in a VTIMEZONE-only zone, a local UTC meeting, a floating event, one event before the
    window and one cancelled."""
    exdates = [f"EXDATE;TZID=America/New_York:{d}" for d in weekly_exdates]
    events = [
        vevent(
            "UID:weekly-1@test",
            "SUMMARY:Weekly sync",
            "DTSTART;TZID=America/New_York:20250303T100000",
            "DTEND;TZID=America/New_York:20250303T103000",
            "RRULE:FREQ=WEEKLY;COUNT=5",
            *exdates,
        ),
        vevent(
            "UID:weekly-1@test",
            "SUMMARY:Weekly sync (moved)",
            "RECURRENCE-ID;TZID=America/New_York:20250324T100000",
            "DTSTART;TZID=America/New_York:20250325T130000",
            "DTEND;TZID=America/New_York:20250325T133000",
            "SEQUENCE:1",
        ),
        vevent(
            "UID:paris-trip@test",
            "SUMMARY:Trip to Paris",
            "DTSTART;VALUE=DATE:20250310",
            "DTEND;VALUE=DATE:20250315",
        ),
        vevent(
            "UID:kubecon@test",
            "SUMMARY:Cloud Native Conference",
            "LOCATION:ExCeL London\\, Royal Victoria Dock\\, London\\, UK",
            "DESCRIPTION:Talks and booth duty",
            "DTSTART;TZID=Europe/London:20250319T090000",
            "DTEND;TZID=Europe/London:20250321T170000",
        ),
        vevent(
            "UID:tokyo-call@test",
            f"SUMMARY:{tokyo_title}",
            "DTSTART;TZID=Asia/Tokyo:20250305T090000",
            "DTEND;TZID=Asia/Tokyo:20250305T100000",
        ),
        vevent(
            "UID:custom-zone@test",
            "SUMMARY:Vendor review",
            "DTSTART;TZID=Custom India:20250307T120000",
            "DTEND;TZID=Custom India:20250307T130000",
        ),
        vevent(
            "UID:team-sync@test",
            "SUMMARY:Team sync",
            "LOCATION:Office\\, San Francisco",
            "DTSTART:20250312T170000Z",
            "DTEND:20250312T180000Z",
        ),
        vevent(
            "UID:dentist@test",
            "SUMMARY:Dentist",
            "DTSTART:20250313T090000",
            "DURATION:PT1H",
        ),
        vevent(
            "UID:february@test",
            "SUMMARY:Before the window",
            "DTSTART:20250210T090000Z",
            "DTEND:20250210T100000Z",
        ),
        vevent(
            "UID:cancelled@test",
            "SUMMARY:Cancelled lunch",
            "STATUS:CANCELLED",
            "DTSTART:20250314T120000Z",
            "DTEND:20250314T130000Z",
        ),
        *extra,
    ]
    text = "\n".join(
        ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//mcos//tests//EN", CUSTOM_ZONE, *events]
        + ["END:VCALENDAR", ""]
    )
    return text.replace("\n", "\r\n").encode()


@pytest.fixture
def ics_bytes() -> bytes:
    return build_ics()
