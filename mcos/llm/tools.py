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
# XML-ish wrappers small models put around calls; the closing tag may be missing at the end.
_WRAPPER_TAGS = ("tool_call", "tool_calls", "tools", "function_call", "functioncall")
_WRAPPER_RE = re.compile(
    r"<(" + "|".join(_WRAPPER_TAGS) + r")>(.*?)(?:</\1>|\Z)", re.DOTALL | re.IGNORECASE
)
# Markers that start tool-call syntax anywhere in streamed text: text from one on is held.
TOOL_TEXT_MARKERS: tuple[str, ...] = (
    *(f"<{t}>" for t in _WRAPPER_TAGS),
    PYTHON_TAG,
    "```json",
    "```tool_call",
)
_FENCE_LANGS = ("", "json", "tool_call", "tool_calls")
_NAME_KEYS = ("name", "tool", "tool_name", "function_name", "function")
_ARG_KEYS = ("arguments", "parameters", "args", "input")


def _loads_lenient(text: str) -> list[Any] | None:
    """JSON values in ``text``: one value, one per line, or with doubled ``{{ }}`` braces."""
    text = text.strip()
    if not text:
        return None
    attempts = [text]
    if "{{" in text or "}}" in text:  # models imitating a template's escaped braces
        attempts.append(text.replace("{{", "{").replace("}}", "}"))
    for attempt in attempts:
        try:
            return [json.loads(attempt)]
        except ValueError:
            pass
        lines = [ln.strip().rstrip(",;") for ln in attempt.splitlines() if ln.strip()]
        try:
            return [json.loads(line) for line in lines]
        except ValueError:
            continue
    return None


def _candidate_payloads(text: str) -> list[Any] | None:
    stripped = text.strip()
    if stripped.startswith(PYTHON_TAG):
        stripped = stripped[len(PYTHON_TAG) :].strip()
    wrapped = _WRAPPER_RE.findall(stripped)
    if wrapped:
        payloads: list[Any] = []
        for _tag, body in wrapped:
            inner = _candidate_payloads(body)  # a fence inside a wrapper is common
            if inner is None:
                return None
            payloads.extend(inner)
        return payloads
    fences = _FENCE_RE.findall(stripped)
    if fences:
        payloads = []
        for lang, body in fences:
            if lang.lower() not in _FENCE_LANGS:
                return None
            values = _loads_lenient(body)
            if values is None:
                return None
            payloads.extend(values)
        return payloads
    if not stripped or stripped[0] not in "{[":
        return None
    return _loads_lenient(stripped)


def _flatten(payload: Any) -> list[Any]:
    if isinstance(payload, list):
        return [item for p in payload for item in _flatten(p)]
    if isinstance(payload, dict) and isinstance(payload.get("tool_calls"), list):
        return _flatten(payload["tool_calls"])
    return [payload]


def _name_and_args(obj: Any) -> tuple[str, Any] | None:
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
    return name, {} if args is None else args


def _one_call(obj: Any) -> tuple[str, dict[str, Any]] | None:
    found = _name_and_args(obj)
    if found is None:
        return None
    try:
        return found[0], validate_arguments(found[0], found[1])
    except ValueError:
        return None


