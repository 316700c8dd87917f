"""Preferences: home airport, seat, cabin, non-stop, budget, airline, time zone…"""

from __future__ import annotations

import re
from typing import Any

from mcos.flights.airports import resolve_airport
from mcos.kernel.timezones import is_timezone
from mcos.skills.base import (
    Conversation,
    Intent,
    Recogniser,
    Skill,
    SkillContext,
    SkillInputError,
    Tool,
    ToolOutcome,
    Utterance,
    arg_text,
)
from mcos.skills.text import fmt_value

ALIASES = {"home": "home_airport", "nonstop": "prefer_nonstop", "cabin": "cabin_class"}
LABELS = {
    "home_airport": "Home airport",
    "prefer_nonstop": "Non-stop flights preferred",
    "seat": "Seat",
    "cabin_class": "Cabin class",
    "budget": "Budget",
    "preferred_airline": "Preferred airline",
    "timezone": "Time zone",
}


def label(key: str) -> str:
    return LABELS.get(key) or key.replace("_", " ").replace(".", " ").strip().capitalize()


def set_preference(ctx: SkillContext, args: dict[str, Any]) -> ToolOutcome:
    key = ALIASES.get(args["key"], args["key"])
    value = args.get("value")
    if key == "home_airport":
        airport = resolve_airport(str(value))
        if airport is None:
            raise SkillInputError(f"I don't know an airport called '{value}'.")
        value = airport.iata
    if key == "timezone" and not is_timezone(str(value)):
        raise SkillInputError(f"'{value}' is not a time zone I know.")
    return ToolOutcome(
        result={"ok": True, "key": key, "value": value},
        events=[("preference.set", {"key": key, "value": value})],
    )


def validate(args: dict[str, Any]) -> dict[str, Any]:
    key = arg_text(args, "key", required=True)
    if "value" not in args:
        raise ValueError("value is required")
    return {"key": key, "value": args["value"]}


def reply(result: dict[str, Any], conv: Conversation) -> str:
    key, value = result.get("key", ""), result.get("value")
    if isinstance(result.get("preference"), dict):
        key, value = result["preference"].get("key", key), result["preference"].get("value")
    if value is True:  # "Non-stop flights preferred: yes" reads badly
        return f"Got it — I'll remember: {label(key).lower()}."
    return f"Got it — I'll remember your {label(key).lower()}: {fmt_value(value)}."


# --- recogniser -----------------------------------------------------------------------------

_NOT_PLACES = frozenset({"me", "us", "it", "them", "a", "an", "the", "this", "that"})


def place(raw: str) -> str | None:
    """A place name as the user wrote it, tidied: "sfo" → "SFO", "new york" → "New York"."""
    raw = raw.strip(" .,'-")
    if not raw or raw.split()[0].lower() in _NOT_PLACES:
        return None
    if re.fullmatch(r"[A-Za-z]{3}", raw) and (raw.isupper() or raw.islower()):
        return raw.upper()
    return " ".join(w if w.isupper() else w.capitalize() for w in raw.split())


