"""What a skill is made of, and the plain data its parts exchange.

A :class:`Skill` declares, as data, its :class:`Tool` s (the OpenAI function schema, the
argument validator, the pure state handler and the offline model's reply text after the
result) and its :class:`Recogniser` s (what the offline model matches in the user's text
and the tool call — an :class:`Intent` — or the direct answer — a :class:`Say` — it
makes). :mod:`mcos.skills.registry` lists the skills; everything else is driven by it.

Nothing here reads a clock or does I/O: ``now`` and the id factory are passed in.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mcos.kernel.models import BrainState
from mcos.skills.text import parse_datetime
from mcos.skills.when import local_now


class SkillInputError(ValueError):
    """The user's request cannot be carried out as asked; the message says why."""


@dataclass
class SkillContext:
    """What a state handler may read: the brain's state, the time, the user's zone, ids."""

    state: BrainState
    now: datetime
    timezone: str
    new_id: Callable[[str], str]


@dataclass
class ToolOutcome:
    """A tool's answer: the result the model reads, a card for the UI, events to apply."""

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


# --- the offline model's side -----------------------------------------------------------


@dataclass
class Conversation:
    """What the offline model knows when it reads a message or a tool result.

    Built from the request's ``context`` (see :func:`mcos.skills.core.offline_context`):
    the local time, the user's tasks, calendar, preferences, memories and recent flight
    searches, and ``focus``: what the conversation last showed, newest first (``{"kind":
    "task", "id"}`` or ``{"kind": "flight_search", "search_id"}``), so "move it to 4pm"
    knows what "it" is.
    """

    now: datetime  # in the user's zone
    timezone: str = "UTC"
    tasks: list[dict[str, Any]] = field(default_factory=list)
    calendar: list[dict[str, Any]] = field(default_factory=list)
    preferences: dict[str, Any] = field(default_factory=dict)
    memories: list[dict[str, Any]] = field(default_factory=list)
    flight_searches: list[dict[str, Any]] = field(default_factory=list)
    focus: list[dict[str, Any]] = field(default_factory=list)
    knows_preferences: bool = False  # the context carried the preferences at all

    @classmethod
    def from_context(cls, raw: dict[str, Any], fallback_now: datetime) -> Conversation:
        tz = str(raw.get("timezone") or "UTC")
        now = parse_datetime(raw.get("now")) or fallback_now
        return cls(
            now=local_now(now, tz),
            timezone=tz,
            tasks=dicts(raw.get("tasks")),
            calendar=dicts(raw.get("calendar")),
            preferences=dict(raw.get("preferences") or {}),
            memories=dicts(raw.get("memories")),
            flight_searches=dicts(raw.get("flight_searches")),
            focus=dicts(raw.get("focus")),
            knows_preferences="preferences" in raw,
        )

    def local(self, value: Any) -> datetime | None:
        parsed = parse_datetime(value)
        if parsed is None:
            return None
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=self.now.tzinfo)
        return parsed.astimezone(self.now.tzinfo)

    def open_tasks(self) -> list[dict[str, Any]]:
        return [t for t in self.tasks if t.get("status", "open") == "open"]

    def task(self, task_id: str | None) -> dict[str, Any] | None:
        return next((t for t in self.tasks if task_id and t.get("id") == task_id), None)

    def focus_of(self, kind: str) -> dict[str, Any] | None:
        """The latest referent of ``kind`` (the first of ``focus`` if it is one)."""
        first = self.focus[0] if self.focus else None
        return first if first is not None and first.get("kind") == kind else None

    def focus_task(self) -> dict[str, Any] | None:
        """The task "it" refers to: the one the conversation last showed, else the task
        created or changed last."""
        ref = next((f for f in self.focus if f.get("kind") == "task"), None)
        if ref is not None and (task := self.task(ref.get("id"))) is not None:
            return task
        touched = [t for t in self.tasks if t.get("updated_at") or t.get("created_at")]
        if not touched:
            return None
        return max(touched, key=lambda t: str(t.get("updated_at") or t.get("created_at")))

    def latest_search(self) -> dict[str, Any] | None:
        return self.flight_searches[-1] if self.flight_searches else None


