"""Tool calls: deterministic ids, and the JSON-in-text fallback parser.

The tool schemas and their argument validation belong to the skills
(:mod:`mcos.skills.registry`); they are re-exported here for the providers.

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
from typing import Any

from mcos.llm.base import ToolCall
from mcos.skills.registry import REGISTRY

# The tools are declared by the skills (mcos.skills.registry); the parser below accepts a
# call only when its tool is one of them and its arguments pass the tool's validation.
TOOL_SCHEMAS: list[dict[str, Any]] = REGISTRY.schemas()
TOOLS_BY_NAME: dict[str, dict[str, Any]] = {t["function"]["name"]: t for t in TOOL_SCHEMAS}
TOOL_NAMES: frozenset[str] = REGISTRY.names
validate_arguments = REGISTRY.validate


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


def tools_digest(schemas: list[dict[str, Any]]) -> str:
    """A short digest of tool definitions: the LLM activity's input names its tools and
    carries this instead of the ~4 KB of schemas; the activity rebuilds them from the same
    registry and checks the digest (a worker whose tools differ refuses, loudly)."""
    text = json.dumps(schemas, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
