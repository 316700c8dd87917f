# ruff: noqa: E501  (the table reads best one case a line)
"""The offline model's recognisers (through the registry): text → tool call, with a fixed
clock.

NOW is Wednesday 2026-11-25 10:00 in America/Los_Angeles (UTC-8).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from mcos.llm.tools import make_tool_call
from mcos.skills.base import Conversation, Intent, Say
from mcos.skills.registry import REGISTRY
from mcos.skills.when import local_now

TZ = "America/Los_Angeles"
NOW = datetime(2026, 11, 25, 18, 0, tzinfo=ZoneInfo("UTC"))  # 10:00 local, a Wednesday


def conversation(now: datetime = NOW, tz: str = TZ, **kw: Any) -> Conversation:
    return Conversation(now=local_now(now, tz), timezone=tz, **kw)


def recognize(text: str, now: datetime = NOW, tz: str = TZ, **kw: Any) -> list[Any]:
    """The tool calls the offline model makes for ``text`` (none when it asks instead)."""
    found = REGISTRY.recognise(text, conversation(now, tz, **kw))
    return [
        make_tool_call(f.name, f.arguments, i) for i, f in enumerate(found) if isinstance(f, Intent)
    ]


def said(text: str, **kw: Any) -> list[str]:
    return [f.text for f in REGISTRY.recognise(text, conversation(**kw)) if isinstance(f, Say)]


def task(title: str, due: str | None, priority: str = "normal", **extra: Any) -> tuple:
    return ("create_task", {"title": title, "due": due, "priority": priority, **extra})


CASES: list[tuple[str, tuple[str, dict[str, Any]] | None]] = [
    # create_task
    ("Remind me to call John tomorrow at 3pm", task("Call John", "2026-11-26T15:00:00-08:00")),
    ("I need to send the report by Friday", task("Send the report", "2026-11-27T17:00:00-08:00")),
    ("remind me to pay the rent asap", task("Pay the rent", None, "high")),
    ("Urgent: remind me to pay rent tonight at 8", task("Pay rent", "2026-11-25T20:00:00-08:00", "high")),
    ("I need to send the report by Friday, it's urgent",
     task("Send the report", "2026-11-27T17:00:00-08:00", "high")),
    ("Remind me to water the plants, no rush", task("Water the plants", None, "low")),
    ("remind me at 5pm to call the bank", task("Call the bank", "2026-11-25T17:00:00-08:00")),
    ("remind me at 9am to call the bank", task("Call the bank", "2026-11-26T09:00:00-08:00")),
    ("Please remind me to email Sarah on December 3rd at 10:30am",
     task("Email Sarah", "2026-12-03T10:30:00-08:00")),
    ("remind me to submit taxes 2026-12-15 at 09:00", task("Submit taxes", "2026-12-15T09:00:00-08:00")),
    ("remind me to buy milk 12/3 at 9", task("Buy milk", "2026-12-03T09:00:00-08:00")),
    ("remind me to call the vet at 4", task("Call the vet", "2026-11-25T16:00:00-08:00")),
    ("remind me to renew my passport on 3 Jan", task("Renew my passport", "2027-01-03T17:00:00-08:00")),
    ("remind me to file the claim Nov 20", task("File the claim", "2027-11-20T17:00:00-08:00")),
    ("Remind me to stretch in 2 hours", task("Stretch", "2026-11-25T12:00:00-08:00")),
    ("Remind me to call mom in 3 days", task("Call mom", "2026-11-28T17:00:00-08:00")),
    ("Remind me to renew passport in 2 weeks", task("Renew passport", "2026-12-09T17:00:00-08:00")),
    ("remind me to call dad this Wednesday", task("Call dad", "2026-11-25T17:00:00-08:00")),
    ("remind me to call dad on wednesday", task("Call dad", "2026-12-02T17:00:00-08:00")),
    ("remind me to call dad next wednesday", task("Call dad", "2026-12-02T17:00:00-08:00")),
    # "next Friday" is the Friday of next week (changed on purpose: it was in two days).
    ("remind me to call dad next friday", task("Call dad", "2026-12-04T17:00:00-08:00")),
    ("remind me to call dad friday", task("Call dad", "2026-11-27T17:00:00-08:00")),
    ("remind me to plan the offsite next week", task("Plan the offsite", "2026-11-30T17:00:00-08:00")),
    ("remind me to prep the talk end of week", task("Prep the talk", "2026-11-27T17:00:00-08:00")),
    ("remind me to lock up at midnight", task("Lock up", "2026-11-25T23:59:00-08:00")),
    ("remind me to eat lunch at noon tomorrow", task("Eat lunch", "2026-11-26T12:00:00-08:00")),
    ("remind me to run the day after tomorrow in the morning",
     task("Run", "2026-11-27T09:00:00-08:00")),
    ("Block time to review the deck tomorrow morning for 30 minutes",
     task("Review the deck", "2026-11-26T09:00:00-08:00", duration_minutes=30)),
    ("remind me to review the deck tomorrow for an hour at 2pm",
     task("Review the deck", "2026-11-26T14:00:00-08:00", duration_minutes=60)),
    ("add buy milk to my list", task("Buy milk", None)),
    ("todo: water plants this Friday", task("Water plants", "2026-11-27T17:00:00-08:00")),
    ("don't forget to buy eggs", task("Buy eggs", None)),
    ("Add a task to book the venue by Dec 1", task("Book the venue", "2026-12-01T17:00:00-08:00")),
    # update_task
    ("mark the report done", ("update_task", {"title_query": "report", "status": "done"})),
    ("Mark call John as done.", ("update_task", {"title_query": "call John", "status": "done"})),
    ("I finished the report", ("update_task", {"title_query": "report", "status": "done"})),
    ("I've completed the budget review", ("update_task", {"title_query": "budget review", "status": "done"})),
    ("complete the report task", ("update_task", {"title_query": "report", "status": "done"})),
    ("the report is done", ("update_task", {"title_query": "report", "status": "done"})),
    ("Reopen the report task", ("update_task", {"title_query": "report", "status": "open"})),
    ("move the dentist task to Monday at 10am",
     ("update_task", {"title_query": "dentist", "due": "2026-11-30T10:00:00-08:00"})),
    ("make the report high priority", ("update_task", {"title_query": "report", "priority": "high"})),
    # summarize_agenda
    ("What's on my agenda today?", ("summarize_agenda", {"range": "today"})),
    ("What's on my agenda this week?", ("summarize_agenda", {"range": "week"})),
    ("this week", ("summarize_agenda", {"range": "week"})),
    ("Summarize my week", ("summarize_agenda", {"range": "week"})),
    ("what do I have tomorrow", ("summarize_agenda", {"range": "tomorrow"})),
    ("How does my day look?", ("summarize_agenda", {"range": "today"})),
    # set_preference
    ("My home airport is SFO", ("set_preference", {"key": "home_airport", "value": "SFO"})),
    ("my home airport is jfk", ("set_preference", {"key": "home_airport", "value": "JFK"})),
    ("I fly out of Oakland", ("set_preference", {"key": "home_airport", "value": "Oakland"})),
    ("I prefer non-stop flights", ("set_preference", {"key": "prefer_nonstop", "value": True})),
    ("I prefer direct flights", ("set_preference", {"key": "prefer_nonstop", "value": True})),
    ("I don't mind layovers", ("set_preference", {"key": "prefer_nonstop", "value": False})),
    ("I prefer aisle seats", ("set_preference", {"key": "seat", "value": "aisle"})),
    ("I always want a window seat", ("set_preference", {"key": "seat", "value": "window"})),
    ("I prefer business class", ("set_preference", {"key": "cabin_class", "value": "business"})),
    ("I prefer premium economy", ("set_preference", {"key": "cabin_class", "value": "premium_economy"})),
    ("my budget is $500", ("set_preference", {"key": "budget", "value": 500})),
    ("My budget is about $1,250.50", ("set_preference", {"key": "budget", "value": 1250.5})),
    ("My favorite airline is Alaska", ("set_preference", {"key": "preferred_airline", "value": "Alaska"})),
    # pin_memory
    ("remember that my wife's name is Ana",
     ("pin_memory", {"key": "wife_name", "value": "Ana", "type": "fact"})),
    ("Remember my passport number is X123", 
     ("pin_memory", {"key": "passport_number", "value": "X123", "type": "fact"})),
    ("remember that I'm allergic to peanuts",
     ("pin_memory", {"key": "im_allergic_to_peanuts", "value": "I'm allergic to peanuts",
                     "type": "fact"})),
    ("remember I prefer vegetarian meals",
     ("pin_memory", {"key": "i_prefer_vegetarian_meals", "value": "I prefer vegetarian meals",
                     "type": "preference"})),
    ("note: the wifi password is hunter2",
     ("pin_memory", {"key": "wifi_password", "value": "hunter2", "type": "note"})),
    # search_flights
    ("Find flights to Boston next Friday",
     ("search_flights", {"destination": "Boston", "departure_date": "2026-12-04"})),
    ("Find flights to Boston on Friday",
     ("search_flights", {"destination": "Boston", "departure_date": "2026-11-27"})),
    ("flights from SFO to JFK on 2026-12-03, returning Dec 7",
     ("search_flights", {"origin": "SFO", "destination": "JFK", "departure_date": "2026-12-03",
                         "return_date": "2026-12-07"})),
    ("flights to Paris from Dec 3 to Dec 7",
     ("search_flights", {"destination": "Paris", "departure_date": "2026-12-03",
                         "return_date": "2026-12-07"})),
    ("i want to fly to rome the day after tomorrow",
     ("search_flights", {"destination": "Rome", "departure_date": "2026-11-27"})),
    ("Book a flight to Seattle tomorrow",
     ("search_flights", {"destination": "Seattle", "departure_date": "2026-11-26"})),
    ("Find flights to new york from boston on Dec 3 for a week, business class, nonstop, for 2 adults",
     ("search_flights", {"origin": "Boston", "destination": "New York",
                         "departure_date": "2026-12-03", "return_date": "2026-12-10",
                         "cabin_class": "business", "adults": 2, "max_connections": 0})),
    ("any flights to lax in 3 days?",
     ("search_flights", {"destination": "LAX", "departure_date": "2026-11-28"})),
    # select_flight
    ("book the first one", ("select_flight", {"option_rank": 1})),
    ("select option 2", ("select_flight", {"option_rank": 2})),
    ("I'll take the second one", ("select_flight", {"option_rank": 2})),
    ("Let's go with the 3rd option", ("select_flight", {"option_rank": 3})),
    ("book off_abc123", ("select_flight", {"flight_id": "off_abc123"})),
    ("choose option 1 from fs_42", ("select_flight", {"search_id": "fs_42", "option_rank": 1})),
    # not a skill
    ("Hello there", None),
    ("I need help", None),
    ("What's the weather like?", None),
    ("Can you help me plan a trip?", None),
    ("Tell me a joke", None),
    ("", None),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0][:50] or "empty" for c in CASES])
def test_intent_table(text: str, expected: tuple[str, dict[str, Any]] | None) -> None:
    calls = recognize(text)
    if expected is None:
        assert calls == []
        return
    assert [(c.name, c.arguments) for c in calls] == [expected]
    # Whatever the offline model emits passes the same validation real models' calls do.
    name, arguments = expected
    assert REGISTRY.validate(name, arguments) == arguments


@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("Find flights to Paris", "When would you like to fly to Paris?"),
        ("fly to London on 2024-01-01", "2024-01-01 is in the past."),
        (
            "flights from SFO to LAX on 12/24 returning 12/20",
            "The return date is before the departure date.",
        ),
    ],  # fmt: skip
)
def test_incomplete_or_invalid_flight_requests_make_no_call(text: str, question: str) -> None:
    [answer] = said(text)
    assert question in answer
    assert recognize(text) == []


def test_same_input_same_call_id() -> None:
    first = recognize("Remind me to call John tomorrow at 3pm")
    again = recognize("Remind me to call John tomorrow at 3pm")
    assert first == again and first[0].id.startswith("call_")


def test_time_zone_decides_the_date() -> None:
    # 2026-11-26 07:00 UTC is still the 25th in Los Angeles but the 26th in Tokyo.
    now = datetime(2026, 11, 26, 7, 0, tzinfo=ZoneInfo("UTC"))
    la = recognize("remind me to call John tomorrow at 3pm", now, "America/Los_Angeles")
    tokyo = recognize("remind me to call John tomorrow at 3pm", now, "Asia/Tokyo")
    assert la[0].arguments["due"] == "2026-11-26T15:00:00-08:00"
    assert tokyo[0].arguments["due"] == "2026-11-27T15:00:00+09:00"
