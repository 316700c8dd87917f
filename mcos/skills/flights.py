"""Flights: search (run by the turn as an activity, over MCP) and select an option (pure,
with follow-up tasks). Follow-ups refer back to the last search: "what about Saturday?",
"make it business class", "book it"."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from mcos.calendar.busy import airport_zone, busy_on_dates
from mcos.flights.airports import airport_by_code, resolve_airport
from mcos.flights.errors import FlightInputError
from mcos.flights.models import validate_request
from mcos.kernel.contracts import FlightSearchInput
from mcos.kernel.models import BrainState, Task
from mcos.kernel.timezones import zone
from mcos.skills.base import (
    Conversation,
    Intent,
    Recogniser,
    Say,
    Skill,
    SkillContext,
    SkillInputError,
    Tool,
    ToolOutcome,
    Utterance,
    arg_date,
    arg_enum,
    arg_int,
    arg_text,
    dicts,
    put,
)
from mcos.skills.preferences import NONSTOP, place
from mcos.skills.text import clock, parse_datetime, when_phrase
from mcos.skills.when import MONTH_NAMES, MONTHS, WEEKDAYS, extract_when, number

CABIN_CLASSES = ("economy", "premium_economy", "business", "first")

# --- the search (its I/O is the turn's activity; these are its pure parts) -------------


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
    try:
        req = validate_request(
            str(origin),
            str(args["destination"]),
            str(args["departure_date"]),
            args.get("return_date"),
            today=now.astimezone(zone(tz)).date(),
            cabin_class=str(cabin),
            adults=int(args.get("adults") or 1),
            max_connections=args.get("max_connections"),
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


# --- selecting an option (pure state handler) ---------------------------------------------


def select_flight(ctx: SkillContext, args: dict[str, Any]) -> ToolOutcome:
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
    number_ = str(option.get("flight_number") or "")
    code = str(option.get("airline_code") or "")
    label = number_ if number_.startswith(code) else f"{code}{number_}"
    route = f"{option.get('origin_code')}→{option.get('destination_code')}"
    origin = airport_by_code(str(option.get("origin_code") or ""))
    destination = airport_by_code(str(option.get("destination_code") or "")) or resolve_airport(
        str(option.get("destination_name") or "")
    )
    departure = parse_datetime(option.get("departure_at"))
    if departure is not None and departure.tzinfo is None and origin is not None:
        departure = departure.replace(tzinfo=zone(origin.tz))
    destination_place = destination.city if destination else option.get("destination_name")
    specs = [
        (f"Book flight {label} {route}".replace("  ", " "), timedelta(days=7), "high"),
        (f"Pack for {destination_place or route}", timedelta(days=1), "normal"),
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


# --- validation ---------------------------------------------------------------------------


def validate_search(args: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    put(out, "origin", arg_text(args, "origin"))
    put(out, "destination", arg_text(args, "destination", required=True))
    put(out, "departure_date", arg_date(args, "departure_date", required=True))
    put(out, "return_date", arg_date(args, "return_date"))
    put(out, "cabin_class", arg_enum(args, "cabin_class", CABIN_CLASSES))
    if args.get("adults") is not None:
        out["adults"] = arg_int(args["adults"], "adults", 1, 9)
    if args.get("max_connections") is not None:
        out["max_connections"] = arg_int(args["max_connections"], "max_connections", 0, 3)
    return out


def validate_select(args: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    put(out, "search_id", arg_text(args, "search_id"))
    if args.get("option_rank") is not None:
        out["option_rank"] = arg_int(args["option_rank"], "option_rank", 1)
    put(out, "flight_id", arg_text(args, "flight_id"))
    if "option_rank" not in out and "flight_id" not in out:
        raise ValueError("option_rank or flight_id is required")
    return out


# --- replies ------------------------------------------------------------------------------


def reply_search(result: dict[str, Any], conv: Conversation) -> str:
    options = dicts(result.get("options") or result.get("offers") or [])
    if not options:
        return "I couldn't find any flights for that search. Want to try another date or airport?"
    by_id = {str(o.get("id")): o for o in options}
    ranked: list[tuple[dict[str, Any], str | None]] = []
    for entry in sorted(dicts(result.get("ranking") or []), key=lambda r: r.get("rank", 99)):
        option = by_id.get(str(entry.get("flight_id")))
        if option is not None:
            ranked.append((option, entry.get("reasoning")))
    seen = {id(o) for o, _ in ranked}
    ranked += [(o, None) for o in options if id(o) not in seen]
    top = ranked[:3]
    prices = [p for o in options if (p := _price(o)[0]) is not None]
    cheapest = min(prices, default=None)
    first = top[0][0]
    route = f"{_code(first.get('origin'))} → {_code(first.get('destination'))}"
    lines = []
    for rank, (option, reasoning) in enumerate(top, start=1):
        reason = reasoning or _default_reason(option, cheapest)
        lines.append(f"{rank}. {flight_line(option)}" + (f" — {reason}" if reason else ""))
    return (
        f"Here are the top {len(top)} flights {route}:\n"
        + "\n".join(lines)
        + "\nSay “book the first one” (or another number) to choose."
    )


def reply_select(result: dict[str, Any], conv: Conversation) -> str:
    flight = result.get("flight") or result.get("option") or {}
    label = (
        flight_line(flight)
        if isinstance(flight, dict) and flight
        else result.get("flight_id", "that flight")
    )
    text = f"Great choice — {label} is selected."
    tasks = dicts(result.get("follow_up_tasks") or result.get("tasks") or [])
    if tasks:
        lines = []
        for task in tasks:
            due = conv.local(task.get("due"))
            lines.append(
                f"• {task.get('title')}" + (f" ({when_phrase(due, conv.now)})" if due else "")
            )
        text += " I added these follow-up tasks:\n" + "\n".join(lines)
    return text


def flight_line(option: dict[str, Any]) -> str:
    owner = option.get("owner")
    airline_obj = option.get("airline")
    airline = (
        option.get("airline_name")
        or (airline_obj.get("name") if isinstance(airline_obj, dict) else None)
        or (owner.get("name") if isinstance(owner, dict) else None)
        or option.get("airline_code")
    )
    flight_number = option.get("flight_number") or ""
    dep = _dt_of(option.get("departure"))
    arr = _dt_of(option.get("arrival"))
    parts = [" ".join(p for p in (airline, flight_number) if p) or str(option.get("id", "Flight"))]
    if dep is not None:
        times = f"{dep:%a %b} {dep.day}, {clock(dep)}"
        if arr is not None:
            times += f" → {clock(arr)}"
        parts.append(times)
    stops = option.get("stops")
    if isinstance(stops, int):
        parts.append("non-stop" if stops == 0 else f"{stops} stop{'s' * (stops != 1)}")
    minutes = option.get("duration_minutes")
    if isinstance(minutes, int | float):
        parts.append(f"{int(minutes) // 60}h {int(minutes) % 60:02d}m")
    amount, currency = _price(option)
    if amount is not None:
        parts.append(_money(amount, currency))
    return ", ".join(parts)


def _default_reason(option: dict[str, Any], cheapest: float | None) -> str:
    reasons = []
    amount = _price(option)[0]
    if amount is not None and cheapest is not None and amount <= cheapest:
        reasons.append("cheapest")
    if option.get("stops") == 0:
        reasons.append("non-stop")
    return " and ".join(reasons)


def _price(option: dict[str, Any]) -> tuple[float | None, str]:
    currency = str(option.get("currency") or option.get("total_currency") or "USD")
    for key in ("total", "total_amount", "price"):
        value = option.get(key)
        if isinstance(value, dict):
            currency = str(value.get("currency") or currency)
            value = value.get("amount", value.get("total"))
        try:
            if value is not None:
                return float(value), currency
        except (TypeError, ValueError):
            continue
    return None, currency


def _money(amount: float, currency: str) -> str:
    symbol = {"USD": "$", "EUR": "€", "GBP": "£"}.get(currency.upper())
    return f"{symbol}{amount:,.2f}" if symbol else f"{amount:,.2f} {currency}"


def _code(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("code") or value.get("iata_code") or value.get("name") or "?")
    return str(value or "?")


def _dt_of(value: Any) -> datetime | None:
    if isinstance(value, dict):
        iso = value.get("iso") or value.get("datetime") or value.get("at")
        if iso:
            return parse_datetime(iso)
        if value.get("date") and value.get("time"):
            return parse_datetime(f"{value['date']}T{value['time']}")
        return None
    return parse_datetime(value)


# --- recognisers ---------------------------------------------------------------------------

ORDINALS = {
    "first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4,
    "4th": 4, "fifth": 5, "5th": 5, "top": 1,
}  # fmt: skip
_SELECT_VERB = (
    r"(?:book|select|choose|pick|take|go\s+with|want|get|reserve|i'?ll\s+take|let'?s\s+do)"
)
_SELECT_RANK = re.compile(
    r"\b" + _SELECT_VERB + r"\b.*?\b(?:the\s+)?(?P<ord>first|second|third|fourth|fifth|top|"
    r"1st|2nd|3rd|4th|5th)\b(?:\s+(?:one|option|flight|offer))?",
    re.IGNORECASE,
)
_SELECT_OPTION = re.compile(r"\b(?:option|number|no\.?|choice|#)\s*(?P<n>\d{1,2})\b", re.IGNORECASE)
_SELECT_IT = re.compile(
    r"^(?:ok(?:ay)?,?\s+|great,?\s+|yes,?\s+)?(?:book|take|select|reserve)\s+(?:it|that(?:\s+one)?)"
    r"(?:\s+please)?\W*$",
    re.IGNORECASE,
)
_SELECT_BEST = re.compile(
    r"\b"
    + _SELECT_VERB
    + r"\b.*?\b(?:the\s+)?(?P<by>cheapest|least\s+expensive|lowest[\s-]price[d]?|"
    r"fastest|shortest|quickest|earliest|first\s+to\s+leave)\b",
    re.IGNORECASE,
)
_BEST_BY: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "cheap": ("total", float),
    "least": ("total", float),
    "lowes": ("total", float),
    "faste": ("duration_minutes", int),
    "short": ("duration_minutes", int),
    "quick": ("duration_minutes", int),
    "earli": ("departure_at", str),
    "first": ("departure_at", str),
}
_FLIGHT_ID = re.compile(r"\b(?P<id>off_[A-Za-z0-9]+)\b")


def _best_option(by: str, conv: Conversation) -> str | None:
    """The id of the latest search's cheapest/fastest/earliest option."""
    search = conv.latest_search()
    key, kind = _BEST_BY[by.lower()[:5]]
    options = []
    for option in dicts((search or {}).get("options")):
        try:
            options.append((kind(option[key]), str(option["id"])))
        except (KeyError, TypeError, ValueError):
            continue
    return min(options)[1] if options else None


