"""The skills' state side: pure functions from (state, tool arguments) to events and results.

The chat turn (``workflows/turns.py``) calls these for every tool the model asks for.
Nothing here reads a clock or does I/O: ``now`` and the id factory are passed in, so the
functions are safe in workflow code and easy to test on plain data.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from mcos.calendar.busy import airport_zone, busy_on_dates
from mcos.flights.airports import airport_by_code, resolve_airport
from mcos.flights.errors import FlightInputError
from mcos.flights.models import validate_request
from mcos.kernel.contracts import FlightSearchInput, LlmTurnResult, Turn
from mcos.kernel.models import BrainState, Task
from mcos.kernel.timezones import is_timezone, zone
from mcos.llm.prompt import SYSTEM_PROMPT, build_messages
from mcos.llm.tools import TOOL_SCHEMAS, validate_arguments

HISTORY_FOR_PROMPT = 20
AGENDA_DAYS = {"today": 1, "tomorrow": 1, "week": 7}


class SkillInputError(ValueError):
    """The user's request cannot be carried out as asked; the message says why."""


@dataclass
class SkillContext:
    state: BrainState
    now: datetime
    timezone: str
    new_id: Callable[[str], str]


@dataclass
class ToolOutcome:
    status: str = "success"
    result: dict[str, Any] = field(default_factory=dict)
    card: dict[str, Any] | None = None
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @classmethod
    def error(cls, message: str, code: str = "invalid_input") -> ToolOutcome:
        return cls(
            status="error",
            result={
                "ok": False,
                "code": code,
                "message": message,
                "error": {"code": code, "message": message},
            },
        )


# --- prompt -----------------------------------------------------------------------------


def user_timezone(state: BrainState, default: str) -> str:
    tz = state.preferences.get("timezone")
    return tz if isinstance(tz, str) and is_timezone(tz) else default


def build_prompt(
    state: BrainState, turn: Turn, default_tz: str, now: datetime | None = None
) -> list[dict[str, Any]]:
    """The turn's messages: preferences, pinned memories and warm context (with the user's
    local time, so a model can resolve "tomorrow at 3pm"), recent history, the message."""
    history = [
        {"role": m.role, "text": m.text}
        for m in state.messages
        if m.id != turn.message_id and m.status != "failed"
    ][-HISTORY_FOR_PROMPT:]
    return build_messages(
        SYSTEM_PROMPT,
        state.preferences,
        [m.model_dump(mode="json") for m in state.memories.values()],
        warm_context(state, now, user_timezone(state, default_tz)),
        history,
        turn.text,
    )


def warm_context(
    state: BrainState, now: datetime | None = None, tz: str | None = None
) -> dict[str, Any]:
    """What the model sees of the user's world: local time, open tasks, calendar, trips."""
    clock: dict[str, Any] = {}
    if now is not None and tz:
        local = now.astimezone(zone(tz))
        clock = {
            "now": local.isoformat(timespec="minutes"),
            "weekday": f"{local:%A}",
            "timezone": tz,
        }
    return {
        **clock,
        "open_tasks": [
            {"id": t.id, "title": t.title, "due": _iso(t.due), "priority": t.priority}
            for t in state.tasks.values()
            if t.status == "open"
        ][:50],
        "calendar": [
            {"title": c.title, "start": _iso(c.start), "end": _iso(c.end), "location": c.location}
            for c in list(state.calendar.values())[:50]
        ],
        "travel": [t.model_dump(mode="json") for t in state.travel[:10]],
        "latest_flight_search": _latest_search_summary(state),
    }


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
            {"search_id": s.search_id, "request": s.request, "ranking": s.ranking}
            for s in state.flight_searches[-3:]
        ],
    }


def _latest_search_summary(state: BrainState) -> dict[str, Any] | None:
    if not state.flight_searches:
        return None
    s = state.flight_searches[-1]
    return {"search_id": s.search_id, "request": s.request, "ranking": s.ranking[:3]}


def tool_schemas() -> list[dict[str, Any]]:
    return TOOL_SCHEMAS


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


# --- state tools --------------------------------------------------------------------------


