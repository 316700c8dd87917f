"""The skills' pure side: prompts carry what chat taught us; tools' results and events."""

from __future__ import annotations

import itertools
import json
import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from mcos.brain.reducer import reduce
from mcos.kernel.contracts import Turn
from mcos.kernel.models import BrainState, Event, Memory, Message
from mcos.llm.prompt import SYSTEM_PROMPT
from mcos.skills import core as skills
from mcos.skills.agenda import agenda

NOW = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)  # Wednesday 10:00 in Los Angeles
_n = itertools.count()


def new_id(prefix: str) -> str:
    return f"{prefix}_{next(_n):032x}"


def state() -> BrainState:
    return BrainState(
        user_id="u-1",
        preferences={
            "timezone": "America/Los_Angeles",
            "home_airport": "SFO",
            "prefer_nonstop": True,
        },
        memories={
            "mem_1": Memory(id="mem_" + "1" * 32, key="passport", value="expires March 2027")
        },
        messages=[
            Message(id="msg_a", role="user", text="My home airport is SFO", created_at=NOW),
            Message(id="msg_b", role="assistant", text="Got it", created_at=NOW),
            Message(id="msg_c", role="user", text="Find flights to Boston", created_at=NOW),
        ],
    )


def _block(content: str, name: str) -> Any:
    m = re.search(rf"<<<{name}\n(.*?)\n>>>", content, re.DOTALL)
    assert m, f"no {name} block"
    return json.loads(m.group(1))


def test_build_prompt_carries_preferences_memories_local_time_and_history() -> None:
    turn = Turn(message_id="msg_c", event_id="evt_x", text="Find flights to Boston")
    messages = skills.build_prompt(state(), turn, "UTC", NOW)
    assert messages[0] == {"role": "system", "content": SYSTEM_PROMPT}  # the static prefix
    system = messages[-2]["content"]  # the data that changes, after the history
    assert messages[-2]["role"] == "system"
    prefs = _block(system, "PREFERENCES")
    assert prefs["home_airport"] == "SFO" and prefs["prefer_nonstop"] is True
    assert "expires March 2027" in json.dumps(_block(system, "MEMORIES"))
    context = _block(system, "CONTEXT")
    assert context["now"] == "2026-11-25T10:00-08:00" and context["weekday"] == "Wednesday"
    assert context["timezone"] == "America/Los_Angeles"
    assert [m["role"] for m in messages[1:]] == ["user", "assistant", "system", "user"]
    assert messages[-1]["content"] == "Find flights to Boston"  # the turn, not repeated


def ctx(s: BrainState) -> skills.SkillContext:
    return skills.SkillContext(state=s, now=NOW, timezone="America/Los_Angeles", new_id=new_id)


def test_create_task_with_local_due_and_agenda_reads_it() -> None:
    s = state()
    out = skills.run_state_tool(
        ctx(s), "create_task", {"title": "Call John", "due": "2026-11-26T15:00:00"}
    )
    assert out.status == "success" and out.events[0][0] == "task.created"
    due = datetime.fromisoformat(out.result["task"]["due"])
    assert due == datetime(2026, 11, 26, 15, tzinfo=ZoneInfo("America/Los_Angeles"))
    s = reduce(
        s,
        Event(
            event_id="evt_" + "0" * 32,
            type="task.created",
            payload=out.events[0][1],
            timestamp=NOW,
            seq=1,
        ),
    )
    tomorrow = agenda(s, NOW, "America/Los_Angeles", "tomorrow")
    assert [t["title"] for t in tomorrow["tasks"]] == ["Call John"]
    assert agenda(s, NOW, "America/Los_Angeles", "today")["tasks"] == []


def test_bad_preference_values_are_refused_with_a_message() -> None:
    out = skills.run_state_tool(
        ctx(state()), "set_preference", {"key": "home_airport", "value": "Atlantis Springs"}
    )
    assert out.status == "error" and "Atlantis Springs" in out.result["message"]
    out = skills.run_state_tool(
        ctx(state()), "set_preference", {"key": "timezone", "value": "Mars/Olympus"}
    )
    assert out.status == "error"


def test_follow_up_tasks_are_due_in_the_origin_zone_and_never_overdue() -> None:
    option = {
        "id": "off_1",
        "airline_code": "DL",
        "flight_number": "DL619",
        "origin_code": "SFO",
        "destination_code": "BOS",
        "destination_name": "General Edward Lawrence Logan International Airport",
        "departure_at": "2026-11-27T11:05:00",
    }
    tasks = skills.follow_up_tasks(option, new_id, NOW)
    assert [t["title"] for t in tasks] == [
        "Book flight DL619 SFO→BOS",
        "Pack for Boston",
        "Arrange airport transfer to SFO",
    ]
    departs = datetime(2026, 11, 27, 11, 5, tzinfo=ZoneInfo("America/Los_Angeles"))
    dues = [datetime.fromisoformat(t["due"]) for t in tasks]
    assert all(NOW < d <= departs for d in dues)
    assert dues[1] == departs.replace(day=26) and dues[2] == departs.replace(hour=7)


def test_flight_request_resolves_home_airport_and_refuses_bad_input() -> None:
    req = skills.flight_request(
        state(),
        {"destination": "Boston", "departure_date": "2026-11-27"},
        NOW,
        "America/Los_Angeles",
    )
    assert (req["origin"], req["destination"]) == ("SFO", "BOS")
    for args in (
        {"destination": "Boston", "departure_date": "2026-11-01"},
        {"destination": "Boston", "departure_date": "2026-12-05", "return_date": "2026-12-01"},
        {"destination": "Atlantis Springs", "departure_date": "2026-12-05"},
    ):
        try:
            skills.flight_request(state(), args, NOW, "America/Los_Angeles")
        except skills.SkillInputError as exc:
            assert str(exc)
        else:
            raise AssertionError(f"accepted {args}")
