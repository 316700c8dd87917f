"""What the chat turn (``workflows/turns.py``) asks of the skills: the prompt, the offline
model's context, the tool list, the message shapes around tool calls, and the dispatch of
state tools — all driven by :data:`mcos.skills.registry.REGISTRY`.

Nothing here reads a clock or does I/O: ``now`` and the id factory are passed in, so the
functions are safe in workflow code and easy to test on plain data.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any

from mcos.kernel.contracts import LlmTurnResult, Turn
from mcos.kernel.models import BrainState
from mcos.kernel.timezones import is_timezone, zone
from mcos.llm.prompt import SYSTEM_PROMPT, build_messages
from mcos.skills.base import SkillContext, SkillInputError, ToolOutcome
from mcos.skills.flights import (
    flight_activity_input,
    flight_request,
    flights_outcome,
    flights_searched_payload,
    follow_up_tasks,
    friendly_tool_error,
)
from mcos.skills.registry import REGISTRY
from mcos.skills.tasks import task_ref

HISTORY_FOR_PROMPT = 10  # recent messages in the prompt (older ones live in the archive)
HISTORY_PROMPT_BYTES = 4000  # ... and at most this much of their text (v6; ~1,000 tokens)
PROMPT_TASKS = 20  # open tasks in the prompt, soonest due first
PROMPT_EVENTS = 20
CALENDAR_DAYS = 2
FOCUS_MESSAGES = 6  # how far back "it" may reach


def user_timezone(state: BrainState, default: str) -> str:
    tz = state.preferences.get("timezone")
    return tz if isinstance(tz, str) and is_timezone(tz) else default


def build_prompt(
    state: BrainState,
    turn: Turn,
    default_tz: str,
    now: datetime | None = None,
    history_bytes: int | None = None,
) -> list[dict[str, Any]]:
    """The turn's messages: preferences, pinned memories and warm context (with the user's
    local time, so a model can resolve "tomorrow at 3pm"), recent history, the message.
    ``history_bytes`` bounds the history's text too (see :func:`recent_within`)."""
    history = [
        {"role": m.role, "text": m.text}
        for m in state.messages
        if m.id != turn.message_id and m.status != "failed"
    ][-HISTORY_FOR_PROMPT:]
    if history_bytes is not None:
        history = recent_within(history, history_bytes)
    return build_messages(
        SYSTEM_PROMPT,
        state.preferences,
        [m.model_dump(mode="json") for m in state.memories.values()],
        warm_context(state, now, user_timezone(state, default_tz)),
        history,
        turn.text,
    )


def recent_within(history: list[dict[str, Any]], budget: int) -> list[dict[str, Any]]:
    """The newest messages whose texts fit in ``budget`` bytes (UTF-8) together; the newest
    one alone if even it does not, cut to its last bytes (what a follow-up answers)."""
    kept: list[dict[str, Any]] = []
    used = 0
    for item in reversed(history):
        size = len(item["text"].encode())
        if used + size > budget:
            if not kept:
                tail = item["text"].encode()[-(budget - 3) :].decode(errors="ignore")
                kept.append({**item, "text": "…" + tail})
            break
        used += size
        kept.append(item)
    return kept[::-1]


def warm_context(
    state: BrainState, now: datetime | None = None, tz: str | None = None
) -> dict[str, Any]:
    """What the model sees of the user's world, kept small (the prompt is paid per token):
    local time, open tasks by due (short refs, not 37-character ids), the calendar of the
    next :data:`CALENDAR_DAYS` days (``summarize_agenda`` reads further), trips, the latest
    flight search and what the conversation last showed (so "move it to 4pm" has an "it").
    Times are local wall-clock times in ``timezone``; empty parts are left out."""
    # Changing this changes every real model's input: measure with bench/prompt_tokens.py.
    local_zone = zone(tz) if tz else None
    clock: dict[str, Any] = {}
    if now is not None and tz:
        local = now.astimezone(zone(tz))
        clock = {
            "now": local.isoformat(timespec="minutes"),
            "weekday": f"{local:%A}",
            "timezone": tz,
        }
    open_tasks = sorted(
        (t for t in state.tasks.values() if t.status == "open"),
        key=lambda t: (t.due is None, t.due.isoformat() if t.due else ""),
    )[:PROMPT_TASKS]
    tasks = [
        [
            task_ref(t.id),
            t.title,
            _local(t.due, local_zone) if t.due else None,
            None if t.priority == "normal" else t.priority,
        ]
        for t in open_tasks
    ]
    events = sorted(state.calendar.values(), key=lambda c: c.start.isoformat())
    if now is not None:
        until = now + timedelta(days=CALENDAR_DAYS)
        events = [c for c in events if c.end > now and c.start < until]
    calendar = [
        [_local(c.start, local_zone), _local(c.end, local_zone), c.title, c.location]
        for c in events[:PROMPT_EVENTS]
    ]
    context: dict[str, Any] = {**clock}
    # Rows, not objects: the keys once in the name instead of on every item.
    if tasks:
        context["open_tasks [ref, title, due, priority if not normal]"] = tasks
    if calendar:
        context[f"calendar next {CALENDAR_DAYS} days [start, end, title, location]"] = calendar
    if state.travel:
        context["travel"] = [t.model_dump(mode="json") for t in state.travel[:10]]
    latest = _latest_search_summary(state)
    if latest:
        context["latest_flight_search"] = latest
    focus = conversation_focus(state)
    if focus:
        first = dict(focus[0])
        if first.get("kind") == "task":
            first["ref"] = task_ref(str(first.pop("id")))
        context["last_mentioned"] = first
    return context