_SEARCH_ID = re.compile(r"\b(?P<id>fs_[A-Za-z0-9]+)\b")


def recognise_select(u: Utterance, conv: Conversation) -> Intent | None:
    text = u.text
    args: dict[str, Any] = {}
    flight = _FLIGHT_ID.search(text)
    rank = _SELECT_RANK.search(text)
    option = _SELECT_OPTION.search(text)
    verb = re.search(r"\b" + _SELECT_VERB + r"\b", text, re.IGNORECASE)
    if flight and verb:
        args["flight_id"] = flight.group("id")
    elif option and (
        verb or re.fullmatch(r"\W*(?:option|number|#)\s*\d{1,2}\W*", text, re.IGNORECASE)
    ):
        args["option_rank"] = int(option.group("n"))
    elif rank and not re.search(r"\bflights?\s+(?:to|from)\b", text, re.IGNORECASE):
        args["option_rank"] = ORDINALS[rank.group("ord").lower()]
    elif (best := _SELECT_BEST.search(text)) and (fid := _best_option(best.group("by"), conv)):
        args["flight_id"] = fid
    elif _SELECT_IT.match(text) and conv.focus_of("flight_search") is not None:
        args["option_rank"] = 1  # "book it" right after a search: its best option
    else:
        return None
    if args.get("option_rank") == 0:
        return None
    search = _SEARCH_ID.search(text)
    if search:
        args = {"search_id": search.group("id"), **args}
    return Intent("select_flight", args)


