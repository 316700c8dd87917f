"""The offline model's date/time grammar, with a fixed clock and zone."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from mcos.skills.when import extract_when, local_now

TZ = ZoneInfo("America/Los_Angeles")
TUESDAY = datetime(2026, 11, 24, 10, 0, tzinfo=TZ)  # Tuesday 24 Nov 2026, 10:00
FRIDAY = datetime(2026, 11, 27, 9, 0, tzinfo=TZ)
SATURDAY = datetime(2026, 11, 28, 9, 0, tzinfo=TZ)
SUNDAY = datetime(2026, 11, 29, 9, 0, tzinfo=TZ)


@pytest.mark.parametrize(
    ("now", "phrase", "expected"),
    [
        # Said on a Tuesday: "Friday"/"this Friday" are in three days, "next Friday" in ten.
        (TUESDAY, "friday", date(2026, 11, 27)),
        (TUESDAY, "on Friday", date(2026, 11, 27)),
        (TUESDAY, "this friday", date(2026, 11, 27)),
        (TUESDAY, "next friday", date(2026, 12, 4)),
        (TUESDAY, "next tuesday", date(2026, 12, 1)),
        (TUESDAY, "next monday", date(2026, 11, 30)),
        (TUESDAY, "tuesday", date(2026, 12, 1)),
        (TUESDAY, "this tuesday", date(2026, 11, 24)),
        # On the weekday itself: bare and "next" are a week later, "this" is today.
        (FRIDAY, "friday", date(2026, 12, 4)),
        (FRIDAY, "next friday", date(2026, 12, 4)),
        (FRIDAY, "this friday", date(2026, 11, 27)),
        # At the weekend "next" is still next week's (weeks start on Monday).
        (SATURDAY, "next friday", date(2026, 12, 4)),
        (SUNDAY, "next friday", date(2026, 12, 4)),
        (SUNDAY, "friday", date(2026, 12, 4)),
        (SATURDAY, "monday", date(2026, 11, 30)),
        (TUESDAY, "next week", date(2026, 11, 30)),
        (TUESDAY, "end of the week", date(2026, 11, 27)),
        (SATURDAY, "end of the week", date(2026, 11, 28)),
        (TUESDAY, "this weekend", date(2026, 11, 28)),
        (SUNDAY, "weekend", date(2026, 11, 29)),
        (TUESDAY, "tomorrow", date(2026, 11, 25)),
        (TUESDAY, "the day after tomorrow", date(2026, 11, 26)),
        (TUESDAY, "in 3 days", date(2026, 11, 27)),
        (TUESDAY, "in two weeks", date(2026, 12, 8)),
        (TUESDAY, "Dec 3", date(2026, 12, 3)),
        (TUESDAY, "3rd of December", date(2026, 12, 3)),
        (TUESDAY, "Nov 20", date(2027, 11, 20)),  # passed this year: next year
        (TUESDAY, "12/3/2027", date(2027, 12, 3)),
    ],
)
def test_dates(now: datetime, phrase: str, expected: date) -> None:
    assert extract_when(phrase, now).date == expected


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        ("tomorrow at 3pm", datetime(2026, 11, 25, 15, 0, tzinfo=TZ)),
        ("tomorrow at 3:30 p.m.", datetime(2026, 11, 25, 15, 30, tzinfo=TZ)),
        ("friday 15:00", datetime(2026, 11, 27, 15, 0, tzinfo=TZ)),
        ("tonight", datetime(2026, 11, 24, 20, 0, tzinfo=TZ)),
        ("tonight at 8", datetime(2026, 11, 24, 20, 0, tzinfo=TZ)),
        ("tomorrow morning at 7", datetime(2026, 11, 25, 7, 0, tzinfo=TZ)),
        ("at 4", datetime(2026, 11, 24, 16, 0, tzinfo=TZ)),  # 1–6 without am/pm: PM
        ("at 9", datetime(2026, 11, 25, 9, 0, tzinfo=TZ)),  # 9 AM has passed: tomorrow
        ("at 11am", datetime(2026, 11, 24, 11, 0, tzinfo=TZ)),
        ("by midnight", datetime(2026, 11, 24, 23, 59, tzinfo=TZ)),
        ("next friday", datetime(2026, 12, 4, 17, 0, tzinfo=TZ)),  # a date alone: 17:00
        ("in 2 hours", datetime(2026, 11, 24, 12, 0, tzinfo=TZ)),
        ("in 30 minutes", datetime(2026, 11, 24, 10, 30, tzinfo=TZ)),
        ("in an hour", datetime(2026, 11, 24, 11, 0, tzinfo=TZ)),
    ],
)
def test_due_times(phrase: str, expected: datetime) -> None:
    assert extract_when(phrase, TUESDAY).due(TUESDAY) == expected


@pytest.mark.parametrize(
    ("phrase", "minutes"),
    [("for 30 minutes", 30), ("for an hour", 60), ("for 1.5 hours", 90), ("for half an hour", 30)],
)
def test_durations(phrase: str, minutes: int) -> None:
    assert extract_when(f"review the deck {phrase}", TUESDAY).duration_minutes == minutes


def test_the_rest_is_the_text_without_the_phrases() -> None:
    when = extract_when("call John tomorrow at 3pm for 30 minutes", TUESDAY)
    assert when.rest == "call John"


def test_time_zone_of_now_decides_today() -> None:
    now = datetime(2026, 11, 26, 7, 0, tzinfo=ZoneInfo("UTC"))  # the 25th in LA, 26th in Tokyo
    assert extract_when("tomorrow", local_now(now, "America/Los_Angeles")).date == date(
        2026, 11, 26
    )
    assert extract_when("tomorrow", local_now(now, "Asia/Tokyo")).date == date(2026, 11, 27)


def test_moving_keeps_the_day_for_a_time_and_the_time_for_a_day() -> None:
    current = datetime(2026, 11, 25, 15, 0, tzinfo=TZ)  # tomorrow 3pm
    assert extract_when("4pm", TUESDAY).moved(current, TUESDAY) == current.replace(hour=16)
    assert extract_when("friday", TUESDAY).moved(current, TUESDAY) == datetime(
        2026, 11, 27, 15, 0, tzinfo=TZ
    )
    assert extract_when("friday at 9am", TUESDAY).moved(current, TUESDAY) == datetime(
        2026, 11, 27, 9, 0, tzinfo=TZ
    )
    # Nothing to keep: the usual rules.
    assert extract_when("4pm", TUESDAY).moved(None, TUESDAY) == datetime(
        2026, 11, 24, 16, 0, tzinfo=TZ
    )


def test_invalid_dates_are_ignored_and_kept_in_the_text() -> None:
    when = extract_when("buy milk Feb 30", TUESDAY)
    assert when.date is None and not when.found
    assert "Feb 30" in when.rest


def test_words_that_look_like_weekday_abbreviations_are_not_dates() -> None:
    assert extract_when("buy sun cream", TUESDAY).date is None
    assert extract_when("I sat down", TUESDAY).date is None
    due = extract_when("friday", TUESDAY).due(TUESDAY)
    assert due is not None and due.time() == time(17)
