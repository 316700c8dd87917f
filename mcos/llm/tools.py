"""OpenAI tool schemas for the chat skills, argument validation, and the JSON-in-text fallback.

Some models (Llama on Workers AI, small Ollama models) answer a tool request with text
instead of ``tool_calls``: a bare JSON object/array such as ``{"name": ..., "arguments":
...}`` or ``{"tool": ..., "parameters": ...}``, a fenced ```json block, or Llama's
``<|python_tag|>`` prefix. :func:`parse_tool_calls_from_text` turns such text into tool calls
when, and only when, every call names a known tool and carries valid arguments.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from typing import Any

from mcos.llm.base import ToolCall

PRIORITIES = ("low", "normal", "high")
TASK_STATUSES = ("open", "done")
AGENDA_RANGES = ("today", "tomorrow", "week")
MEMORY_TYPES = ("fact", "preference", "note")
CABIN_CLASSES = ("economy", "premium_economy", "business", "first")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _fn(name: str, description: str, properties: dict[str, Any], required: list[str]) -> dict:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": properties, "required": required},
        },
    }


_DUE = {
    "type": ["string", "null"],
    "description": "ISO 8601 datetime with UTC offset in the user's time zone, "
    "e.g. 2026-12-03T15:00:00-08:00; null when there is no due date.",
}

TOOL_SCHEMAS: list[dict[str, Any]] = [
    _fn(
        "create_task",
        "Create a task or reminder for the user.",
        {
            "title": {"type": "string", "description": "Short imperative title, e.g. 'Call John'."},
            "due": _DUE,
            "priority": {"type": "string", "enum": list(PRIORITIES), "default": "normal"},
            "duration_minutes": {
                "type": "integer",
                "minimum": 1,
                "description": "How long the task takes, when the user said so.",
            },
        },
        ["title"],
    ),
    _fn(
        "update_task",
        "Change an existing task (complete it, rename it, move its due date, reprioritise). "
        "Identify it by task_id, or by title_query (words from its title).",
        {
            "task_id": {"type": "string"},
            "title_query": {"type": "string", "description": "Words from the task's title."},
            "status": {"type": "string", "enum": list(TASK_STATUSES)},
            "title": {"type": "string"},
            "due": _DUE,
            "priority": {"type": "string", "enum": list(PRIORITIES)},
        },
        [],
    ),
    _fn(
        "summarize_agenda",
        "Summarize the user's tasks and calendar for a period.",
        {"range": {"type": "string", "enum": list(AGENDA_RANGES)}},
        ["range"],
    ),
    _fn(
        "set_preference",
        "Remember a user preference, e.g. home_airport, seat, cabin_class, prefer_nonstop, "
        "budget, preferred_airlines.",
        {
            "key": {"type": "string", "pattern": r"^[A-Za-z0-9_.:-]{1,64}$"},
            "value": {"type": ["string", "number", "boolean"]},
        },
        ["key", "value"],
    ),
    _fn(
        "pin_memory",
        "Pin a fact the user asked you to remember.",
        {
            "key": {"type": "string", "pattern": r"^[A-Za-z0-9_.:-]{1,64}$"},
            "value": {"type": "string"},
            "type": {"type": "string", "enum": list(MEMORY_TYPES), "default": "fact"},
        },
        ["key", "value"],
    ),
    _fn(
        "search_flights",
        "Search flights. Airports as IATA codes or city names. Omit origin to use the "
        "user's home airport.",
        {
            "origin": {"type": "string", "description": "IATA code or city name."},
            "destination": {"type": "string", "description": "IATA code or city name."},
            "departure_date": {"type": "string", "description": "YYYY-MM-DD"},
            "return_date": {"type": "string", "description": "YYYY-MM-DD, for a round trip."},
            "cabin_class": {"type": "string", "enum": list(CABIN_CLASSES)},
            "adults": {"type": "integer", "minimum": 1, "maximum": 9, "default": 1},
            "max_connections": {"type": "integer", "minimum": 0, "maximum": 3},
        },
        ["destination", "departure_date"],
    ),
    _fn(
        "select_flight",
        "Select one of the options of a flight search (the latest one unless search_id).",
        {
            "search_id": {"type": "string"},
            "option_rank": {"type": "integer", "minimum": 1, "description": "1-based rank."},
            "flight_id": {"type": "string"},
        },
        [],
    ),
]

TOOLS_BY_NAME: dict[str, dict[str, Any]] = {t["function"]["name"]: t for t in TOOL_SCHEMAS}
TOOL_NAMES: frozenset[str] = frozenset(TOOLS_BY_NAME)


# --- validation ------------------------------------------------------------------------


def _int(value: Any, field: str, lo: int, hi: int | None = None) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{field} must be an integer")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or value < lo or (hi is not None and value > hi):
        raise ValueError(f"{field} out of range")
    return value


def _text(args: dict[str, Any], field: str, *, required: bool = False) -> str | None:
    value = args.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValueError(f"{field} is required")
        return None
    if not isinstance(value, str):
        raise ValueError(f"{field} must be a string")
    return value.strip()


def _enum(args: dict[str, Any], field: str, allowed: tuple[str, ...]) -> str | None:
    value = _text(args, field)
    if value is None:
        return None
    value = value.lower().replace(" ", "_").replace("-", "_")
    if value not in allowed:
        raise ValueError(f"{field} must be one of {allowed}")
    return value


def _date(args: dict[str, Any], field: str, *, required: bool = False) -> str | None:
    value = _text(args, field, required=required)
    if value is not None and not DATE_RE.match(value):
        raise ValueError(f"{field} must be YYYY-MM-DD")
    return value


def _datetime(args: dict[str, Any], field: str) -> str | None:
    """An ISO 8601 datetime (or date); one without offset is meant in the user's time zone."""
    value = _text(args, field)
    if value is not None:
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{field} must be an ISO 8601 datetime") from None
    return value


