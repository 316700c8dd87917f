"""A skill that exists only in the tests: "I drank 3 glasses of water" logs them.

It is what the README's "Adding a skill" asks for — one module with its tool schema, state
handler, offline recogniser and reply text — and is registered only where a test does so
(``REGISTRY.with_skills(SKILL)``).
"""

from __future__ import annotations

import re
from typing import Any

from mcos.skills.base import (
    Conversation,
    Intent,
    Recogniser,
    Skill,
    SkillContext,
    Tool,
    ToolOutcome,
    Utterance,
    arg_int,
)
from mcos.skills.when import number

KEY = "water_glasses"


def log_water(ctx: SkillContext, args: dict[str, Any]) -> ToolOutcome:
    total = int(ctx.state.preferences.get(KEY) or 0) + args["glasses"]
    return ToolOutcome(
        result={"ok": True, "glasses": args["glasses"], "total": total},
        events=[("preference.set", {"key": KEY, "value": total})],
    )


def validate(args: dict[str, Any]) -> dict[str, Any]:
    return {"glasses": arg_int(args.get("glasses"), "glasses", 1, 20)}


def reply(result: dict[str, Any], conv: Conversation) -> str:
    return f"Logged — {result.get('total')} glasses of water so far."


_DRANK = re.compile(
    r"\bi\s+(?:drank|had)\s+(?P<n>\d+|an?|one|two|three|four|five)\s+glass(?:es)?\s+of\s+water\b",
    re.IGNORECASE,
)


def recognise(u: Utterance, conv: Conversation) -> Intent | None:
    m = _DRANK.search(u.text)
    return Intent("log_water", {"glasses": number(m.group("n"))}) if m else None


SKILL = Skill(
    name="water",
    tools=(
        Tool(
            name="log_water",
            description="Log glasses of water the user drank.",
            properties={"glasses": {"type": "integer", "minimum": 1, "maximum": 20}},
            required=("glasses",),
            validate=validate,
            handler=log_water,
            reply=reply,
            error_intro="I couldn't log that",
        ),
    ),
    recognisers=(Recogniser(50, recognise),),
    can="log the water you drink (“I drank 3 glasses of water”)",
    vocabulary=frozenset({"water", "glasses", "drank"}),
)