_FLIGHT_WORDS = re.compile(
    r"\b(?:flights?|fly(?:ing)?|plane\s+tickets?|airfare|air\s+tickets?|round[\s-]?trip|"
    r"one[\s-]way\s+(?:trip|ticket))\b",
    re.IGNORECASE,
)
_PLACE_STOP = (
    r"(?=\s+(?:on|next|this|tomorrow|today|tonight|in|for|returning|return|back|coming|"
    r"departing|leaving|and|at|around|by|with|via|from|to|between|until|till|the|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
    r"jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|\d)\b|\s*[,.;!?]|\s*$)"
)
_PLACE = r"(?P<place>[A-Za-z][A-Za-z.'\- ]*?)" + _PLACE_STOP
_TO = re.compile(r"\b(?:to|into)\s+" + _PLACE, re.IGNORECASE)
_FROM = re.compile(r"\b(?:from|out\s+of|leaving)\s+" + _PLACE, re.IGNORECASE)
_RETURN = re.compile(
    r"\b(?:returning|return(?:ing)?\s+on|return|back|coming\s+back|until|till|through)\b",
    re.IGNORECASE,
)
_STAY = re.compile(
    r"\bfor\s+(?P<n>\d+|an?|one|two|three|four|five|six|seven|eight|nine|ten|couple\s+of|few)"
    r"\s+(?P<unit>days?|nights?|weeks?)\b",
    re.IGNORECASE,
)
_ADULTS = re.compile(
    r"\bfor\s+(?P<n>\d|one|two|three|four|five|six)\s+(?:adults?|people|persons|passengers|of\s+us)\b",
    re.IGNORECASE,
)
_CABIN = re.compile(
    r"\b(?P<c>premium\s+economy|economy|coach|business|first)(?:\s+class)?\b", re.IGNORECASE
)
_NOT_PLACES = frozenset(
    {"me", "us", "it", "them", "a", "an", "the", "fly", "go", "travel", "book", "find", "get",
     "see", "visit", "head", "return", "leave", "be", "take", "next", "this", "today",
     "tomorrow", "tonight"}
    | set(WEEKDAYS)
    | set(MONTHS)
    | set(MONTH_NAMES)
)  # fmt: skip


