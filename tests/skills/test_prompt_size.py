"""A plain turn's prompt stays small for a busy user: 20 open tasks, a week of calendar,
a long chat. Only what the turn needs goes in (the agenda tool reads the rest)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from mcos.kernel.contracts import Turn
from mcos.kernel.models import BrainState, CalendarEvent, Message, Task
from mcos.llm.openai_provider import estimate_tokens
from mcos.skills import core
from mcos.skills.tasks import find_task, task_ref

NOW = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)  # 09:00 in Los Angeles
TITLES = ["Call John about the Q1 plan", "Renew passport", "Book dentist", "Send invoice"]


def busy_user() -> BrainState:
    s = BrainState(user_id="u", preferences={"timezone": "America/Los_Angeles"})
    for i in range(20):
        tid = f"task_{i:026x}{i * 7919:06x}"
        s.tasks[tid] = Task(id=tid, title=f"{TITLES[i % 4]} {i}", due=NOW + timedelta(hours=5 * i))
    done = "task_" + "f" * 32
    s.tasks[done] = Task(id=done, title="Old and done", status="done")
    for day in range(7):
        for hour in (17, 21, 24):
            start = NOW.replace(hour=0) + timedelta(days=day, hours=hour)
            eid = f"ev-{day}-{hour}"
            s.calendar[eid] = CalendarEvent(
                id=eid,
                title=f"Team meeting {day}/{hour}",
                start=start,
                end=start + timedelta(hours=1),
            )
    for i in range(40):
        role: Literal["user", "assistant"] = "user" if i % 2 == 0 else "assistant"
        text = "Please move the dentist to Friday afternoon." if role == "user" else "Done."
        s.messages.append(Message(id=f"msg_{i:032x}", role=role, text=text, created_at=NOW))
    return s


def context_of(messages: list[dict[str, Any]]) -> dict[str, Any]:
    m = re.search(r"<<<CONTEXT\n(.*?)\n>>>", messages[-2]["content"], re.DOTALL)
    assert m
    return json.loads(m.group(1))


def test_a_busy_users_plain_turn_prompt_is_under_1200_tokens() -> None:
    state = busy_user()
    messages = core.build_prompt(state, Turn(message_id="m", event_id="e", text="hi"), "UTC", NOW)
    tokens = estimate_tokens(messages, [])
    assert tokens <= 1200, tokens
    context = context_of(messages)
    rows = context["open_tasks [ref, title, due, priority if not normal]"]

    def due_of(ref: str) -> datetime:
        due = next(t.due for t in state.tasks.values() if task_ref(t.id) == ref)
        assert due is not None, ref
        return due

    assert [r[0] for r in rows] == sorted(
        (task_ref(t.id) for t in state.tasks.values() if t.status == "open"), key=due_of
    )
    assert rows[0] == ["t000000", "Call John about the Q1 plan 0", "2026-12-01 09:00", None]
    calendar = context["calendar next 2 days [start, end, title, location]"]
    assert len(calendar) == 6  # 3 a day, two days; the week is the agenda tool's
    assert all("2026-12-01" <= row[0] < "2026-12-03 09:00" for row in calendar)
    history = [m for m in messages if m["role"] in ("user", "assistant")][:-1]
    assert len(history) == core.HISTORY_FOR_PROMPT


def test_a_task_is_found_by_the_ref_the_prompt_shows() -> None:
    state = busy_user()
    task = list(state.tasks.values())[7]
    ref = task_ref(task.id)
    assert find_task(state, ref, None) is task
    assert find_task(state, "task_" + ref[1:], None) is task
    assert find_task(state, task.id, None) is task
    # A tail that is too short or names two tasks is no reference (the title query decides).
    assert find_task(state, "t00", "old and done").title == "Old and done"
    twin = task.id[:-8] + "00" + task.id[-6:]
    state.tasks[twin] = task.model_copy(update={"id": twin, "title": "Twin"})
    assert find_task(state, ref, "Twin").title == "Twin"
