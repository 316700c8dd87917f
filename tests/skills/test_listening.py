"""The offline model listens: follow-ups refer back, multi-part requests split, typos are
forgiven, pinned facts are recalled, moved reminders are confirmed with their new time,
and what it cannot do it says plainly. Pure: a fixed clock, plain state."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from mcos.brain.reducer import reduce
from mcos.kernel.models import BrainState, Event, Message, Task
from mcos.llm.base import LlmRequest
from mcos.llm.offline import respond
from mcos.skills import core
from mcos.skills.base import Conversation, Intent, Say, SkillContext
from mcos.skills.registry import REGISTRY, split_requests
from mcos.skills.text import correct
from mcos.skills.when import local_now

TZ = "America/Los_Angeles"
LA = ZoneInfo(TZ)
NOW = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)  # Tuesday 10:00 in Los Angeles
_n = itertools.count()


def new_id(prefix: str) -> str:
    return f"{prefix}_{next(_n):032x}"


def with_task(title: str, due: datetime | None = None, shown: bool = True) -> BrainState:
    """A state with one task, shown in the last assistant message when ``shown``."""
    task = Task(id=new_id("task"), title=title, due=due, source="chat", created_at=NOW)
    cards = [{"type": "task", "action": "created", "task": task.model_dump(mode="json")}]
    return BrainState(
        user_id="u",
        preferences={"timezone": TZ},
        tasks={task.id: task},
        messages=[
            Message(id="m1", role="user", text="…", created_at=NOW),
            Message(id="m2", role="assistant", text="Done", created_at=NOW,
                    cards=cards if shown else []),
        ],
    )  # fmt: skip


def conv_of(state: BrainState) -> Conversation:
    return Conversation.from_context(core.offline_context(state, NOW, TZ), NOW)


def recognise(text: str, state: BrainState | None = None) -> list[Any]:
    return REGISTRY.recognise(text, conv_of(state or BrainState(user_id="u")))


def run(state: BrainState, name: str, args: dict[str, Any]) -> tuple[BrainState, Any]:
    ctx = SkillContext(state=state, now=NOW, timezone=TZ, new_id=new_id)
    out = REGISTRY.run_state_tool(ctx, name, args)
    assert out.status == "success", out.result
    for seq, (kind, payload) in enumerate(out.events, start=state.seq + 1):
        # A skill names its events by str: validated as the brain's Event like any input.
        event = Event.model_validate(
            {
                "event_id": new_id("evt"),
                "type": kind,
                "payload": payload,
                "timestamp": NOW,
                "seq": seq,
            }
        )
        state = reduce(state, event)
    return state, out


# --- follow-ups ------------------------------------------------------------------------------


def test_move_it_moves_the_task_just_shown_and_keeps_its_day() -> None:
    state = with_task("Call John", datetime(2026, 11, 25, 15, 0, tzinfo=LA))
    [intent] = recognise("move it to 4pm", state)
    task_id = next(iter(state.tasks))
    assert intent == Intent("update_task", {"task_id": task_id, "due": "2026-11-25T16:00:00-08:00"})
    state, out = run(state, intent.name, intent.arguments)
    assert state.tasks[task_id].due == datetime(2026, 11, 25, 16, 0, tzinfo=LA)
    # The reply states the NEW time (it used to repeat the old one).
    assert out.result["task"]["due"] == "2026-11-25T16:00:00-08:00"
    assert REGISTRY.reply("update_task", out.result, conv_of(state)) == (
        "Moved “Call John” to tomorrow at 4:00 PM."
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mark it as done", {"status": "done"}),
        ("make it high priority", {"priority": "high"}),
        ("change it to high priority", {"priority": "high"}),
        ("push it to Friday", {"due": "2026-11-27T15:00:00-08:00"}),
        ("rename it to Call John Smith", {"title": "Call John Smith"}),
        ("4pm", {"due": "2026-11-25T16:00:00-08:00"}),
    ],
)
def test_it_is_the_task_just_shown(text: str, expected: dict[str, Any]) -> None:
    state = with_task("Call John", datetime(2026, 11, 25, 15, 0, tzinfo=LA))
    [intent] = recognise(text, state)
    assert intent == Intent("update_task", {"task_id": next(iter(state.tasks)), **expected})


def test_delete_it_and_delete_by_title_through_task_deleted() -> None:
    state = with_task("Renew passport")
    [by_pronoun] = recognise("actually, delete it", state)
    assert by_pronoun == Intent("delete_task", {"task_id": next(iter(state.tasks))})
    [by_title] = recognise("delete the pasport task", state)  # a typo, too
    assert by_title == Intent("delete_task", {"title_query": "passport"})
    state, out = run(state, "delete_task", by_title.arguments)
    assert state.tasks == {} and out.events[0][0] == "task.deleted"
    assert REGISTRY.reply("delete_task", out.result, conv_of(state)) == "Deleted “Renew passport”."


def test_it_with_nothing_to_refer_to_asks_and_a_bulk_delete_is_refused() -> None:
    [asked] = recognise("move it to 4pm")
    assert isinstance(asked, Say) and "Which task" in asked.text
    [refused] = recognise("delete all my tasks", with_task("Buy milk"))
    assert isinstance(refused, Say) and "one task at a time" in refused.text


def test_an_unknown_task_is_an_error_that_changes_nothing() -> None:
    ctx = SkillContext(state=with_task("Buy milk"), now=NOW, timezone=TZ, new_id=new_id)
    out = REGISTRY.run_state_tool(ctx, "delete_task", {"title_query": "dentist"})
    assert out.status == "error" and not out.events and "dentist" in out.result["message"]


def test_follow_ups_revise_the_flight_search_just_shown() -> None:
    search = {"search_id": "fs_1", "request": {"origin": "SFO", "destination": "BOS",
              "departure_date": "2026-12-04"}, "ranking": [], "options": [
              {"id": "off_a", "total": "300.00", "duration_minutes": 400},
              {"id": "off_b", "total": "250.00", "duration_minutes": 500}]}  # fmt: skip
    conv = Conversation(
        now=local_now(NOW, TZ),
        flight_searches=[search],
        focus=[{"kind": "flight_search", "search_id": "fs_1"}],
    )
    assert REGISTRY.recognise("make it business class", conv) == [
        Intent("search_flights", {"origin": "SFO", "destination": "BOS",
                                  "departure_date": "2026-12-04", "cabin_class": "business"})
    ]  # fmt: skip
    [later] = REGISTRY.recognise("how about next Saturday instead?", conv)
    assert isinstance(later, Intent) and later.arguments["departure_date"] == "2026-12-05"
    assert REGISTRY.recognise("book the cheapest one", conv) == [
        Intent("select_flight", {"flight_id": "off_b"})
    ]
    assert REGISTRY.recognise("book it", conv) == [Intent("select_flight", {"option_rank": 1})]


def test_focus_is_what_the_last_replies_showed_newest_first() -> None:
    state = with_task("Call John")
    older = next(iter(state.tasks))
    state, _ = run(state, "create_task", {"title": "Buy milk"})
    newer = next(t for t in state.tasks if t != older)
    card = {"type": "task", "task": state.tasks[newer].model_dump(mode="json")}
    state = state.model_copy(
        update={
            "messages": [
                *state.messages,
                Message(id="m3", role="assistant", text="ok", created_at=NOW, cards=[card]),
            ]
        }  # fmt: skip
    )
    focus = core.conversation_focus(state)
    assert [f["id"] for f in focus] == [newer, older]
    assert core.warm_context(state, NOW, TZ)["last_mentioned"]["title"] == "Buy milk"


# --- several requests in one message ---------------------------------------------------------


def test_add_x_and_also_remind_me_to_y_is_two_tasks() -> None:
    found = recognise("Add buy milk to my list, and also remind me to call mom tomorrow at 6pm")
    assert found == [
        Intent("create_task", {"title": "Buy milk", "due": None, "priority": "normal"}),
        Intent("create_task", {"title": "Call mom", "due": "2026-11-25T18:00:00-08:00",
                               "priority": "normal"}),
    ]  # fmt: skip
    # "also" lets the second request leave out its lead.
    [_, second] = recognise("Remind me to email Sarah tomorrow and also call the bank on Friday")
    assert second == Intent(
        "create_task", {"title": "Call the bank", "due": "2026-11-27T17:00:00-08:00",
                        "priority": "normal"})  # fmt: skip


def test_and_inside_one_request_does_not_split_it() -> None:
    assert [p.text for p in split_requests("Remind me to call John and Sarah tomorrow")] == [
        "Remind me to call John and Sarah tomorrow"
    ]
    [one] = recognise("Find flights from SFO to JFK on Dec 3, returning Dec 7")
    assert one.arguments["return_date"] == "2026-12-07"


def test_the_offline_model_calls_every_part_with_distinct_ids() -> None:
    request = LlmRequest(
        messages=[{"role": "user", "content": "My home airport is SFO and I prefer aisle seats"}],
        tools=REGISTRY.schemas(),
        context=core.offline_context(BrainState(user_id="u"), NOW, TZ),
    )
    calls = respond(request).calls
    assert [(c.name, c.arguments) for c in calls] == [
        ("set_preference", {"key": "home_airport", "value": "SFO"}),
        ("set_preference", {"key": "seat", "value": "aisle"}),
    ]
    assert len({c.id for c in calls}) == 2


# --- typos -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("remnd me to call John tomorow", "remind me to call John tomorrow"),
        ("whats on my agneda", "whats on my agenda"),
        ("find fligths next Firday", "find flights next Friday"),
        ("next wensday", "next wednesday"),
        # Left alone: names, real words near keywords, short words, inflections.
        ("email Frida about the remote team member", "email Frida about the remote team member"),
        ("add a task: book the tasks", "add a task: book the tasks"),
        ("reminders for flights", "reminders for flights"),
    ],
)
def test_typos_in_keywords_are_corrected(text: str, expected: str) -> None:
    assert correct(text, REGISTRY.vocabulary) == expected


def test_a_pinned_value_is_kept_as_written() -> None:
    [intent] = recognise("remember that my wife's name is Frida")
    assert isinstance(intent, Intent) and intent.arguments["value"] == "Frida"


# --- recall and what it is ------------------------------------------------------------------


def memories(*pairs: tuple[str, str]) -> dict[str, Any]:
    return {
        "now": NOW.isoformat(),
        "timezone": TZ,
        "preferences": {"home_airport": "SFO"},
        "memories": [{"key": k, "value": v} for k, v in pairs],
    }


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("What is my wife's name?", "Your wife's name is Ana."),
        ("what's my wifes name", "Your wife's name is Ana."),
        ("When does my passport expire?", "Your passport: expires March 2027."),
        ("Am I allergic to anything?", "You told me: I'm allergic to peanuts."),
        ("What's my home airport?", "Your home airport is SFO."),
    ],
)
def test_pinned_facts_are_recalled_without_a_tool(question: str, answer: str) -> None:
    context = memories(
        ("wife_name", "Ana"),
        ("passport", "expires March 2027"),
        ("im_allergic_to_peanuts", "I'm allergic to peanuts"),
    )
    reply = respond(
        LlmRequest(
            messages=[{"role": "user", "content": question}],
            tools=REGISTRY.schemas(),
            context=context,
        )  # fmt: skip
    )
    assert reply.calls == [] and reply.text == answer


def test_an_unknown_fact_is_not_invented() -> None:
    reply = respond(
        LlmRequest(
            messages=[{"role": "user", "content": "What is my dog's name?"}],
            tools=REGISTRY.schemas(),
            context=memories(("wife_name", "Ana")),
        )  # fmt: skip
    )
    assert reply.calls == [] and "don't know" in reply.text and "Ana" not in reply.text


@pytest.mark.parametrize(
    "text", ["Book me a hotel in Rome", "What's the weather?", "Send an email to my boss"]
)
def test_what_it_cannot_do_it_says_plainly(text: str) -> None:
    reply = respond(
        LlmRequest(
            messages=[{"role": "user", "content": text}],
            tools=REGISTRY.schemas(),
            context=memories(),
        )  # fmt: skip
    )
    assert reply.calls == []
    assert reply.text.startswith("I'm the offline assistant, so I can't help with that. I can ")
    assert "tasks" in reply.text and "flights" in reply.text


def test_tool_results_are_answered_by_each_skill() -> None:
    request = LlmRequest(
        messages=[
            {"role": "user", "content": "x"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "a", "type": "function", "function": {"name": "delete_task",
                                                             "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "a",
             "content": json.dumps({"ok": True, "task": {"title": "Buy milk"}})},
        ],
        context=memories(),
    )  # fmt: skip
    assert respond(request).text == "Deleted “Buy milk”."