def _place(raw: str) -> str | None:
    raw = raw.strip(" .,'-")
    if not raw or raw.split()[0].lower() in _NOT_PLACES:
        return None
    return place(raw)


def _dates(text: str, conv: Conversation) -> tuple[list[date], date | None]:
    """Outbound dates and the return date in a flight request."""
    ret = _RETURN.search(text)
    outbound_text, return_text = (text[: ret.start()], text[ret.end() :]) if ret else (text, "")
    dates = list(extract_when(outbound_text, conv.now).dates)
    inbound = extract_when(return_text, conv.now).dates if return_text else []
    if inbound and dates and inbound[0] < dates[0]:
        # "next Friday, back Sunday": the Sunday after leaving, not the one before.
        leaving = datetime.combine(dates[0], conv.now.timetz())
        again = extract_when(return_text, leaving).dates
        if again and timedelta(0) <= again[0] - dates[0] <= timedelta(days=31):
            inbound = again
    return_date: date | None = None
    if inbound:
        return_date = inbound[0]
    elif len(dates) > 1:  # "from Dec 3 to Dec 7"
        return_date = dates[1]
    else:
        stay = _STAY.search(text)
        if stay and dates:
            n = number(stay.group("n"))
            days = n * 7 if stay.group("unit").lower().startswith("week") else n
            return_date = dates[0] + timedelta(days=days)
    return dates, return_date


def _extras(text: str, args: dict[str, Any]) -> None:
    cabin = _CABIN.search(text)
    if cabin:
        c = re.sub(r"\s+", "_", cabin.group("c").lower())
        args["cabin_class"] = "economy" if c == "coach" else c
    adults = _ADULTS.search(text)
    if adults:
        args["adults"] = number(adults.group("n"))
    if NONSTOP.search(text):
        args["max_connections"] = 0


def _checked(args: dict[str, Any], conv: Conversation) -> Intent | Say:
    """The search, or the question/explanation the offline model answers instead."""
    departure = args.get("departure_date")
    if departure is None:
        return Say(
            f"When would you like to fly to {args['destination']}? Tell me a date, "
            "like “next Friday” or “Dec 3”."
        )
    if date.fromisoformat(departure) < conv.now.date():
        return Say(
            f"I can't search that: {departure} is in the past. Could you give me another date?"
        )
    if args.get("return_date") and args["return_date"] < departure:
        return Say(
            "I can't search that: The return date is before the departure date. "
            "Could you give me another date?"
        )
    if "origin" not in args and conv.knows_preferences and not conv.preferences.get("home_airport"):
        return Say(
            f"Where will you fly from to {args['destination']}? You can also tell me your home "
            "airport (“My home airport is SFO”) and I'll use it next time."
        )
    return Intent("search_flights", args)