def validate_arguments(name: str, arguments: Any) -> dict[str, Any]:
    """Validated, lightly normalised arguments for tool ``name``; raises ``ValueError``.

    Normalises what models commonly get slightly wrong (numeric strings for integers,
    enum case); never invents a value. Unknown keys are dropped.
    """
    if name not in TOOL_NAMES:
        raise ValueError(f"unknown tool {name!r}")
    if not isinstance(arguments, dict):
        raise ValueError("arguments must be an object")
    a = arguments
    out: dict[str, Any] = {}

    def put(key: str, value: Any) -> None:
        if value is not None:
            out[key] = value

    if name == "create_task":
        put("title", _text(a, "title", required=True))
        out["due"] = _datetime(a, "due")
        put("priority", _enum(a, "priority", PRIORITIES) or "normal")
        if a.get("duration_minutes") is not None:
            out["duration_minutes"] = _int(a["duration_minutes"], "duration_minutes", 1, 24 * 60)
    elif name == "update_task":
        put("task_id", _text(a, "task_id"))
        put("title_query", _text(a, "title_query"))
        if not out:
            raise ValueError("task_id or title_query is required")
        put("status", _enum(a, "status", TASK_STATUSES))
        put("title", _text(a, "title"))
        put("due", _datetime(a, "due"))
        put("priority", _enum(a, "priority", PRIORITIES))
    elif name == "summarize_agenda":
        rng = _enum(a, "range", AGENDA_RANGES)
        if rng is None:
            raise ValueError("range is required")
        out["range"] = rng
    elif name == "set_preference":
        put("key", _text(a, "key", required=True))
        if "value" not in a:
            raise ValueError("value is required")
        out["value"] = a["value"]
    elif name == "pin_memory":
        put("key", _text(a, "key", required=True))
        value = a.get("value")
        if isinstance(value, int | float | bool):
            value = str(value)
        put("value", _text({"value": value}, "value", required=True))
        put("type", _enum(a, "type", MEMORY_TYPES) or "fact")
    elif name == "search_flights":
        put("origin", _text(a, "origin"))
        put("destination", _text(a, "destination", required=True))
        put("departure_date", _date(a, "departure_date", required=True))
        put("return_date", _date(a, "return_date"))
        put("cabin_class", _enum(a, "cabin_class", CABIN_CLASSES))
        if a.get("adults") is not None:
            out["adults"] = _int(a["adults"], "adults", 1, 9)
        if a.get("max_connections") is not None:
            out["max_connections"] = _int(a["max_connections"], "max_connections", 0, 3)
    elif name == "select_flight":
        put("search_id", _text(a, "search_id"))
        if a.get("option_rank") is not None:
            out["option_rank"] = _int(a["option_rank"], "option_rank", 1)
        put("flight_id", _text(a, "flight_id"))
        if "option_rank" not in out and "flight_id" not in out:
            raise ValueError("option_rank or flight_id is required")
    return out