def run_state_tool(ctx: SkillContext, name: str, args: dict[str, Any]) -> ToolOutcome:
    handler = _STATE_TOOLS.get(name)
    if handler is None:
        return ToolOutcome.error(f"I can't do '{name}' yet.", code="unknown_tool")
    try:
        clean = validate_arguments(name, args)
        return handler(ctx, clean)
    except (SkillInputError, ValueError) as exc:
        return ToolOutcome.error(str(exc))


def _parse_due(value: Any, tz: str) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        due = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise SkillInputError(f"I couldn't read the due date '{value}'.") from exc
    if due.tzinfo is None:
        due = due.replace(tzinfo=zone(tz))
    return due


def _create_task(ctx: SkillContext, args: dict[str, Any]) -> ToolOutcome:
    due = _parse_due(args.get("due"), ctx.timezone)
    task = Task(
        id=ctx.new_id("task"),
        title=str(args["title"])[:500],
        due=due,
        priority=args.get("priority", "normal"),
        source="chat",
    )
    data = task.model_dump(mode="json")
    return ToolOutcome(
        result={"ok": True, "task": data, "timezone": ctx.timezone},
        card={"type": "task", "action": "created", "task": data},
        events=[("task.created", data)],
    )


def find_task(state: BrainState, task_id: str | None, query: str | None) -> Task:
    if task_id and task_id in state.tasks:
        return state.tasks[task_id]
    if query:
        words = [w for w in query.lower().split() if len(w) > 2] or [query.lower()]
        scored = []
        for t in state.tasks.values():
            title = t.title.lower()
            hits = sum(1 for w in words if w in title)
            if hits:
                scored.append((hits, t.status == "open", t.updated_at or t.created_at, t))
        if scored:
            scored.sort(key=lambda x: (x[0], x[1], x[2] or datetime.min.replace(tzinfo=UTC)))
            return scored[-1][3]
    raise SkillInputError(f"I couldn't find a task matching '{query or task_id}'.")


def _update_task(ctx: SkillContext, args: dict[str, Any]) -> ToolOutcome:
    task = find_task(ctx.state, args.get("task_id"), args.get("title_query"))
    changes: dict[str, Any] = {}
    for key in ("title", "priority", "status"):
        if args.get(key) is not None:
            changes[key] = args[key]
    if "due" in args:
        due = _parse_due(args["due"], ctx.timezone)
        if due is None:
            changes["clear_due"] = True
        else:
            changes["due"] = due.isoformat()
    if not changes:
        raise SkillInputError("What should I change about that task?")
    updated = task.model_copy(
        update={k: v for k, v in changes.items() if k not in ("clear_due", "due")}
    )
    data = updated.model_dump(mode="json")
    return ToolOutcome(
        result={"ok": True, "task": data, "changes": changes},
        card={"type": "task", "action": "updated", "task": data},
        events=[("task.updated", {"id": task.id, "changes": changes})],
    )


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


def _summarize_agenda(ctx: SkillContext, args: dict[str, Any]) -> ToolOutcome:
    data = agenda(ctx.state, ctx.now, ctx.timezone, args.get("range", "today"))
    return ToolOutcome(result={"ok": True, **data})


_PREFERENCE_ALIASES = {"home": "home_airport", "nonstop": "prefer_nonstop", "cabin": "cabin_class"}


def _set_preference(ctx: SkillContext, args: dict[str, Any]) -> ToolOutcome:
    key = _PREFERENCE_ALIASES.get(args["key"], args["key"])
    value = args.get("value")
    if key == "home_airport":
        airport = resolve_airport(str(value))
        if airport is None:
            raise SkillInputError(f"I don't know an airport called '{value}'.")
        value = airport.iata
    if key == "timezone":
        if not is_timezone(str(value)):
            raise SkillInputError(f"'{value}' is not a time zone I know.")
    return ToolOutcome(
        result={"ok": True, "key": key, "value": value},
        events=[("preference.set", {"key": key, "value": value})],
    )


def _pin_memory(ctx: SkillContext, args: dict[str, Any]) -> ToolOutcome:
    mem = {
        "id": ctx.new_id("mem"),
        "type": args.get("type", "fact"),
        "key": args["key"],
        "value": str(args["value"])[:2000],
    }
    return ToolOutcome(result={"ok": True, "memory": mem}, events=[("memory.pinned", mem)])