def recognise_search(u: Utterance, conv: Conversation) -> Intent | Say | None:
    text = u.text
    if not _FLIGHT_WORDS.search(text):
        return None
    destination = next((p for m in _TO.finditer(text) if (p := _place(m.group("place")))), None)
    if destination is None:
        return None
    args: dict[str, Any] = {}
    origin = next((p for m in _FROM.finditer(text) if (p := _place(m.group("place")))), None)
    if origin:
        args["origin"] = origin
    args["destination"] = destination
    dates, return_date = _dates(text, conv)
    if dates:
        args["departure_date"] = dates[0].isoformat()
    if return_date is not None:
        args["return_date"] = return_date.isoformat()
    _extras(text, args)
    return _checked(args, conv)


_REVISE = re.compile(
    r"^(?:(?:and|ok(?:ay)?|hmm|actually|then)[,\s]+)*"
    r"(?:what\s+about|how\s+about|(?:and\s+)?on|try|search|check|look\s+at|make\s+it|"
    r"change\s+it\s+to|move\s+it\s+to|switch\s+(?:it\s+)?to|instead)\b",
    re.IGNORECASE,
)


def recognise_revise(u: Utterance, conv: Conversation) -> Intent | Say | None:
    """A change to the search the conversation just showed: "what about Saturday?",
    "make it business class", "try returning Sunday instead"."""
    ref = conv.focus_of("flight_search")
    if ref is None:
        return None
    text = u.text
    if not _REVISE.match(text) and not re.match(r"^(?:and\s+)?(?:returning|back)\b", text, re.I):
        return None
    search = next(
        (s for s in conv.flight_searches if s.get("search_id") == ref.get("search_id")), None
    )
    request = dict((search or {}).get("request") or {})
    if not request.get("destination"):
        return None
    args = {
        k: request[k]
        for k in (
            "origin",
            "destination",
            "departure_date",
            "return_date",
            "cabin_class",
            "adults",
            "max_connections",
        )  # fmt: skip
        if request.get(k) is not None
    }
    changed = False
    dates, return_date = _dates(text, conv)
    if dates and not re.match(r"^(?:and\s+)?(?:returning|back)\b", text, re.I):
        args["departure_date"] = dates[0].isoformat()
        changed = True
    if return_date is not None:
        args["return_date"] = return_date.isoformat()
        changed = True
    before = dict(args)
    _extras(text, args)
    changed = changed or args != before
    destination = next((p for m in _TO.finditer(text) if (p := _place(m.group("place")))), None)
    if destination and not dates:
        args["destination"], changed = destination, True
    return _checked(args, conv) if changed else None


SKILL = Skill(
    name="flights",
    tools=(
        Tool(
            name="search_flights",
            description="Search flights. Airports as IATA codes or city names. Omit origin to "
            "use the user's home airport.",
            properties={
                "origin": {"type": "string", "description": "IATA code or city name."},
                "destination": {"type": "string", "description": "IATA code or city name."},
                "departure_date": {"type": "string", "description": "YYYY-MM-DD"},
                "return_date": {"type": "string", "description": "YYYY-MM-DD, for a round trip."},
                "cabin_class": {"type": "string", "enum": list(CABIN_CLASSES)},
                "adults": {"type": "integer", "minimum": 1, "maximum": 9, "default": 1},
                "max_connections": {"type": "integer", "minimum": 0, "maximum": 3},
            },
            required=("destination", "departure_date"),
            validate=validate_search,
            reply=reply_search,
            error_intro="I couldn't search flights",
        ),
        Tool(
            name="select_flight",
            description="Select one of the options of a flight search (the latest one unless "
            "search_id).",
            properties={
                "search_id": {"type": "string"},
                "option_rank": {"type": "integer", "minimum": 1, "description": "1-based rank."},
                "flight_id": {"type": "string"},
            },
            required=(),
            validate=validate_select,
            handler=select_flight,
            reply=reply_select,
            error_intro="I couldn't select that flight",
        ),
    ),
    recognisers=(
        Recogniser(10, recognise_select),
        Recogniser(12, recognise_revise),
        Recogniser(15, recognise_search),
    ),
    can="find and book flights (“Find flights to Boston next Friday”, “Book the first one”)",
    vocabulary=frozenset({"flight", "flights", "book", "business", "economy", "returning"}),
)
