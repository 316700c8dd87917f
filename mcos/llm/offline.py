"""The offline model: deterministic, no network, good enough that every skill works.

Turn rules:

- Last message from the user → :mod:`llm.intents`. A recognised skill whose tool is in
  ``request.tools`` becomes one :class:`ToolCallChunk` (no text). Tools not offered are
  never called (like a real model); an incomplete request (flight search without a date,
  or without an origin while ``context.preferences`` has no ``home_airport``) or an invalid
  one (date in the past) gets a question/explanation instead. Anything else gets a reply
  built from ``request.context`` (agenda questions answered from tasks/calendar, otherwise
  a short note of what the assistant can do).
- Last messages are tool results → the final answer composed from them. Results are read
  leniently; the shapes understood (JSON in the tool message ``content``):

  ``create_task``/``update_task``: ``{"task": {title, due, priority, status}}`` or the task
  itself; ``summarize_agenda``: ``{"range", "tasks": [...], "events": [...]}`` (missing
  lists are taken from ``request.context``); ``set_preference``: ``{"key", "value"}``;
  ``pin_memory``: ``{"memory": {key, value}}`` or ``{"key", "value"}``; ``search_flights``:
  ``{"search_id", "options": [FlightOption...], "ranking": [{flight_id, rank, reasoning}]}``;
  ``select_flight``: ``{"flight": FlightOption, "follow_up_tasks": [task...]}``. Any result
  with ``"error"`` (string or ``{code, message}``) or ``"ok": false`` is an error.

Replies stream as word pieces (≤ 4 characters, spaces kept) with ``token_delay_ms``
between them, then one :class:`UsageChunk` counting pieces (prompt: pieces of every message
text; completion: pieces of the reply, or of the tool call's JSON).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, date, datetime
from typing import Any

from mcos.llm.base import Chunk, LlmRequest, TokenChunk, ToolCallChunk, UsageChunk
from mcos.llm.intents import local_now, recognize_intent
from mcos.llm.tools import make_tool_call

PIECE_CHARS = 4
_WORD_RE = re.compile(r"\s*\S+|\s+")

CAPABILITIES = (
    "I can add tasks and reminders (“Remind me to call John tomorrow at 3pm”), "
    "summarize your agenda (“What's on my agenda today?”), remember preferences and facts "
    "(“My home airport is SFO”), and find flights (“Find flights to Boston next Friday”)."
)


def split_pieces(text: str) -> list[str]:
    """Word pieces of at most 4 characters; joined they give back ``text`` exactly."""
    pieces: list[str] = []
    for word in _WORD_RE.findall(text):
        pieces.extend(word[i : i + PIECE_CHARS] for i in range(0, len(word), PIECE_CHARS))
    return pieces


def count_tokens(text: str) -> int:
    return len(split_pieces(text))


class OfflineProvider:
    """Deterministic provider; never does I/O. Free: it never spends the token budget."""

    billable = False

    def __init__(self, token_delay_ms: float = 15.0) -> None:
        self.token_delay_s = max(0.0, token_delay_ms) / 1000.0

    async def stream(self, request: LlmRequest) -> AsyncIterator[Chunk]:
        prompt_tokens = sum(count_tokens(_content_text(m)) for m in request.messages)
        reply = respond(request)
        if isinstance(reply, list):
            completion = 0
            for call in reply:
                completion += count_tokens(f"{call.name} {json.dumps(call.arguments)}")
                yield call
            yield UsageChunk(prompt_tokens=prompt_tokens, completion_tokens=completion)
            return
        pieces = split_pieces(reply)
        if request.max_tokens is not None:
            pieces = pieces[: request.max_tokens]
        for index, piece in enumerate(pieces):
            if index:
                await asyncio.sleep(self.token_delay_s)
            yield TokenChunk(text=piece)
        await asyncio.sleep(0)
        yield UsageChunk(prompt_tokens=prompt_tokens, completion_tokens=len(pieces))


# --- the turn ------------------------------------------------------------------------------


def respond(request: LlmRequest) -> str | list[ToolCallChunk]:
    """The whole reply for ``request``: text, or tool calls."""
    messages = request.messages
    if not messages:
        return "Hi! " + CAPABILITIES
    ctx = _Context(request.context)
    last = messages[-1]
    if last.get("role") == "tool":
        return _answer_tool_results(messages, ctx)
    if last.get("role") != "user":
        return "Is there anything else I can help you with?"
    offered = {t.get("function", {}).get("name") for t in request.tools}
    return _answer_user(_content_text(last), ctx, offered)


class _Context:
    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.tz = str(raw.get("timezone") or "UTC")
        now_raw = raw.get("now")
        now = datetime.fromisoformat(now_raw) if isinstance(now_raw, str) else now_raw
        if not isinstance(now, datetime):
            now = datetime.now(UTC)  # only when the caller gave no clock: still no I/O
        self.now = local_now(now, self.tz)
        self.preferences: dict[str, Any] = raw.get("preferences") or {}

    def items(self, key: str) -> list[dict[str, Any]]:
        value = self.raw.get(key) or []
        if isinstance(value, dict):
            value = list(value.values())
        return [v for v in value if isinstance(v, dict)]

    def local(self, value: Any) -> datetime | None:
        parsed = _parse_dt(value)
        if parsed is None:
            return None
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=self.now.tzinfo)
        return parsed.astimezone(self.now.tzinfo)


def _answer_user(text: str, ctx: _Context, offered: set[Any]) -> str | list[ToolCallChunk]:
    intent = recognize_intent(text, ctx.now, ctx.tz)
    if intent is not None:
        if intent.problem:
            return f"I can't search that: {intent.problem} Could you give me another date?"
        if "departure_date" in intent.missing:
            where = intent.arguments.get("destination", "there")
            return (
                f"When would you like to fly to {where}? Tell me a date, "
                "like “next Friday” or “Dec 3”."
            )
        if (
            intent.name == "search_flights"
            and "origin" not in intent.arguments
            and "preferences" in ctx.raw
            and not ctx.preferences.get("home_airport")
        ):
            return (
                f"Where will you fly from to {intent.arguments['destination']}? You can also "
                "tell me your home airport (“My home airport is SFO”) and I'll use it next time."
            )
        if intent.name in offered:
            return [make_tool_call(intent.name, intent.arguments)]
        if intent.name == "summarize_agenda":
            return _agenda_text(intent.arguments["range"], None, None, ctx)
    return _small_talk(text, ctx)


def _small_talk(text: str, ctx: _Context) -> str:
    lower = text.lower()
    if re.search(r"\b(?:agenda|schedule|calendar|today|tasks?)\b", lower):
        return _agenda_text("today", None, None, ctx)
    if re.search(r"\b(?:what do you (?:know|remember)|my preferences|about me)\b", lower):
        facts = [f"{_label(k)}: {_fmt_value(v)}" for k, v in ctx.preferences.items()]
        facts += [f"{_label(m.get('key', ''))}: {m.get('value')}" for m in ctx.items("memories")]
        if not facts:
            return "I don't have anything pinned about you yet. Tell me, e.g. “Remember that…”."
        return "Here's what I know about you:\n" + "\n".join(f"• {f}" for f in facts)
    if re.match(r"^(?:hi|hello|hey|good (?:morning|afternoon|evening))\b", lower):
        return "Hi! " + CAPABILITIES
    if re.match(r"^(?:thanks|thank you|thx|cheers)\b", lower):
        return "You're welcome! Anything else?"
    open_tasks = [t for t in ctx.items("tasks") if t.get("status", "open") == "open"]
    tail = (
        f" You have {len(open_tasks)} open task{'s' * (len(open_tasks) != 1)}."
        if open_tasks
        else ""
    )
    return "I'm not sure how to help with that yet. " + CAPABILITIES + tail


# --- tool results ----------------------------------------------------------------------------


def _answer_tool_results(messages: list[dict[str, Any]], ctx: _Context) -> str:
    results: list[dict[str, Any]] = []
    for message in reversed(messages):
        if message.get("role") != "tool":
            break
        results.append(message)
    results.reverse()
    names: dict[str, str] = {}
    for message in messages:
        for call in message.get("tool_calls") or []:
            names[call.get("id", "")] = (call.get("function") or {}).get("name", "")
    parts = []
    for message in results:
        name = names.get(message.get("tool_call_id", ""), message.get("name", ""))
        parts.append(_answer_one(name, _json(message.get("content")), ctx))
    return "\n\n".join(p for p in parts if p)


def _answer_one(name: str, result: Any, ctx: _Context) -> str:
    error = _error_of(result)
    if error is not None:
        return _error_text(name, error, _error_code(result))
    if not isinstance(result, dict):
        result = {"value": result}
    if name == "create_task":
        task = result.get("task") if isinstance(result.get("task"), dict) else result
        title = task.get("title", "the task")
        due = ctx.local(task.get("due"))
        when = f" for {_when_phrase(due, ctx.now)}" if due else " to your tasks"
        flag = " (high priority)" if task.get("priority") == "high" else ""
        return f"Done — I added “{title}”{when}{flag}."
    if name == "update_task":
        task = result.get("task") if isinstance(result.get("task"), dict) else result
        title = task.get("title", "the task")
        if task.get("status") == "done":
            return f"Nice work — I marked “{title}” as done."
        details = []
        due = ctx.local(task.get("due"))
        if due:
            details.append(f"due {_when_phrase(due, ctx.now)}")
        if task.get("priority"):
            details.append(f"{task['priority']} priority")
        if task.get("status") == "open":
            details.append("open")
        return f"Updated “{title}”" + (f": {', '.join(details)}." if details else ".")
    if name == "summarize_agenda":
        return _agenda_text(
            str(result.get("range") or "today"),
            result.get("tasks"),
            result.get("events", result.get("calendar")),
            ctx,
        )
    if name == "set_preference":
        key, value = result.get("key", ""), result.get("value")
        if isinstance(result.get("preference"), dict):
            key, value = result["preference"].get("key", key), result["preference"].get("value")
        if value is True:  # "Non-stop flights preferred: yes" reads badly
            return f"Got it — I'll remember: {_label(key).lower()}."
        return f"Got it — I'll remember your {_label(key).lower()}: {_fmt_value(value)}."
    if name == "pin_memory":
        memory = result.get("memory") if isinstance(result.get("memory"), dict) else result
        return f"I'll remember that — {_label(memory.get('key', 'note'))}: {memory.get('value')}."
    if name == "search_flights":
        return _flights_text(result, ctx)
    if name == "select_flight":
        return _selection_text(result, ctx)
    return "Done."


def _error_of(result: Any) -> str | None:
    if not isinstance(result, dict):
        return None
    error = result.get("error")
    if isinstance(error, dict):
        return str(error.get("message") or error.get("code") or "unknown error")
    if error:
        return str(error)
    if result.get("ok") is False:
        return str(result.get("message") or "it didn't work")
    return None


_ERROR_INTRO = {
    "create_task": "I couldn't add that task",
    "update_task": "I couldn't update that task",
    "summarize_agenda": "I couldn't read your agenda",
    "set_preference": "I couldn't save that preference",
    "pin_memory": "I couldn't pin that",
    "search_flights": "I couldn't search flights",
    "select_flight": "I couldn't select that flight",
}


def _error_code(result: Any) -> str | None:
    error = result.get("error") if isinstance(result, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return str(code or result.get("code") or "") or None if isinstance(result, dict) else None


def _error_text(name: str, message: str, code: str | None = None) -> str:
    message = message.strip()
    if message.endswith("?"):  # the tool already asks the user something: pass it on
        return message
    if code == "declined":  # the user said no when asked to approve: nothing to apologise for
        return message
    if code in ("rate_limited", "tool_error"):  # complete sentences meant for the user
        return f"Sorry — {message[:1].lower() + message[1:]}"
    intro = _ERROR_INTRO.get(name, "Something went wrong")
    message = message.rstrip(".")
    return f"Sorry — {intro}: {message[:1].lower() + message[1:]}. Want to try again?"


# agenda -------------------------------------------------------------------------------------


def _agenda_text(rng: str, tasks: Any, events: Any, ctx: _Context) -> str:
    today = ctx.now.date()
    start = today
    if rng == "tomorrow":
        start = date.fromordinal(today.toordinal() + 1)
    end = date.fromordinal(start.toordinal() + (6 if rng == "week" else 0))
    label = {"today": "today", "tomorrow": "tomorrow", "week": "the next 7 days"}.get(rng, rng)

    def in_range(day: date | None) -> bool:
        return day is not None and start <= day <= end

    event_items = _dicts(events) if events is not None else ctx.items("calendar")
    task_items = _dicts(tasks) if tasks is not None else ctx.items("tasks")
    lines: list[tuple[datetime, str]] = []
    for event in event_items:
        begins = ctx.local(event.get("start"))
        if begins is None or not in_range(begins.date()):
            continue
        when = "all day" if event.get("all_day") else _clock(begins)
        day = f"{begins:%a} " if rng == "week" else ""
        where = f" ({event['location']})" if event.get("location") else ""
        lines.append((begins, f"{day}{when} — {event.get('title') or 'Busy'}{where}"))
    overdue = 0
    for task in task_items:
        if task.get("status", "open") != "open":
            continue
        due = ctx.local(task.get("due"))
        if due is None or not in_range(due.date()):
            if due is not None and due.date() < today and tasks is None:
                overdue += 1
            continue
        day = f"{due:%a} " if rng == "week" else ""
        flag = " ❗" if task.get("priority") == "high" else ""
        lines.append((due, f"{day}task: {task.get('title')} (due {_clock(due)}){flag}"))
    lines.sort(key=lambda item: item[0])
    if not lines:
        text = f"Your agenda for {label} is clear — no events or tasks due."
    else:
        text = f"Here's your agenda for {label}:\n" + "\n".join(f"• {s}" for _, s in lines)
    if overdue:
        text += f"\nYou also have {overdue} overdue task{'s' * (overdue != 1)}."
    return text


# flights ------------------------------------------------------------------------------------


def _flights_text(result: dict[str, Any], ctx: _Context) -> str:
    options = _dicts(result.get("options") or result.get("offers") or [])
    if not options:
        return "I couldn't find any flights for that search. Want to try another date or airport?"
    by_id = {str(o.get("id")): o for o in options}
    ranked: list[tuple[dict[str, Any], str | None]] = []
    for entry in sorted(_dicts(result.get("ranking") or []), key=lambda r: r.get("rank", 99)):
        option = by_id.get(str(entry.get("flight_id")))
        if option is not None:
            ranked.append((option, entry.get("reasoning")))
    seen = {id(o) for o, _ in ranked}
    ranked += [(o, None) for o in options if id(o) not in seen]
    top = ranked[:3]
    cheapest = min((_price(o)[0] for o in options if _price(o)[0] is not None), default=None)
    first = top[0][0]
    route = f"{_code(first.get('origin'))} → {_code(first.get('destination'))}"
    lines = []
    for rank, (option, reasoning) in enumerate(top, start=1):
        reason = reasoning or _default_reason(option, cheapest)
        lines.append(f"{rank}. {_flight_line(option)}" + (f" — {reason}" if reason else ""))
    return (
        f"Here are the top {len(top)} flights {route}:\n"
        + "\n".join(lines)
        + "\nSay “book the first one” (or another number) to choose."
    )


def _selection_text(result: dict[str, Any], ctx: _Context) -> str:
    flight = result.get("flight") or result.get("option") or {}
    label = (
        _flight_line(flight)
        if isinstance(flight, dict) and flight
        else result.get("flight_id", "that flight")
    )
    text = f"Great choice — {label} is selected."
    tasks = _dicts(result.get("follow_up_tasks") or result.get("tasks") or [])
    if tasks:
        lines = []
        for task in tasks:
            due = ctx.local(task.get("due"))
            lines.append(
                f"• {task.get('title')}" + (f" ({_when_phrase(due, ctx.now)})" if due else "")
            )
        text += " I added these follow-up tasks:\n" + "\n".join(lines)
    return text


def _flight_line(option: dict[str, Any]) -> str:
    owner = option.get("owner")
    airline = (
        option.get("airline_name")
        or _nested(option, "airline", "name")
        or (owner.get("name") if isinstance(owner, dict) else None)
        or option.get("airline_code")
    )
    number = option.get("flight_number") or ""
    dep = _dt_of(option.get("departure"))
    arr = _dt_of(option.get("arrival"))
    parts = [" ".join(p for p in (airline, number) if p) or str(option.get("id", "Flight"))]
    if dep is not None:
        times = f"{dep:%a %b} {dep.day}, {_clock(dep)}"
        if arr is not None:
            times += f" → {_clock(arr)}"
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
            return _parse_dt(iso)
        if value.get("date") and value.get("time"):
            return _parse_dt(f"{value['date']}T{value['time']}")
        return None
    return _parse_dt(value)


def _nested(obj: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)  # type: ignore[assignment]
    return obj


# --- small helpers ---------------------------------------------------------------------------


def _content_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI content parts
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    if content is None and message.get("tool_calls"):
        return json.dumps(message["tool_calls"])
    return "" if content is None else json.dumps(content)


def _json(content: Any) -> Any:
    if isinstance(content, str):
        try:
            return json.loads(content)
        except ValueError:
            return {"value": content}
    return content


def _dicts(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        value = list(value.values())
    if not isinstance(value, Iterable) or isinstance(value, str):
        return []
    return [v for v in value if isinstance(v, dict)]


def _parse_dt(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def _clock(moment: datetime) -> str:
    hour = moment.hour % 12 or 12
    return f"{hour}:{moment.minute:02d} {'AM' if moment.hour < 12 else 'PM'}"


def _when_phrase(moment: datetime, now: datetime) -> str:
    days = (moment.date() - now.date()).days
    if days == 0:
        day = "today"
    elif days == 1:
        day = "tomorrow"
    elif days == -1:
        day = "yesterday"
    elif 1 < days < 7:
        day = f"{moment:%A}"
    else:
        day = f"{moment:%a, %b} {moment.day}"
        if moment.year != now.year:
            day += f", {moment.year}"
    return f"{day} at {_clock(moment)}"


_LABELS = {
    "home_airport": "Home airport",
    "prefer_nonstop": "Non-stop flights preferred",
    "seat": "Seat",
    "cabin_class": "Cabin class",
    "budget": "Budget",
    "preferred_airline": "Preferred airline",
}


def _label(key: str) -> str:
    return _LABELS.get(key) or key.replace("_", " ").replace(".", " ").strip().capitalize()


def _fmt_value(value: Any) -> str:
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if isinstance(value, str):
        return value.replace("_", " ")
    return str(value)


__all__ = ["OfflineProvider", "respond", "split_pieces", "count_tokens"]