def _local(value: datetime, local_zone: Any) -> str:
    """A wall-clock time in the user's zone, without the offset ("now" carries it)."""
    local = value.astimezone(local_zone) if local_zone else value
    return local.strftime("%Y-%m-%d %H:%M")


def conversation_focus(state: BrainState) -> list[dict[str, Any]]:
    """What the last assistant messages showed, newest first: tasks (by id, still present)
    and flight searches — the referents of "it", "that one"."""
    found: list[dict[str, Any]] = []
    seen: set[str] = set()
    replies = [m for m in state.messages if m.role == "assistant"][-FOCUS_MESSAGES:]
    for message in reversed(replies):
        for card in reversed(message.cards):
            ref: dict[str, Any] | None = None
            if card.get("type") == "task" and isinstance(card.get("task"), dict):
                task = state.tasks.get(str(card["task"].get("id")))
                if task is not None:
                    ref = {"kind": "task", "id": task.id, "title": task.title}
            elif card.get("type") in ("flights", "flight_selected") and card.get("search_id"):
                ref = {"kind": "flight_search", "search_id": card["search_id"]}
            key = json.dumps(ref, sort_keys=True)
            if ref is not None and key not in seen:
                seen.add(key)
                found.append(ref)
    return found


def offline_context(state: BrainState, now: datetime, default_tz: str) -> dict[str, Any]:
    """The structured context the offline model answers from (real models get the prompt)."""
    return {
        "now": now.isoformat(),
        "timezone": user_timezone(state, default_tz),
        "tasks": [t.model_dump(mode="json") for t in state.tasks.values()][:200],
        "calendar": [c.model_dump(mode="json") for c in state.calendar.values()][:200],
        "preferences": state.preferences,
        "memories": [m.model_dump(mode="json") for m in state.memories.values()],
        "travel": [t.model_dump(mode="json") for t in state.travel],
        "flight_searches": [
            {
                "search_id": s.search_id,
                "request": s.request,
                "ranking": s.ranking,
                "options": [
                    {
                        k: o.get(k)
                        for k in ("id", "total", "duration_minutes", "stops", "departure_at")
                    }  # fmt: skip
                    for o in s.options
                ],
            }
            for s in state.flight_searches[-3:]
        ],
        "focus": conversation_focus(state),
    }


def _latest_search_summary(state: BrainState) -> dict[str, Any] | None:
    if not state.flight_searches:
        return None
    s = state.flight_searches[-1]
    return {"search_id": s.search_id, "request": s.request, "ranking": s.ranking[:3]}


def tool_schemas() -> list[dict[str, Any]]:
    return REGISTRY.schemas()


def is_state_tool(name: str) -> bool:
    """Whether the turn runs ``name`` as a pure state tool (else: as an activity)."""
    return REGISTRY.is_state_tool(name)


def run_state_tool(ctx: SkillContext, name: str, args: dict[str, Any]) -> ToolOutcome:
    return REGISTRY.run_state_tool(ctx, name, args)


def assistant_tool_message(result: LlmTurnResult) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": result.text or None,
        "tool_calls": [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": json.dumps(c.arguments)},
            }
            for c in result.tool_calls
        ],
    }


def tool_result_message(call_id: str, name: str, result: dict[str, Any]) -> dict[str, Any]:
    return {
        "role": "tool",
        "tool_call_id": call_id,
        "name": name,
        "content": json.dumps(result, default=str),
    }


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value else None


__all__ = [
    "SkillContext",
    "SkillInputError",
    "ToolOutcome",
    "assistant_tool_message",
    "build_prompt",
    "flight_activity_input",
    "flight_request",
    "flights_outcome",
    "flights_searched_payload",
    "follow_up_tasks",
    "friendly_tool_error",
    "is_state_tool",
    "recent_within",
    "offline_context",
    "run_state_tool",
    "tool_result_message",
    "tool_schemas",
    "user_timezone",
    "warm_context",
]