_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(
            r"\b(?:my\s+)?home\s+airport\s+(?:is|=|:)\s+(?P<v>[A-Za-z][A-Za-z .'-]*?)\s*[.!]?$",
            re.IGNORECASE,
        ),
        "home_airport",
    ),
    (
        re.compile(
            r"\b(?:set|change|update|make)\s+my\s+home\s+airport\s+(?:to|=)\s+"
            r"(?P<v>[A-Za-z][A-Za-z .'-]*?)\s*[.!]?$",
            re.IGNORECASE,
        ),
        "home_airport",
    ),
    (
        re.compile(
            r"\buse\s+(?P<v>[A-Za-z][A-Za-z .'-]*?)\s+as\s+my\s+home\s+airport\b",
            re.IGNORECASE,
        ),
        "home_airport",
    ),
    (
        re.compile(
            r"\bi\s+(?:usually\s+|always\s+)?fly\s+(?:out\s+of|from)\s+"
            r"(?P<v>[A-Za-z][A-Za-z .'-]*?)\s*[.!]?$",
            re.IGNORECASE,
        ),
        "home_airport",
    ),
    (
        re.compile(
            r"\b(?:my\s+)?budget\s+(?:is|of|=|:)\s+(?:about\s+|around\s+|up\s+to\s+)?"
            r"[$€£]?\s*(?P<v>\d[\d,]*(?:\.\d+)?)",
            re.IGNORECASE,
        ),
        "budget",
    ),
    (
        re.compile(
            r"\b(?:keep\s+(?:it|flights?)\s+)?under\s+[$€£]\s*(?P<v>\d[\d,]*(?:\.\d+)?)",
            re.IGNORECASE,
        ),
        "budget",
    ),
    (
        re.compile(
            r"\bmy\s+(?:preferred|favou?rite)\s+airline\s+is\s+"
            r"(?P<v>[A-Za-z][A-Za-z .'-]*?)\s*[.!]?$",
            re.IGNORECASE,
        ),
        "preferred_airline",
    ),
]
_PREFER = re.compile(
    r"\bi(?:\s+(?:really|usually|always))?\s+(?:prefer|like|want|fly|choose)\b"
    r"|\bi'?d\s+(?:rather|prefer|like)\b",
    re.IGNORECASE,
)
NONSTOP = re.compile(r"\b(?:non[\s-]?stop|direct)\b", re.IGNORECASE)


def recognise(u: Utterance, conv: Conversation) -> Intent | None:
    text = u.text
    if text.rstrip().endswith("?"):
        return None  # "what's my home airport?" is a question, answered by recall
    for pattern, key in _PATTERNS:
        m = pattern.search(text)
        if not m:
            continue
        raw = m.group("v").strip()
        value: Any
        if key == "budget":
            number = float(raw.replace(",", ""))
            value = int(number) if number.is_integer() else number
        else:
            value = place(raw)
            if value is None:
                continue
        return Intent("set_preference", {"key": key, "value": value})

    if re.search(
        r"\b(?:don'?t\s+mind|fine\s+with|ok(?:ay)?\s+with)\s+(?:connections|layovers|stops)\b",
        text,
        re.IGNORECASE,
    ):
        return Intent("set_preference", {"key": "prefer_nonstop", "value": False})
    if not _PREFER.search(text):
        return None
    if NONSTOP.search(text):
        return Intent("set_preference", {"key": "prefer_nonstop", "value": True})
    seat = re.search(r"\b(?P<s>aisle|window|middle)\s+seats?\b", text, re.IGNORECASE)
    if seat:
        return Intent("set_preference", {"key": "seat", "value": seat.group("s").lower()})
    cabin = re.search(
        r"\b(?P<c>premium\s+economy|economy|business|first)\s+class\b"
        r"|\b(?P<c2>premium\s+economy|economy)\b",
        text,
        re.IGNORECASE,
    )
    if cabin:
        c = (cabin.group("c") or cabin.group("c2")).lower()
        return Intent("set_preference", {"key": "cabin_class", "value": re.sub(r"\s+", "_", c)})
    return None


SKILL = Skill(
    name="preferences",
    tools=(
        Tool(
            name="set_preference",
            description="Remember a user preference, e.g. home_airport, seat, cabin_class, "
            "prefer_nonstop, budget, preferred_airlines.",
            properties={
                "key": {"type": "string", "pattern": r"^[A-Za-z0-9_.:-]{1,64}$"},
                "value": {"type": ["string", "number", "boolean"]},
            },
            required=("key", "value"),
            validate=validate,
            handler=set_preference,
            reply=reply,
            error_intro="I couldn't save that preference",
        ),
    ),
    recognisers=(Recogniser(20, recognise),),
    can="remember your preferences (“My home airport is SFO”, “I prefer aisle seats”)",
    vocabulary=frozenset({"prefer", "airport", "budget", "airline", "aisle", "window", "nonstop"}),
)
