"""The pure reducer, without Temporal."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mcos.brain.reducer import fold, reduce
from mcos.kernel.ids import new_id
from mcos.kernel.models import BrainState, Event, EventType

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def ev(type_: EventType, payload: dict, minutes: int = 0, seq: int = 0) -> Event:
    return Event(
        event_id=new_id("evt"),
        type=type_,
        payload=payload,
        timestamp=T0 + timedelta(minutes=minutes),
        seq=seq,
    )


def msg(text: str, minutes: int = 0) -> Event:
    return ev("user.message", {"message_id": new_id("msg"), "text": text}, minutes)


def task(title: str, tid: str | None = None, **kw: Any) -> Event:
    return ev("task.created", {"id": tid or new_id("task"), "title": title, **kw})


def test_events_apply_in_order_with_seq_and_counters() -> None:
    s = fold(BrainState(user_id="u"), [msg("hi"), msg("there", 1)])
    assert [m.text for m in s.messages] == ["hi", "there"]
    assert s.seq == 2 and s.counters.events_applied == 2 and s.counters.messages_total == 2
    assert s.counters.usage.writes == 2 and s.counters.usage.day == "2026-11-20"
    assert s.last_activity == T0 + timedelta(minutes=1)


def test_reduce_never_mutates_its_input() -> None:
    s0 = fold(BrainState(user_id="u"), [msg("a"), task("t")])
    frozen = copy.deepcopy(s0.model_dump())
    tid = next(iter(s0.tasks))
    for e in [
        msg("b"),
        task("t2"),
        ev("task.updated", {"id": tid, "changes": {"status": "done"}}),
        ev("task.deleted", {"id": tid}),
        ev("preference.set", {"key": "seat", "value": "aisle"}),
        ev("messages.archived", {"ids": [s0.messages[0].id], "count": 1}),
    ]:
        reduce(s0, e)
    assert s0.model_dump() == frozen


def test_task_lifecycle() -> None:
    tid = new_id("task")
    s = fold(
        BrainState(user_id="u"),
        [
            task("Write report", tid, priority="high"),
            ev("task.updated", {"id": tid, "changes": {"status": "done", "title": "Report"}}, 5),
        ],
    )
    t = s.tasks[tid]
    assert (t.title, t.status, t.priority) == ("Report", "done", "high")
    assert t.completed_at == T0 + timedelta(minutes=5) and t.created_at == T0
    s = reduce(s, ev("task.updated", {"id": tid, "changes": {"status": "open"}}))
    assert s.tasks[tid].completed_at is None
    s = reduce(s, ev("task.deleted", {"id": tid}))
    assert s.tasks == {}


def test_clear_due_and_unknown_task_are_handled() -> None:
    tid = new_id("task")
    s = fold(BrainState(user_id="u"), [task("x", tid, due="2026-12-01T10:00:00+00:00")])
    s = reduce(s, ev("task.updated", {"id": tid, "changes": {"clear_due": True}}))
    assert s.tasks[tid].due is None
    before = s.tasks
    s = reduce(s, ev("task.updated", {"id": new_id("task"), "changes": {"title": "y"}}))
    assert s.tasks == before and s.seq == 3  # recorded, but changes nothing


def test_preferences_set_and_removed_and_memories_one_per_key() -> None:
    m1, m2 = new_id("mem"), new_id("mem")
    s = fold(
        BrainState(user_id="u"),
        [
            ev("preference.set", {"key": "seat", "value": "aisle"}),
            ev("preference.set", {"key": "home_airport", "value": "SFO"}),
            ev("preference.set", {"key": "seat", "value": None}),
            ev("memory.pinned", {"id": m1, "key": "wife", "value": "Ana"}),
            ev("memory.pinned", {"id": m2, "key": "wife", "value": "Ana Maria"}),
        ],
    )
    assert s.preferences == {"home_airport": "SFO"}
    assert [m.value for m in s.memories.values()] == ["Ana Maria"]
    s = reduce(s, ev("memory.unpinned", {"id": m2}))
    assert s.memories == {}


def test_archival_removes_only_the_named_messages() -> None:
    s = fold(BrainState(user_id="u"), [msg(f"m{i}", i) for i in range(5)])
    ids = [m.id for m in s.messages[:3]]
    s = reduce(s, ev("messages.archived", {"ids": ids, "count": 3}))
    assert [m.text for m in s.messages] == ["m3", "m4"]
    assert s.counters.messages_archived == 3 and s.counters.messages_total == 5


def test_usage_rolls_over_at_utc_midnight_and_counts_tokens() -> None:
    reply = {
        "message_id": new_id("msg"),
        "text": "ok",
        "operation_id": new_id("op"),
        "tokens_prompt": 100,
        "tokens_completion": 20,
    }
    s = fold(BrainState(user_id="u"), [msg("a"), ev("assistant.message", reply, 1)])
    assert s.counters.usage.tokens == 120 and s.counters.usage.writes == 1
    late = ev("user.message", {"message_id": new_id("msg"), "text": "b"}, minutes=15 * 60)
    s = reduce(s, late)  # 2026-11-21 00:00 UTC
    assert s.counters.usage.day == "2026-11-21"
    assert (s.counters.usage.tokens, s.counters.usage.writes) == (0, 1)


def test_flight_searches_are_bounded_and_selection_adds_tasks() -> None:
    searches = [
        ev(
            "flights.searched",
            {"search_id": f"fs_{i}", "request": {}, "options": [{"id": "off_1"}], "ranking": []},
        )
        for i in range(25)
    ]
    s = fold(BrainState(user_id="u"), searches)
    assert len(s.flight_searches) == 20 and s.flight_searches[0].search_id == "fs_5"
    follow = {"id": new_id("task"), "title": "Pack", "source": "flight"}
    s = reduce(
        s,
        ev(
            "flight.selected",
            {"search_id": "fs_24", "flight_id": "off_1", "follow_up_tasks": [follow]},
        ),
    )
    assert s.flight_searches[-1].selected_flight_id == "off_1"
    assert [t.title for t in s.tasks.values()] == ["Pack"]
    assert s.counters.usage.flight_searches == 25


def test_calendar_sync_upserts_deletes_and_prunes_to_window() -> None:
    def cal(i: int, day: int) -> dict:
        start = datetime(2026, 11, day, 10, tzinfo=UTC)
        return {
            "id": f"e{i}",
            "title": f"event {i}",
            "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(),
        }

    window = {"start": "2026-11-19T00:00:00+00:00", "end": "2026-11-30T00:00:00+00:00"}
    s = reduce(
        BrainState(user_id="u"),
        ev(
            "calendar.synced",
            {"source": "ics", "upserts": [cal(1, 20), cal(2, 21), cal(3, 10)], "window": window},
        ),
    )
    assert list(s.calendar) == ["e1", "e2"]  # e3 ended before the window
    s = reduce(
        s, ev("calendar.synced", {"source": "ics", "deletes": ["e1"], "upserts": [cal(4, 22)]})
    )
    assert list(s.calendar) == ["e2", "e4"]


def test_replaying_the_event_window_over_its_starting_state_gives_the_live_state() -> None:
    events = [msg("a"), task("t"), ev("preference.set", {"key": "k", "value": 1}), msg("b", 2)]
    start = fold(BrainState(user_id="u"), events[:2])
    live = fold(start, events[2:])
    assert fold(BrainState(user_id="u"), events) == live


@pytest.mark.parametrize(
    "bad",
    [
        ("user.message", {"text": "no id"}),
        ("task.created", {"id": "nope", "title": "x"}),
        ("task.updated", {"id": "task_" + "0" * 32, "changes": {"priority": "urgent"}}),
    ],
)
def test_malformed_payloads_raise(bad: tuple[EventType, dict]) -> None:
    with pytest.raises(ValueError):
        reduce(BrainState(user_id="u"), ev(*bad))
