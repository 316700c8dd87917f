"""The agenda: open tasks and calendar events for today, tomorrow or the week."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any

from mcos.kernel.models import BrainState
from mcos.kernel.timezones import zone
from mcos.skills.base import (
    Conversation,
    Intent,
    Recogniser,
    Skill,
    SkillContext,
    Tool,
    ToolOutcome,
    Utterance,
    arg_enum,
    dicts,
)
from mcos.skills.text import clock

AGENDA_RANGES = ("today", "tomorrow", "week")
AGENDA_DAYS = {"today": 1, "tomorrow": 1, "week": 7}


def agenda(state: BrainState, now: datetime, tz: str, span: str) -> dict[str, Any]:
    """Tasks and calendar events in the asked range, in the user's time zone."""
    local = zone(tz)
    today = now.astimezone(local).date()
    first = today + timedelta(days=1) if span == "tomorrow" else today
    start = datetime.combine(first, time.min, local)
    end = start + timedelta(days=AGENDA_DAYS.get(span, 1))
    tasks = [
        t.model_dump(mode="json")
        for t in state.tasks.values()
        if t.status == "open" and (t.due is None and span != "tomorrow" or (t.due and t.due < end))
    ]
    tasks.sort(key=lambda t: t["due"] or "9999")
    events = [
        c.model_dump(mode="json")
        for c in state.calendar.values()
        if c.start < end and c.end > start
    ]
    return {
        "range": span,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "timezone": tz,
        "tasks": tasks,
        "events": events,
        "overdue": [t["id"] for t in tasks if t["due"] and t["due"] < start.isoformat()],
    }


def summarize_agenda(ctx: SkillContext, args: dict[str, Any]) -> ToolOutcome:
    data = agenda(ctx.state, ctx.now, ctx.timezone, args.get("range", "today"))
    return ToolOutcome(result={"ok": True, **data})


def validate(args: dict[str, Any]) -> dict[str, Any]:
    rng = arg_enum(args, "range", AGENDA_RANGES)
    if rng is None:
        raise ValueError("range is required")
    return {"range": rng}


def agenda_text(rng: str, tasks: Any, events: Any, conv: Conversation) -> str:
    """The agenda as the offline model tells it; ``None`` lists come from the context."""
    today = conv.now.date()
    start = today + timedelta(days=1) if rng == "tomorrow" else today
    end = start + timedelta(days=6 if rng == "week" else 0)
    label = {"today": "today", "tomorrow": "tomorrow", "week": "the next 7 days"}.get(rng, rng)

    def in_range(day: date | None) -> bool:
        return day is not None and start <= day <= end

    event_items = dicts(events) if events is not None else conv.calendar
    task_items = dicts(tasks) if tasks is not None else conv.tasks
    lines: list[tuple[datetime, str]] = []
    for event in event_items:
        begins = conv.local(event.get("start"))
        if begins is None or not in_range(begins.date()):
            continue
        when = "all day" if event.get("all_day") else clock(begins)
        day = f"{begins:%a} " if rng == "week" else ""
        where = f" ({event['location']})" if event.get("location") else ""
        lines.append((begins, f"{day}{when} — {event.get('title') or 'Busy'}{where}"))
    overdue = 0
    for task in task_items:
        if task.get("status", "open") != "open":
            continue
        due = conv.local(task.get("due"))
        if due is None or not in_range(due.date()):
            if due is not None and due.date() < today and tasks is None:
                overdue += 1
            continue
        day = f"{due:%a} " if rng == "week" else ""
        flag = " ❗" if task.get("priority") == "high" else ""
        lines.append((due, f"{day}task: {task.get('title')} (due {clock(due)}){flag}"))
    lines.sort(key=lambda item: item[0])
    if not lines:
        text = f"Your agenda for {label} is clear — no events or tasks due."
    else:
        text = f"Here's your agenda for {label}:\n" + "\n".join(f"• {s}" for _, s in lines)
    if overdue:
        text += f"\nYou also have {overdue} overdue task{'s' * (overdue != 1)}."
    return text


def reply(result: dict[str, Any], conv: Conversation) -> str:
    return agenda_text(
        str(result.get("range") or "today"),
        result.get("tasks"),
        result.get("events", result.get("calendar")),
        conv,
    )


_AGENDA = re.compile(
    r"\b(?:agenda|schedule|calendar|itinerary|plans?\s+for|to-?do\s+list|my\s+tasks|"
    r"what'?s\s+(?:on|up|next|coming\s+up)|what\s+is\s+(?:on|up|next)|"
    r"what\s+do\s+i\s+have|what\s+have\s+i\s+got|anything\s+(?:on|due)|"
    r"(?:do\s+i\s+have|have\s+i\s+got|is\s+there)\s+(?:anything|something|much)\s+"
    r"(?:on\s+|planned\s+|scheduled\s+)?(?:for\s+)?"
    r"(?:today|tomorrow|this\s+week)|"
    r"(?:summari[sz]e|recap|overview\s+of|brief\s+me\s+on)\s+(?:my|the|this|today|tomorrow)|"
    r"review\s+my\s+(?:day|week|agenda|schedule)|"
    r"how\s+does\s+my\s+(?:day|week)\s+look|am\s+i\s+(?:free|busy))",
    re.IGNORECASE,
)
_FOLLOW_UP = re.compile(
    r"^(?:and\s+|what\s+about\s+|how\s+about\s+)?(?:for\s+)?(?:today|tomorrow|this\s+week)\W*$",
    re.IGNORECASE,
)


def recognise(u: Utterance, conv: Conversation) -> Intent | None:
    text = u.text
    if not _AGENDA.search(text) and not _FOLLOW_UP.match(text):
        return None
    if re.match(r"^(?:please\s+)?(?:add|put|schedule|create|remind)\b", text, re.IGNORECASE):
        return None
    lower = text.lower()
    if "tomorrow" in lower:
        rng = "tomorrow"
    elif re.search(r"\bweek(?:end)?\b|\bnext\s+(?:few|7|seven)\s+days\b", lower):
        rng = "week"
    else:
        rng = "today"
    return Intent("summarize_agenda", {"range": rng})


SKILL = Skill(
    name="agenda",
    tools=(
        Tool(
            name="summarize_agenda",
            description="Summarize the user's tasks and calendar for a period.",
            properties={"range": {"type": "string", "enum": list(AGENDA_RANGES)}},
            required=("range",),
            validate=validate,
            handler=summarize_agenda,
            reply=reply,
            error_intro="I couldn't read your agenda",
            read_only=True,
        ),
    ),
    recognisers=(Recogniser(60, recognise),),
    can="summarize your agenda (“What's on my agenda today?”)",
    vocabulary=frozenset({"agenda", "schedule", "calendar", "summarize", "summarise"}),
)