def tool_call_id(name: str, arguments: dict[str, Any], index: int = 0) -> str:
    """A deterministic id, so the same answer yields the same id (offline model, replays)."""
    digest = hashlib.sha256(
        f"{index}:{name}:{json.dumps(arguments, sort_keys=True)}".encode()
    ).hexdigest()
    return f"call_{digest[:24]}"


def make_tool_call(name: str, arguments: dict[str, Any], index: int = 0) -> ToolCall:
    return ToolCall(id=tool_call_id(name, arguments, index), name=name, arguments=arguments)


# --- JSON-in-text fallback -------------------------------------------------------------

PYTHON_TAG = "<|python_tag|>"
_FENCE_RE = re.compile(r"```[ \t]*([A-Za-z0-9_-]*)[ \t]*\n?(.*?)```", re.DOTALL)
_NAME_KEYS = ("name", "tool", "tool_name", "function_name")
_ARG_KEYS = ("arguments", "parameters", "args", "input")


def _candidate_payloads(text: str) -> list[Any] | None:
    stripped = text.strip()
    if stripped.startswith(PYTHON_TAG):
        stripped = stripped[len(PYTHON_TAG) :].strip()
    fences = _FENCE_RE.findall(stripped)
    if fences:
        payloads: list[Any] = []
        for lang, body in fences:
            if lang.lower() not in ("", "json", "tool_call", "tool_calls"):
                return None
            try:
                payloads.append(json.loads(body))
            except ValueError:
                return None
        return payloads
    if not stripped or stripped[0] not in "{[":
        return None
    try:
        return [json.loads(stripped)]
    except ValueError:
        pass
    # Several objects one per line (some models do that for parallel calls).
    lines = [line.strip().rstrip(",;") for line in stripped.splitlines() if line.strip()]
    try:
        return [json.loads(line) for line in lines]
    except ValueError:
        return None


def _flatten(payload: Any) -> list[Any]:
    if isinstance(payload, list):
        return [item for p in payload for item in _flatten(p)]
    if isinstance(payload, dict) and isinstance(payload.get("tool_calls"), list):
        return _flatten(payload["tool_calls"])
    return [payload]


def _one_call(obj: Any) -> tuple[str, dict[str, Any]] | None:
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("function"), dict):  # {"type": "function", "function": {...}}
        obj = obj["function"]
    name = next((obj[k] for k in _NAME_KEYS if isinstance(obj.get(k), str)), None)
    if name is None:
        return None
    args: Any = next((obj[k] for k in _ARG_KEYS if k in obj), {})
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except ValueError:
            return None
    if args is None:
        args = {}
    try:
        return name, validate_arguments(name, args)
    except ValueError:
        return None


def parse_tool_calls_from_text(text: str) -> list[ToolCall] | None:
    """Tool calls written as text, or ``None`` when the text is not (entirely) tool calls.

    Accepted: a JSON object or array (optionally after ``<|python_tag|>``), one object per
    line, or fenced ```json blocks (prose around the fences is ignored). Each call is
    ``{"name"|"tool": ..., "arguments"|"parameters": {...}}`` (arguments may be a JSON
    string), OpenAI's ``{"type": "function", "function": {...}}``, or a ``{"tool_calls":
    [...]}`` wrapper. If any call is unknown or has invalid arguments, nothing is returned:
    malformed output is never half-trusted.
    """
    payloads = _candidate_payloads(text)
    if not payloads:
        return None
    objects = [o for p in payloads for o in _flatten(p)]
    if not objects:
        return None
    calls: list[ToolCall] = []
    for index, obj in enumerate(objects):
        parsed = _one_call(obj)
        if parsed is None:
            return None
        calls.append(make_tool_call(parsed[0], parsed[1], index))
    return calls


def could_be_tool_call_text(prefix: str) -> bool:
    """Whether streamed text starting with ``prefix`` might turn out to be a tool call.

    Used by streaming providers to decide to hold text back instead of emitting it.
    """
    s = prefix.lstrip()
    if not s:
        return True
    if s[0] in "{[":
        return True
    if PYTHON_TAG.startswith(s) or s.startswith(PYTHON_TAG):
        return True
    if "```".startswith(s):
        return True
    if s.startswith("```"):
        # Only fences that may hold JSON: no language tag, or json.
        first_line = s[3:].split("\n", 1)
        lang = first_line[0].strip().lower()
        if len(first_line) == 1:  # language tag still incomplete
            return any(t.startswith(lang) for t in ("json", "tool_call", "tool_calls")) or not lang
        return lang in ("", "json", "tool_call", "tool_calls")
    return False