@dataclass
class Utterance:
    """One message (or one part of a multi-part message) as the recognisers see it:
    ``text`` with keyword typos corrected, and ``raw`` as the user wrote it (for values
    that must not be "corrected", such as a name)."""

    text: str
    raw: str


@dataclass
class Intent:
    """A tool call the offline model makes: ``name`` and its (valid) arguments."""

    name: str
    arguments: dict[str, Any]


@dataclass
class Say:
    """A direct answer instead of a tool call: a question for what is missing, an
    explanation why the request cannot be done, or an answer from the context."""

    text: str


Recognition = Intent | Say
RecogniseFn = Callable[[Utterance, Conversation], Recognition | None]
StateHandler = Callable[[SkillContext, dict[str, Any]], ToolOutcome]
Validator = Callable[[dict[str, Any]], dict[str, Any]]
ReplyFn = Callable[[dict[str, Any], Conversation], str]


@dataclass(frozen=True)
class Recogniser:
    """One pattern of the offline model. Recognisers of all skills are tried in ``order``
    (lower first): specific patterns (select a flight) before broad ones (a task)."""

    order: int
    match: RecogniseFn


@dataclass(frozen=True)
class Tool:
    """One tool the model may call.

    ``handler`` is the pure state handler (state + args → events + result + card); a tool
    without one is run by the turn as an activity (flight search). ``reply`` is what the
    offline model says after the result. A ``read_only`` tool the model was not offered
    is answered by ``reply`` straight from the context.
    """

    name: str
    description: str
    properties: dict[str, Any]
    required: tuple[str, ...]
    validate: Validator
    reply: ReplyFn
    handler: StateHandler | None = None
    error_intro: str = "Something went wrong"
    read_only: bool = False

    def schema(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": {
                    "type": "object",
                    "properties": self.properties,
                    "required": list(self.required),
                },
            },
        }


@dataclass(frozen=True)
class Skill:
    """A chat skill: its tools, its recognisers, what it can do (for "I can …"), the
    keywords whose misspellings the offline model corrects, and the lead a follow-on
    request may leave out ("remind me to " in "add X, and also call mom")."""

    name: str
    tools: tuple[Tool, ...] = ()
    recognisers: tuple[Recogniser, ...] = ()
    can: str = ""
    vocabulary: frozenset[str] = frozenset()
    continuation_lead: str = ""


# --- argument validation helpers ----------------------------------------------------------

DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def arg_int(value: Any, name: str, lo: int, hi: int | None = None) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or value < lo or (hi is not None and value > hi):
        raise ValueError(f"{name} out of range")
    return value


def arg_text(args: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = args.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValueError(f"{name} is required")
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string")
    return value.strip()


def arg_enum(args: dict[str, Any], name: str, allowed: tuple[str, ...]) -> str | None:
    value = arg_text(args, name)
    if value is None:
        return None
    value = value.lower().replace(" ", "_").replace("-", "_")
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}")
    return value


def arg_date(args: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = arg_text(args, name, required=required)
    if value is not None and not DATE_RE.match(value):
        raise ValueError(f"{name} must be YYYY-MM-DD")
    return value


def arg_datetime(args: dict[str, Any], name: str) -> str | None:
    """An ISO 8601 datetime (or date); one without offset is meant in the user's zone."""
    value = arg_text(args, name)
    if value is not None:
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{name} must be an ISO 8601 datetime") from None
    return value


def put(out: dict[str, Any], key: str, value: Any) -> None:
    """Set ``out[key]`` unless ``value`` is None."""
    if value is not None:
        out[key] = value


def dicts(value: Any) -> list[dict[str, Any]]:
    """The dicts in a list (or a dict's values); anything else → ``[]``."""
    if isinstance(value, dict):
        value = list(value.values())
    if not isinstance(value, list | tuple):
        return []
    return [v for v in value if isinstance(v, dict)]
