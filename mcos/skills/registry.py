"""The one list of skills, and everything driven by it.

- the LLM's tool list (:meth:`Registry.schemas`) and argument validation
  (:meth:`Registry.validate`, also used for tool calls written as text);
- the turn's dispatch of state tools (:meth:`Registry.run_state_tool`); a tool without a
  state handler (``search_flights``) is run by the turn as an activity;
- the offline model: what it recognises in a message (:meth:`Registry.recognise`, with
  multi-part messages split and keyword typos corrected), what it says after a tool
  result (:meth:`Registry.reply`) and what it says it can do (:meth:`Registry.capabilities`).

Adding a skill: write ``mcos/skills/<name>.py`` with a ``SKILL`` (see
:class:`mcos.skills.base.Skill`) and add it to :data:`SKILLS` below.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mcos.skills import agenda, flights, memory, preferences, tasks
from mcos.skills.base import (
    Conversation,
    Intent,
    RecogniseFn,
    Recognition,
    Say,
    Skill,
    SkillContext,
    SkillInputError,
    Tool,
    ToolOutcome,
    Utterance,
)
from mcos.skills.text import correct
from mcos.skills.when import VOCABULARY as WHEN_VOCABULARY

SKILLS: tuple[Skill, ...] = (
    tasks.SKILL,
    agenda.SKILL,
    preferences.SKILL,
    memory.SKILL,
    flights.SKILL,
)

# Where one message holds several requests. "also"/"then"/";" always separate; a comma,
# "and" or a full stop only when a new request starts right after it.
_STRONG_SPLIT = re.compile(
    r"\s*;\s*|\s*,?\s+and\s+(?:also|then)\s+|\s*[,.]\s*(?:also|then)\s+", re.IGNORECASE
)
_REQUEST_START = (
    r"(?:please\s+)?(?:remind|add|create|set|remember|mark|delete|remove|move|reschedule|"
    r"find|search|book|cancel|i\s+(?:need|have|prefer|want|must)|my\s+home)\b"
)
_WEAK_SPLIT = re.compile(r"(?:\s*[,.]\s*(?:and\s+)?|\s+and\s+)(?=" + _REQUEST_START + ")", re.I)
_POLITE_LEAD = re.compile(
    r"^(?:(?:hey|ok(?:ay)?|so|please|pls|also|and|then|actually|oh|hmm|um|well|no|yes|yeah|"
    r"great|cool|can\s+you|could\s+you|would\s+you|will\s+you)[,!\s]+)+",
    re.IGNORECASE,
)
_POLITE_TAIL = re.compile(r"[,\s]+(?:please|pls|thanks|thank\s+you)\W*$", re.IGNORECASE)


@dataclass(frozen=True)
class _Part:
    text: str
    continues: bool  # after "also"/"then": may leave out its lead ("…, and also call mom")


def split_requests(text: str) -> list[_Part]:
    parts: list[_Part] = []
    for i, chunk in enumerate(_STRONG_SPLIT.split(text)):
        for j, piece in enumerate(_WEAK_SPLIT.split(chunk)):
            if piece.strip(" ,.;"):
                parts.append(_Part(piece.strip(" ,;"), continues=i > 0 and j == 0))
    return parts


def polite_stripped(text: str) -> str:
    stripped = _POLITE_TAIL.sub("", _POLITE_LEAD.sub("", text)).strip()
    return stripped or text


class Registry:
    """The skills, their tools by name and their recognisers in order."""

    def __init__(self, skills: Sequence[Skill]) -> None:
        self.skills = tuple(skills)
        self.tools: dict[str, Tool] = {}
        self._owner: dict[str, Skill] = {}
        for skill in self.skills:
            for tool in skill.tools:
                if tool.name in self.tools:
                    raise ValueError(f"two skills declare the tool {tool.name!r}")
                self.tools[tool.name] = tool
                self._owner[tool.name] = skill
        ordered = sorted(
            ((r.order, i, r.match) for i, s in enumerate(self.skills) for r in s.recognisers),
            key=lambda item: (item[0], item[1]),
        )
        self._recognisers: list[RecogniseFn] = [match for _, _, match in ordered]
        self.vocabulary = frozenset(WHEN_VOCABULARY).union(*(s.vocabulary for s in self.skills))

    def with_skills(self, *extra: Skill) -> Registry:
        """This registry plus ``extra`` (tests register a skill this way)."""
        return Registry([*self.skills, *extra])

    # --- tools ------------------------------------------------------------------------

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self.tools)

    def schemas(self) -> list[dict[str, Any]]:
        """The OpenAI tool list, in registry order."""
        return [tool.schema() for tool in self.tools.values()]

    def tool(self, name: str) -> Tool | None:
        return self.tools.get(name)

    def is_state_tool(self, name: str) -> bool:
        tool = self.tools.get(name)
        return tool is not None and tool.handler is not None

    def validate(self, name: str, arguments: Any) -> dict[str, Any]:
        """Validated, lightly normalised arguments for tool ``name``; raises ``ValueError``.

        Normalises what models commonly get slightly wrong (numeric strings for integers,
        enum case); never invents a value. Unknown keys are dropped.
        """
        tool = self.tools.get(name)
        if tool is None:
            raise ValueError(f"unknown tool {name!r}")
        if not isinstance(arguments, dict):
            raise ValueError("arguments must be an object")
        return tool.validate(arguments)

    def run_state_tool(self, ctx: SkillContext, name: str, args: dict[str, Any]) -> ToolOutcome:
        """Run a state tool: validated arguments → its pure handler. Bad input (or an
        unknown tool) is an error outcome with a message, and changes nothing."""
        tool = self.tools.get(name)
        if tool is None or tool.handler is None:
            return ToolOutcome.error(f"I can't do '{name}' yet.", code="unknown_tool")
        try:
            return tool.handler(ctx, self.validate(name, args))
        except (SkillInputError, ValueError) as exc:
            return ToolOutcome.error(str(exc))

    # --- the offline model ---------------------------------------------------------------

    def recognise(self, text: str, conv: Conversation) -> list[Recognition]:
        """What the offline model makes of a message: one recognition per request in it
        (several for "add X, and also remind me to Y"), or ``[]``."""
        clean = re.sub(r"\s+", " ", text).strip()
        if not clean:
            return []
        parts = split_requests(clean)
        if len(parts) > 1:
            found: list[Recognition] = []
            for part in parts:
                got = self._one(part.text, conv)
                previous = found[-1] if found else None
                if got is None and part.continues and isinstance(previous, Intent):
                    lead = self._owner[previous.name].continuation_lead
                    got = self._one(lead + part.text, conv) if lead else None
                if got is None:
                    break
                found.append(got)
            else:
                return found
        got = self._one(clean, conv)
        return [got] if got is not None else []

    def _one(self, text: str, conv: Conversation) -> Recognition | None:
        raw = polite_stripped(text)
        utterance = Utterance(text=correct(raw, self.vocabulary), raw=raw)
        for match in self._recognisers:
            got = match(utterance, conv)
            if got is not None:
                return got
        return None

    def reply(self, name: str, result: Any, conv: Conversation) -> str:
        """What the offline model says after tool ``name`` answered ``result``."""
        error = _error_of(result)
        tool = self.tools.get(name)
        if error is not None:
            return _error_text(tool.error_intro if tool else None, error, _error_code(result))
        if tool is None:
            return "Done."
        return tool.reply(result if isinstance(result, dict) else {"value": result}, conv)

    def capabilities(self) -> str:
        """ "I can …", from what each skill says it can do."""
        cans = [s.can for s in self.skills if s.can]
        if not cans:
            return "I can't do much yet."
        listed = cans[0] if len(cans) == 1 else "; ".join(cans[:-1]) + "; and " + cans[-1]
        return f"I can {listed}."


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


def _error_code(result: Any) -> str | None:
    if not isinstance(result, dict):
        return None
    error = result.get("error")
    code = error.get("code") if isinstance(error, dict) else None
    return str(code or result.get("code") or "") or None


def _error_text(intro: str | None, message: str, code: str | None = None) -> str:
    message = message.strip()
    if message.endswith("?"):  # the tool already asks the user something: pass it on
        return message
    if code == "declined":  # the user said no when asked to approve: nothing to apologise for
        return message
    if code in ("rate_limited", "tool_error"):  # complete sentences meant for the user
        return f"Sorry — {message[:1].lower() + message[1:]}"
    message = message.rstrip(".")
    return (
        f"Sorry — {intro or 'Something went wrong'}: {message[:1].lower() + message[1:]}. "
        "Want to try again?"
    )


REGISTRY = Registry(SKILLS)

__all__ = ["REGISTRY", "SKILLS", "Intent", "Registry", "Say"]