def parse_tool_calls_from_text(text: str) -> list[ToolCall] | None:
    """Tool calls written as text, or ``None`` when the text is not (entirely) tool calls.

    Accepted, leniently: a JSON object or array (optionally after ``<|python_tag|>``), one
    object per line, fenced ```json blocks, ``<tool_call>``/``<tools>``/``<function_call>``
    wrappers (prose around fences and wrappers is ignored; a missing closing tag at the end
    is tolerated), and doubled ``{{ }}`` braces. Each call is ``{"name"|"tool"|"function":
    ..., "arguments"|"parameters": {...}}`` (arguments may be a JSON string), OpenAI's
    ``{"type": "function", "function": {...}}``, or a ``{"tool_calls": [...]}`` wrapper.
    If any call is unknown or has invalid arguments, nothing is returned: malformed output
    is never half-trusted.
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


def looks_like_tool_call(text: str, tool_names: set[str] | frozenset[str]) -> bool:
    """Whether ``text`` is an attempt at a tool call (even a broken one), never a reply.

    True when it uses explicit tool-call syntax (a wrapper tag, ``<|python_tag|>``) or
    when its JSON names an offered tool; plain JSON or code the user asked for is not.
    """
    lowered = text.lower()
    if PYTHON_TAG in text or any(f"<{t}>" in lowered for t in _WRAPPER_TAGS):
        return True
    for payload in _candidate_payloads(text) or []:
        for obj in _flatten(payload):
            found = _name_and_args(obj)
            if found is not None and found[0] in tool_names:
                return True
    # Cut-off JSON that cannot parse: judge by a quoted offered tool name near a name key.
    stripped = text.lstrip().lstrip("`").removeprefix("json").lstrip()
    if stripped[:1] in ("{", "["):
        head = stripped[:200]
        return any(re.search(rf'"{re.escape(n)}"', head) for n in tool_names) and bool(
            re.search(r'"(name|tool|function|tool_name)"\s*:', head)
        )
    return False


def could_be_tool_call_text(prefix: str) -> bool:
    """Whether a reply starting with ``prefix`` might turn out to be a tool call.

    Used by streaming providers to decide to hold the start of a reply back.
    """
    s = prefix.lstrip()
    if not s:
        return True
    if s[0] in "{[":
        return True
    lowered = s.lower()
    for marker in (PYTHON_TAG, *(f"<{t}>" for t in _WRAPPER_TAGS)):
        if marker.startswith(lowered) or lowered.startswith(marker):
            return True
    if "```".startswith(s):
        return True
    if s.startswith("```"):
        # Only fences that may hold JSON: no language tag, or json.
        first_line = s[3:].split("\n", 1)
        lang = first_line[0].strip().lower()
        if len(first_line) == 1:  # language tag still incomplete
            return any(t.startswith(lang) for t in _FENCE_LANGS if t) or not lang
        return lang in _FENCE_LANGS
    return False


class ToolTextFilter:
    """Holds back streamed text that is, or may become, a tool call written as text.

    :meth:`feed` returns what can be shown now. A reply that *starts* like a tool call
    (see :func:`could_be_tool_call_text`) is held whole; otherwise text streams, except
    that from a tool-call marker (:data:`TOOL_TEXT_MARKERS`) on, everything is held, and
    a trailing fragment that may be the start of a marker waits for the next piece.
    :meth:`finish` returns the remaining visible text and the held text to parse.
    """

    def __init__(self) -> None:
        self._pending = ""
        self._held: str | None = None
        self._streaming = False

    def feed(self, text: str) -> str:
        if self._held is not None:
            self._held += text
            return ""
        self._pending += text
        if not self._streaming:
            if could_be_tool_call_text(self._pending):
                stripped = self._pending.lstrip()
                if stripped and not any(
                    m.startswith(stripped.lower()) for m in ("```", PYTHON_TAG, "<tool", "<func")
                ):
                    self._held, self._pending = self._pending, ""
                return ""
            self._streaming = True
        return self._release()

    def _release(self) -> str:
        lowered = self._pending.lower()
        hits = [i for i in (lowered.find(m) for m in TOOL_TEXT_MARKERS) if i >= 0]
        if hits:
            cut = min(hits)
            out, self._held, self._pending = self._pending[:cut], self._pending[cut:], ""
            return out
        keep = 0
        for marker in TOOL_TEXT_MARKERS:
            for k in range(min(len(marker) - 1, len(lowered)), 0, -1):
                if marker.startswith(lowered[-k:]):
                    keep = max(keep, k)
                    break
        out = self._pending[: len(self._pending) - keep]
        self._pending = self._pending[len(self._pending) - keep :]
        return out

    def finish(self) -> tuple[str, str]:
        """(text still to show, held text to parse as tool calls)."""
        if self._held is None and not self._streaming:
            # Undecided to the end (e.g. only "<" or whitespace): parse it like held text.
            self._held, self._pending = self._pending, ""
        visible, self._pending = self._pending, ""
        held, self._held = self._held or "", None
        return visible, held
