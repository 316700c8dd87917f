"""Tasks and reminders: create, change (complete, move, rename, reprioritise) and delete.

"it"/"that" in "move it to 4pm", "mark it done", "delete it" is the task the conversation
last showed (see :meth:`Conversation.focus_task`). A moved task keeps its day when only a
time is given, and its time when only a day is given (:meth:`When.moved`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

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
    arg_datetime,
    arg_enum,
    arg_int,
    arg_text,
    put,
)
from mcos.skills.text import clock, sentence_case, similar, when_phrase, words
from mcos.skills.when import extract_when, tidy

PRIORITIES = ("low", "normal", "high")
TASK_STATUSES = ("open", "done")
PRONOUNS = frozenset({"it", "that", "this", "that one", "this one", "that task", "this task"})

_DUE = {
    "type": ["string", "null"],
    "description": "ISO 8601 datetime with UTC offset in the user's time zone, "
    "e.g. 2026-12-03T15:00:00-08:00; null when there is no due date.",
}
_WHICH = {
    "task_id": {
        "type": "string",
        "description": "The task's id or its ref from the context (e.g. t3fa9c1).",
    },
    "title_query": {"type": "string", "description": "Words from the task's title."},
}


# --- finding a task ------------------------------------------------------------------------

_QUERY_STOP = frozenset({"the", "my", "a", "an", "task", "todo", "reminder", "to", "for", "one"})


def title_score(query: str, title: str) -> int:
    """How many words of ``query`` the title has (typos and plurals forgiven)."""
    wanted = [w for w in words(query) if w not in _QUERY_STOP and len(w) > 1]
    have = words(title)
    return sum(1 for w in wanted if any(similar(w, h) for h in have))


def _best(candidates: list[tuple[int, bool, str, Any]]) -> Any | None:
    if not candidates:
        return None
    candidates.sort(key=lambda c: (c[0], c[1], c[2]))
    return candidates[-1][3]


def find_task(state: BrainState, task_id: str | None, query: str | None) -> Task:
    """The task ``task_id`` names, else the one whose title best matches ``query`` (open
    tasks and the most recently changed win ties)."""
    if task_id and task_id in state.tasks:
        return state.tasks[task_id]
    if task_id and (by_ref := _by_ref(state, task_id)) is not None:
        return by_ref
    if query:
        found = _best(
            [
                (score, t.status == "open", _stamp(t.updated_at or t.created_at), t)
                for t in state.tasks.values()
                if (score := title_score(query, t.title))
            ]
        )
        if found is not None:
            return found
    raise SkillInputError(f"I couldn't find a task matching '{query or task_id}'.")


REF_HEX = 6  # a task's short reference in the prompt: "t" + the last hex digits of its id


def task_ref(task_id: str) -> str:
    """The short name the prompt gives a task (its id's random tail; ids cost ~20 tokens)."""
    return "t" + task_id[-REF_HEX:]


def _by_ref(state: BrainState, ref: str) -> Task | None:
    """The one task whose id ends with the reference's hex digits (``t3fa9c1``,
    ``task_3fa9c1`` or a longer tail); none when no task or several match."""
    tail = ref.strip().lower().removeprefix("task_").removeprefix("t")
    if len(tail) < REF_HEX or any(c not in "0123456789abcdef" for c in tail):
        return None
    found = [t for t in state.tasks.values() if t.id.endswith(tail)]
    return found[0] if len(found) == 1 else None


def _stamp(value: datetime | None) -> str:
    return (value or datetime.min.replace(tzinfo=UTC)).isoformat()


def match_task(conv: Conversation, query: str) -> dict[str, Any] | None:
    """:func:`find_task` over the offline model's view of the tasks."""
    return _best(
        [
            (score, t.get("status", "open") == "open", str(t.get("updated_at") or ""), t)
            for t in conv.tasks
            if (score := title_score(query, str(t.get("title", ""))))
        ]
    )


# --- state handlers ------------------------------------------------------------------------


def parse_due(value: Any, tz: str) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        due = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise SkillInputError(f"I couldn't read the due date '{value}'.") from exc
    if due.tzinfo is None:
        due = due.replace(tzinfo=zone(tz))
    return due


def create_task(ctx: SkillContext, args: dict[str, Any]) -> ToolOutcome:
    task = Task(
        id=ctx.new_id("task"),
        title=str(args["title"])[:500],
        due=parse_due(args.get("due"), ctx.timezone),
        priority=args.get("priority", "normal"),
        source="chat",
    )
    data = task.model_dump(mode="json")
    return ToolOutcome(
        result={"ok": True, "task": data, "timezone": ctx.timezone},
        card={"type": "task", "action": "created", "task": data},
        events=[("task.created", data)],
    )


def update_task(ctx: SkillContext, args: dict[str, Any]) -> ToolOutcome:
    task = find_task(ctx.state, args.get("task_id"), args.get("title_query"))
    changes: dict[str, Any] = {}
    shown: dict[str, Any] = {}
    for key in ("title", "priority", "status"):
        if args.get(key) is not None:
            changes[key] = shown[key] = args[key]
    if "due" in args:
        due = parse_due(args["due"], ctx.timezone)
        if due is None:
            changes["clear_due"] = True
        else:
            changes["due"] = due.isoformat()
        shown["due"] = due
    if not changes:
        raise SkillInputError("What should I change about that task?")
    data = task.model_copy(update=shown).model_dump(mode="json")  # the task as it is now
    return ToolOutcome(
        result={"ok": True, "task": data, "changes": changes},
        card={"type": "task", "action": "updated", "task": data},
        events=[("task.updated", {"id": task.id, "changes": changes})],
    )


def delete_task(ctx: SkillContext, args: dict[str, Any]) -> ToolOutcome:
    task = find_task(ctx.state, args.get("task_id"), args.get("title_query"))
    data = task.model_dump(mode="json")
    # No card: the UI's task card is a live task, and this one is gone.
    return ToolOutcome(
        result={"ok": True, "deleted": True, "task": data},
        events=[("task.deleted", {"id": task.id})],
    )


# --- validation ------------------------------------------------------------------------------


def _which(args: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    put(out, "task_id", arg_text(args, "task_id"))
    put(out, "title_query", arg_text(args, "title_query"))
    if not out:
        raise ValueError("task_id or title_query is required")
    return out


def validate_create(args: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"title": arg_text(args, "title", required=True)}
    out["due"] = arg_datetime(args, "due")
    out["priority"] = arg_enum(args, "priority", PRIORITIES) or "normal"
    if args.get("duration_minutes") is not None:
        out["duration_minutes"] = arg_int(args["duration_minutes"], "duration_minutes", 1, 24 * 60)
    return out


def validate_update(args: dict[str, Any]) -> dict[str, Any]:
    out = _which(args)
    put(out, "status", arg_enum(args, "status", TASK_STATUSES))
    put(out, "title", arg_text(args, "title"))
    put(out, "due", arg_datetime(args, "due"))
    put(out, "priority", arg_enum(args, "priority", PRIORITIES))
    return out


# --- replies (the offline model, after the tool result) ---------------------------------


def _task_of(result: dict[str, Any]) -> dict[str, Any]:
    task = result.get("task")
    return task if isinstance(task, dict) else result


def reply_created(result: dict[str, Any], conv: Conversation) -> str:
    task = _task_of(result)
    due = conv.local(task.get("due"))
    when = f" for {when_phrase(due, conv.now)}" if due else " to your tasks"
    flag = " (high priority)" if task.get("priority") == "high" else ""
    return f"Done — I added “{task.get('title', 'the task')}”{when}{flag}."


def reply_updated(result: dict[str, Any], conv: Conversation) -> str:
    task = _task_of(result)
    title = task.get("title", "the task")
    changes = result.get("changes") if isinstance(result.get("changes"), dict) else None
    if task.get("status") == "done" and (changes is None or "status" in changes):
        return f"Nice work — I marked “{title}” as done."
    due = conv.local(task.get("due"))
    if changes is not None and set(changes) == {"due"} and due is not None:
        return f"Moved “{title}” to {when_phrase(due, conv.now)}."
    details = []
    if due:
        details.append(f"due {when_phrase(due, conv.now)}")
    elif changes is not None and changes.get("clear_due"):
        details.append("no due date")
    if task.get("priority"):
        details.append(f"{task['priority']} priority")
    if task.get("status") == "open":
        details.append("open")
    return f"Updated “{title}”" + (f": {', '.join(details)}." if details else ".")


def reply_deleted(result: dict[str, Any], conv: Conversation) -> str:
    return f"Deleted “{_task_of(result).get('title', 'the task')}”."


# --- recognisers (the offline model, on the user's text) --------------------------------

_PRIORITY_HIGH = re.compile(
    r"[,(]?\s*\b(?:(?:it'?s|it\s+is|this\s+is)\s+)?(?:very\s+)?"
    r"(?:urgent(?:ly)?|asap|a\.s\.a\.p\.?|high[\s-]priority|top\s+priority|important|critical)\b\s*[)!]*",
    re.IGNORECASE,
)
_PRIORITY_LOW = re.compile(
    r"[,(]?\s*\b(?:(?:it'?s|it\s+is)\s+)?(?:not\s+urgent|low[\s-]priority|no\s+rush|"
    r"whenever(?:\s+i\s+can)?|someday|eventually)\b\s*[)!]*",
    re.IGNORECASE,
)


def _extract_priority(text: str) -> tuple[str | None, str]:
    m = _PRIORITY_LOW.search(text)
    if m:
        return "low", text[: m.start()] + " " + text[m.end() :]
    m = _PRIORITY_HIGH.search(text)
    if m:
        return "high", text[: m.start()] + " " + text[m.end() :]
    return None, text


TASK_LEAD = re.compile(
    r"^(?:(?:hey|ok(?:ay)?|so|please|pls|can\s+you|could\s+you|would\s+you|also|and)[,\s]+)*"
    r"(?:"
    r"remind\s+me\s+(?:to\s+|about\s+|of\s+|that\s+i\s+(?:need|have)\s+to\s+)?"
    r"|(?:add|create|make|set(?:\s+up)?|put)\s+(?:a\s+|an\s+)?(?:new\s+)?(?:task|to-?do|reminder)"
    r"(?:\s+(?:to|for|on\s+my\s+list)\b)?[:\s]*"
    r"|add\s+(?P<add>.+?)\s+to\s+my\s+(?:list|tasks|to-?do(?:\s+list)?)\b"
    r"|(?:to-?do|task|reminder)\s*[:\-]\s*"
    r"|block\s+(?:out\s+)?(?:some\s+)?time\s+(?:to|for)\s+"
    r"|don'?t\s+let\s+me\s+forget\s+(?:to\s+)?"
    r"|don'?t\s+forget\s+to\s+"
    r"|i\s+(?:really\s+)?(?:need|have|must|got|gotta|should|ought)(?:\s+to)?\s+(?=\w)"
    r"|i\s+must\s+"
    r")",
    re.IGNORECASE,
)


def recognise_create(u: Utterance, conv: Conversation) -> Intent | None:
    priority, text = _extract_priority(u.text)
    text = text.strip(" ,.:;!-")
    m = TASK_LEAD.match(text)
    if not m:
        return None
    body = m.group("add") if m.groupdict().get("add") else text[m.end() :]
    # "I need to" requires a verb phrase: "I need help" is not a task.
    if re.match(r"^i\s+(?:need|have|got)\b", text, re.I) and not re.match(
        r"^i\s+(?:really\s+)?(?:need|have|got)\s+to\b", text, re.I
    ):
        return None
    when = extract_when(body, conv.now)
    # What is left of "set a reminder for 9am tomorrow to take my meds": "for to take…"
    title = re.sub(r"^(?:(?:for|about)\s+)?(?:to|that)\s+", "", tidy(when.rest), flags=re.I)
    title = sentence_case(title)
    if not title:
        return None
    due = when.due(conv.now)
    args: dict[str, Any] = {
        "title": title[:500],
        "due": due.isoformat() if due else None,
        "priority": priority or "normal",
    }
    if when.duration_minutes:
        args["duration_minutes"] = when.duration_minutes
    return Intent("create_task", args)


_DONE = r"(?:done|complete[d]?|finished|closed)"
_UPDATE_DONE = [
    re.compile(r"^(?:mark|set)\s+(?P<q>.+?)\s+(?:as\s+)?" + _DONE + r"\b", re.I),
    re.compile(
        r"^(?:complete|finish|close|check\s+off|cross\s+off|tick\s+off)\s+(?P<q>.+?)$",
        re.I,
    ),
    re.compile(
        r"^i(?:'ve|\s+have)?\s+(?:just\s+|already\s+)?(?:finished|completed|done|did)\s+(?P<q>.+?)$",
        re.I,
    ),
    re.compile(r"^(?P<q>.+?)\s+(?:is|are|'s)\s+(?:now\s+)?(?:all\s+)?" + _DONE + r"\b", re.I),
]
_UPDATE_REOPEN = re.compile(
    r"^(?:reopen|re-open|un-?complete|mark\s+(?P<q2>.+?)\s+as\s+(?:open|not\s+done))"
    r"(?:\s+(?P<q>.+?))?$",
    re.I,
)
_UPDATE_MOVE = re.compile(
    r"^(?:move|reschedule|push(?:\s+back)?|postpone|change|shift|bump|delay)\s+(?P<q>.+?)"
    r"(?:\s+back)?\s+(?:to|until|till|for)\s+(?P<when>.+)$",
    re.I,
)
_MAKE_IT_WHEN = re.compile(r"^(?:make\s+it|do\s+it)\s+(?P<when>.+?)(?:\s+instead)?$", re.I)
_UPDATE_PRIORITY = re.compile(
    r"^(?:make|change|set|mark)\s+(?P<q>.+?)\s+(?:to\s+|as\s+)?(?:a\s+)?"
    r"(?P<p>high|low|normal|urgent)(?:[\s-]priority)?$",
    re.I,
)
_RENAME = re.compile(
    r"^(?:rename|retitle)\s+(?P<q>.+?)\s+(?:to|as)\s+[\"“']?(?P<title>.+?)[\"”']?$", re.I
)


def title_query(raw: str) -> str | None:
    """The words that name a task in "the report task", "my dentist reminder"; ``None``
    for a pronoun ("it", "that one") or nothing."""
    q = raw.strip(" .!?,")
    q = re.sub(r"^(?:the|my|a|an|that|this)\s+(?=\w)", "", q, flags=re.I)
    q = re.sub(r"\s+(?:task|todo|to-do|item|reminder|one)s?$", "", q, flags=re.I)
    q = re.sub(r"^(?:task|todo|reminder)\s+(?:to\s+)?", "", q, flags=re.I)
    q = q.strip(" .!?,\"'“”")
    if not q or raw.strip(" .!?,").lower() in PRONOUNS or q.lower() in PRONOUNS:
        return None
    if q.lower() in ("everything", "all", "all of them", "them"):
        return None
    return q


def _target(raw: str, conv: Conversation) -> tuple[dict[str, Any], dict[str, Any] | None] | Say:
    """Which task "raw" names: the arguments that identify it, and the task itself when
    the offline model knows it."""
    q = raw.strip(" .!?,").lower()
    if q in ("everything", "all", "all of them", "them", "all my tasks", "all tasks"):
        return Say("I can change one task at a time — which one do you mean?")
    query = title_query(raw)
    if query is None:
        task = conv.focus_task()
        if task is None or not task.get("id"):
            return Say("Which task do you mean? Tell me a word from its title.")
        return {"task_id": task["id"]}, task
    return {"title_query": query}, match_task(conv, query)


def recognise_update(u: Utterance, conv: Conversation) -> Intent | Say | None:
    body = u.text.rstrip(" .!")
    m = _UPDATE_MOVE.match(body)
    if m:
        when = extract_when(m.group("when"), conv.now)
        if when.found:
            target = _target(m.group("q"), conv)
            if isinstance(target, Say):
                return target
            which, task = target
            due = when.moved(conv.local(task.get("due")) if task else None, conv.now)
            if due is not None:
                return Intent("update_task", {**which, "due": due.isoformat()})
    m = _MAKE_IT_WHEN.match(body)
    bare = extract_when(body, conv.now)
    if bare.found and not bare.rest and conv.focus_of("task") is not None:
        m = m or re.match(r"(?P<when>.+)", body)  # just "4pm" right after a task was shown
    if m and not re.search(r"priority|urgent", body, re.I):
        when = extract_when(m.group("when"), conv.now)
        if when.found and not when.rest and (task := conv.focus_task()) is not None:
            due = when.moved(conv.local(task.get("due")), conv.now)
            if due is not None:
                return Intent("update_task", {"task_id": task["id"], "due": due.isoformat()})
    m = _UPDATE_PRIORITY.match(body)
    if m:
        target = _target(m.group("q"), conv)
        if isinstance(target, Say):
            return target
        p = m.group("p").lower()
        return Intent("update_task", {**target[0], "priority": "high" if p == "urgent" else p})
    m = _RENAME.match(body)
    if m:
        target = _target(m.group("q"), conv)
        if isinstance(target, Say):
            return target
        return Intent("update_task", {**target[0], "title": sentence_case(m.group("title"))})
    m = _UPDATE_REOPEN.match(body)
    if m:
        target = _target(m.group("q") or m.group("q2") or "it", conv)
        if isinstance(target, Say):
            return target
        return Intent("update_task", {**target[0], "status": "open"})
    for pattern in _UPDATE_DONE:
        m = pattern.match(body)
        if m:
            raw = m.group("q")
            if re.search(r"\b(?:remind|tomorrow|next)\b", raw, re.I):
                continue
            target = _target(raw, conv)
            if isinstance(target, Say):
                return target
            return Intent("update_task", {**target[0], "status": "done"})
    return None


_DELETE = re.compile(
    r"^(?:delete|remove|cancel|drop|scrap|trash|get\s+rid\s+of|erase)\s+(?P<q>.+?)"
    r"(?:\s+(?:from\s+my\s+(?:list|tasks)|please))?$",
    re.I,
)


def recognise_delete(u: Utterance, conv: Conversation) -> Intent | Say | None:
    m = _DELETE.match(u.text.rstrip(" .!"))
    if not m:
        return None
    raw = m.group("q")
    if re.search(r"\b(?:flight|booking|account|data|memory|memories|preference)s?\b", raw, re.I):
        return None  # not a task: other skills (or the refusal) answer
    target = _target(raw, conv)
    if isinstance(target, Say):
        return Say(target.text.replace("change", "delete"))
    return Intent("delete_task", target[0])


def describe_task(task: dict[str, Any], conv: Conversation) -> str:
    due = conv.local(task.get("due"))
    return f"{task.get('title')}" + (f" (due {clock(due)})" if due else "")


SKILL = Skill(
    name="tasks",
    tools=(
        Tool(
            name="create_task",
            description="Create a task or reminder for the user.",
            properties={
                "title": {
                    "type": "string",
                    "description": "Short imperative title, e.g. 'Call John'.",
                },
                "due": _DUE,
                "priority": {"type": "string", "enum": list(PRIORITIES), "default": "normal"},
                "duration_minutes": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "How long the task takes, when the user said so.",
                },
            },
            required=("title",),
            validate=validate_create,
            handler=create_task,
            reply=reply_created,
            error_intro="I couldn't add that task",
        ),
        Tool(
            name="update_task",
            description="Change an existing task (complete it, rename it, move its due date, "
            "reprioritise). Identify it by task_id, or by title_query (words from its title).",
            properties={
                **_WHICH,
                "status": {"type": "string", "enum": list(TASK_STATUSES)},
                "title": {"type": "string"},
                "due": _DUE,
                "priority": {"type": "string", "enum": list(PRIORITIES)},
            },
            required=(),
            validate=validate_update,
            handler=update_task,
            reply=reply_updated,
            error_intro="I couldn't update that task",
        ),
        Tool(
            name="delete_task",
            description="Delete a task the user no longer wants. Identify it by task_id, or "
            "by title_query (words from its title).",
            properties=dict(_WHICH),
            required=(),
            validate=_which,
            handler=delete_task,
            reply=reply_deleted,
            error_intro="I couldn't delete that task",
        ),
    ),
    recognisers=(
        Recogniser(40, recognise_update),
        Recogniser(45, recognise_delete),
        Recogniser(90, recognise_create),
    ),
    can="add, move, complete and delete tasks and reminders (“Remind me to call John "
    "tomorrow at 3pm”, “move it to 4pm”)",
    vocabulary=frozenset(
        {
            "remind",
            "reminder",
            "reminders",
            "delete",
            "remove",
            "reschedule",
            "postpone",
            "complete",
            "finished",
            "priority",
            "urgent",
            "important",
            "task",
            "tasks",
        }
    ),  # fmt: skip
    continuation_lead="remind me to ",
)