def _select_flight(ctx: SkillContext, args: dict[str, Any]) -> ToolOutcome:
    searches = ctx.state.flight_searches
    if args.get("search_id"):
        searches = [s for s in searches if s.search_id == args["search_id"]]
    if not searches:
        raise SkillInputError("There is no flight search to choose from yet.")
    search = searches[-1]
    flight_id = args.get("flight_id")
    if not flight_id:
        rank = int(args.get("option_rank") or 1)
        ranked = sorted(search.ranking, key=lambda r: r.get("rank", 99))
        if not 1 <= rank <= len(ranked):
            raise SkillInputError(f"The last search has {len(ranked)} options; which one?")
        flight_id = ranked[rank - 1]["flight_id"]
    option = next((o for o in search.options if o.get("id") == flight_id), None)
    if option is None:
        raise SkillInputError("I couldn't find that flight in the last search.")
    tasks = follow_up_tasks(option, ctx.new_id, ctx.now)
    return ToolOutcome(
        result={
            "ok": True,
            "search_id": search.search_id,
            "flight": option_view(option),
            "follow_up_tasks": tasks,
            "message": f"Selected {option.get('flight_number')}; "
            f"{len(tasks)} follow-up tasks added.",
        },
        card={
            "type": "flight_selected",
            "search_id": search.search_id,
            "flight": option,
            "tasks": tasks,
        },
        events=[
            (
                "flight.selected",
                {"search_id": search.search_id, "flight_id": flight_id, "follow_up_tasks": tasks},
            )
        ],
    )


def follow_up_tasks(
    option: dict[str, Any], new_id: Callable[[str], str], now: datetime | None = None
) -> list[dict[str, Any]]:
    """ "Book", "Pack" and "Airport transfer" tasks, due before the flight leaves.

    Departure times are local to the origin airport; a due time already past (a flight
    soon) becomes an hour from ``now``, but never later than the departure.
    """
    number = str(option.get("flight_number") or "")
    code = str(option.get("airline_code") or "")
    label = number if number.startswith(code) else f"{code}{number}"
    route = f"{option.get('origin_code')}→{option.get('destination_code')}"
    origin = airport_by_code(str(option.get("origin_code") or ""))
    destination = airport_by_code(str(option.get("destination_code") or "")) or resolve_airport(
        str(option.get("destination_name") or "")
    )
    departure = _as_datetime(option.get("departure_at"))
    if departure is not None and departure.tzinfo is None and origin is not None:
        departure = departure.replace(tzinfo=zone(origin.tz))
    place = destination.city if destination else option.get("destination_name") or route
    specs = [
        (f"Book flight {label} {route}".replace("  ", " "), timedelta(days=7), "high"),
        (f"Pack for {place}", timedelta(days=1), "normal"),
        (f"Arrange airport transfer to {option.get('origin_code')}", timedelta(hours=4), "normal"),
    ]
    tasks = []
    for title, before, priority in specs:
        due = departure - before if departure else None
        if due is not None and now is not None and departure is not None and due < now:
            due = min(now + timedelta(hours=1), departure)
        tasks.append(
            Task(
                id=new_id("task"),
                title=title,
                due=due,
                priority=priority,  # type: ignore[arg-type]
                source="flight",
                tags=["travel"],
            ).model_dump(mode="json")
        )
    return tasks


_STATE_TOOLS: dict[str, Callable[[SkillContext, dict[str, Any]], ToolOutcome]] = {
    "create_task": _create_task,
    "update_task": _update_task,
    "summarize_agenda": _summarize_agenda,
    "set_preference": _set_preference,
    "pin_memory": _pin_memory,
    "select_flight": _select_flight,
}


# --- flights ------------------------------------------------------------------------------


def flight_request(
    state: BrainState, args: dict[str, Any], now: datetime, tz: str
) -> dict[str, Any]:
    """Resolve and check a flight search; raises :class:`SkillInputError` with a question."""
    origin = args.get("origin") or state.preferences.get("home_airport")
    if not origin:
        raise SkillInputError(
            "Which airport are you flying from? Tell me your home airport "
            "(for example “My home airport is SFO”) and I'll remember it."
        )
    if not args.get("destination"):
        raise SkillInputError("Where would you like to fly to?")
    if not args.get("departure_date"):
        raise SkillInputError("Which day do you want to leave?")
    cabin = args.get("cabin_class") or state.preferences.get("cabin_class") or "economy"
    # prefer_nonstop ranks non-stops first (flights/rank.py); it does not filter the search
    max_connections = args.get("max_connections")
    try:
        req = validate_request(
            str(origin),
            str(args["destination"]),
            str(args["departure_date"]),
            args.get("return_date"),
            today=now.astimezone(zone(tz)).date(),
            cabin_class=str(cabin),
            adults=int(args.get("adults") or 1),
            max_connections=max_connections,
        )
    except FlightInputError as exc:
        raise SkillInputError(str(exc)) from None
    return req.to_params()


def busy_intervals(state: BrainState, request: dict[str, Any]) -> list[list[str]]:
    """Warm-calendar events on the travel dates, in the local time of the airport each
    flight leaves from, for conflict-aware ranking."""
    days = [
        (request.get("departure_date"), airport_zone(request.get("origin"))),
        (request.get("return_date"), airport_zone(request.get("destination"))),
    ]
    return busy_on_dates(state.calendar.values(), days)


def flight_activity_input(
    user_id: str, state: BrainState, request: dict[str, Any], tool_id: str
) -> FlightSearchInput:
    return FlightSearchInput(
        user_id=user_id,
        tool_invocation_id=tool_id,
        params=request,
        preferences=state.preferences,
        busy=busy_intervals(state, request),
    )


def friendly_tool_error(cause: BaseException | None) -> str:
    text = str(cause or "")
    if "timeout" in text.lower() or "timed out" in text.lower():
        return "The flight search took too long to answer. Please try again in a minute."
    if "circuit" in text.lower():
        return "Flight search is unavailable right now; I'll be able to try again shortly."
    if "FlightInputError" in repr(cause) or getattr(cause, "type", "") == "FlightInputError":
        return text
    return "The flight search service isn't answering right now. Please try again later."


def flights_searched_payload(
    search_id: str, request: dict[str, Any], found: Any, tool_id: str
) -> dict[str, Any]:
    options = found["options"] if isinstance(found, dict) else found.options
    ranking = found["ranking"] if isinstance(found, dict) else found.ranking
    return {
        "search_id": search_id,
        "request": request,
        "options": options,
        "ranking": ranking,
        "tool_invocation_id": tool_id,
    }


def flights_outcome(payload: dict[str, Any]) -> ToolOutcome:
    by_id = {o["id"]: o for o in payload["options"]}
    top = sorted(payload["ranking"], key=lambda r: r["rank"])[:3]
    top_options = [by_id[r["flight_id"]] for r in top if r["flight_id"] in by_id]
    card = {
        "type": "flights",
        "search_id": payload["search_id"],
        "request": payload["request"],
        "options": top_options,
        "ranking": top,
    }
    result = {
        "ok": True,
        "search_id": payload["search_id"],
        "request": payload["request"],
        "count": len(payload["options"]),
        "options": [option_view(o) for o in top_options],
        "ranking": top,
        "message": f"{len(payload['options'])} options found; top {len(top)} ranked.",
    }
    return ToolOutcome(result=result, card=card)


def option_view(option: dict[str, Any]) -> dict[str, Any]:
    """A flight option as the model reads it: places and times grouped, no booking noise."""
    return {
        "id": option.get("id"),
        "airline_name": option.get("airline_name"),
        "airline_code": option.get("airline_code"),
        "flight_number": option.get("flight_number"),
        "origin": {"code": option.get("origin_code"), "name": option.get("origin_name")},
        "destination": {
            "code": option.get("destination_code"),
            "name": option.get("destination_name"),
        },
        "departure": {"iso": option.get("departure_at"), "date": option.get("departure_date")},
        "arrival": {"iso": option.get("arrival_at"), "date": option.get("arrival_date")},
        "duration_minutes": option.get("duration_minutes"),
        "stops": option.get("stops"),
        "total": option.get("total"),
        "currency": option.get("currency"),
        "cabin_class": option.get("cabin_class"),
        "baggage": option.get("baggage"),
    }


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value else None


def _as_datetime(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
