"""Pinned memories: "Remember that my wife's name is Ana" pins a fact; "What is my wife's
name?" recalls it (the offline model answers from the context; real models see the
MEMORIES block of the prompt)."""

from __future__ import annotations

import re
from typing import Any

from mcos.skills.base import (
    Conversation,
    Intent,
    Recogniser,
    Say,
    Skill,
    SkillContext,
    Tool,
    ToolOutcome,
    Utterance,
    arg_enum,
    arg_text,
)
from mcos.skills.preferences import label as preference_label
from mcos.skills.text import fmt_value, sentence_case, similar, slug, words

MEMORY_TYPES = ("fact", "preference", "note")


def pin_memory(ctx: SkillContext, args: dict[str, Any]) -> ToolOutcome:
    mem = {
        "id": ctx.new_id("mem"),
        "type": args.get("type", "fact"),
        "key": args["key"],
        "value": str(args["value"])[:2000],
    }
    return ToolOutcome(result={"ok": True, "memory": mem}, events=[("memory.pinned", mem)])


def validate(args: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"key": arg_text(args, "key", required=True)}
    value = args.get("value")
    if isinstance(value, int | float | bool):
        value = str(value)
    out["value"] = arg_text({"value": value}, "value", required=True)
    out["type"] = arg_enum(args, "type", MEMORY_TYPES) or "fact"
    return out


def reply(result: dict[str, Any], conv: Conversation) -> str:
    found = result.get("memory")
    memory: dict[str, Any] = found if isinstance(found, dict) else result
    return f"I'll remember that — {_label(str(memory.get('key', 'note')))}: {memory.get('value')}."


def _label(key: str) -> str:
    return key.replace("_", " ").replace(".", " ").strip().capitalize()


# --- pinning ----------------------------------------------------------------------------------

_REMEMBER = re.compile(
    r"^(?:please\s+)?(?:remember|don'?t\s+forget|keep\s+in\s+mind|note|fyi|for\s+the\s+record)"
    r"(?:\s+that)?[,:]?\s+(?P<fact>.+)$",
    re.IGNORECASE,
)
_MY_X_IS_Y = re.compile(
    r"^(?:my|the|our)\s+(?P<x>[a-z][a-z0-9' ]{0,40}?)\s+(?:is|are)\s+(?P<y>.+?)[.!]?$",
    re.IGNORECASE,
)


_REMEMBER_AFTER = re.compile(
    r"^(?P<fact>.+?)[,.;!]?\s+(?:please\s+)?(?:remember|note|keep\s+in\s+mind)\s+(?:that|this)"
    r"(?:\s+please)?\W*$",
    re.IGNORECASE,
)


def recognise_pin(u: Utterance, conv: Conversation) -> Intent | None:
    if u.text.rstrip().endswith("?"):
        return None  # "remember my wife's name?" asks
    after = _REMEMBER_AFTER.match(u.raw) or _REMEMBER_AFTER.match(u.text)
    if after:  # "I'm vegetarian, please remember that"
        u = Utterance(
            text=f"remember that {after.group('fact')}", raw=f"remember that {after.group('fact')}"
        )
    m = _REMEMBER.match(u.raw) or _REMEMBER.match(u.text)  # the value as the user wrote it
    if not m:
        return None
    fact = m.group("fact").strip().rstrip(".!")
    if re.match(r"^to\s+", fact, re.IGNORECASE):  # "don't forget to …" is a task
        return None
    kind = "note" if u.text.lower().startswith("note") else "fact"
    if re.match(r"^i\s+(?:prefer|like|love|hate|dislike|don'?t\s+like)\b", fact, re.IGNORECASE):
        kind = "preference"
    mine = _MY_X_IS_Y.match(fact)
    if mine:
        key = slug(mine.group("x").replace("'s", "").replace("'", ""))
        value = mine.group("y").strip()
    else:
        key = slug(" ".join(re.findall(r"[A-Za-z0-9']+", fact)[:6]).replace("'", ""))
        value = sentence_case(fact)
    return Intent("pin_memory", {"key": key, "value": value, "type": kind})


_BARE_FACT = re.compile(
    r"^(?P<fact>(?:my|our)\s+[a-z][a-z0-9' ]{0,40}?\s+(?:is|are)\s+(?P<y>.+?))[.!]?$",
    re.IGNORECASE,
)


def recognise_statement(u: Utterance, conv: Conversation) -> Intent | None:
    """ "My wife's name is Ana" said plainly (no "remember"): worth pinning too."""
    if u.text.rstrip().endswith("?"):
        return None
    m = _BARE_FACT.match(u.raw) or _BARE_FACT.match(u.text)
    if not m or re.match(r"(?:done|finished|complete[d]?|over|late|due)\b", m.group("y"), re.I):
        return None
    return recognise_pin(
        Utterance(text=f"remember that {u.text}", raw=f"remember that {u.raw}"), conv
    )


# --- recall -----------------------------------------------------------------------------------

_ABOUT_ME = re.compile(
    r"\b(?:what\s+do\s+you\s+(?:know|remember)(?:\s+about\s+me)?|my\s+preferences|"
    r"what\s+have\s+i\s+told\s+you)\b",
    re.IGNORECASE,
)
_ASKS = re.compile(
    r"^(?:(?:do|can)\s+you\s+(?:remember|recall|know)\b|what\b|what'?s\b|who\b|who'?s\b|"
    r"when\b|when'?s\b|where\b|where'?s\b|which\b|how\s+(?:old|many|much)\b|tell\s+me\b|"
    r"remind\s+me\s+(?:what|who|when|where|which)\b|am\s+i\b|is\s+my\b|did\s+i\b)",
    re.IGNORECASE,
)
_QUESTION_WORDS = frozenset(
    {"what", "whats", "who", "whos", "when", "whens", "where", "wheres", "which", "how", "is",
     "are", "was", "were", "my", "me", "i", "am", "do", "does", "did", "you", "know",
     "remember", "recall", "tell", "remind", "the", "a", "an", "of", "again", "please", "can",
     "m", "it", "to", "about", "on", "in", "for", "there", "that", "s", "t", "don"}
)  # fmt: skip
# People whose attributes are said with a possessive: "wife name" → "wife's name".
_PEOPLE = frozenset(
    {"wife", "husband", "partner", "son", "daughter", "mom", "mum", "mother", "dad", "father",
     "brother", "sister", "boss", "friend", "kid", "child", "girlfriend", "boyfriend", "dog",
     "cat", "manager", "doctor", "dentist", "assistant", "baby"}
)  # fmt: skip


def _phrase(key: str) -> str:
    parts = words(key)
    if len(parts) > 1 and parts[0] in _PEOPLE:
        return f"{parts[0]}'s " + " ".join(parts[1:])
    return " ".join(parts)


# Words that say what kind of fact is asked for, not whose: "my dog's name" must not
# find "wife_name" through "name" alone.
_GENERIC = frozenset(
    {"name", "names", "number", "anything", "something", "date", "time", "day", "address",
     "email", "phone", "again"}
)  # fmt: skip


def _score(wanted: list[str], key: str, value: str) -> int:
    """How well a fact answers the question's words; 0 unless a specific word matches."""
    key_words, value_words = words(key), words(value)
    score, specific = 0, False
    for w in wanted:
        if any(similar(w, k) for k in key_words):
            score += 2
        elif any(similar(w, v) for v in value_words):
            score += 1
        else:
            continue
        specific = specific or w not in _GENERIC
    return score if specific else 0


def recall_answer(memory: dict[str, Any]) -> str:
    key, value = str(memory.get("key", "")), str(memory.get("value", ""))
    if slug(value.replace("'", "")) == key or len(words(value)) > 6:  # a sentence
        return f"You told me: {value.rstrip('.')}."
    if value[:1].isupper() or value[:1].isdigit():
        return f"Your {_phrase(key)} is {value}."
    return f"Your {_phrase(key)}: {value}."


def everything_known(conv: Conversation) -> str:
    facts = [
        f"{preference_label(k)}: {fmt_value(v)}"
        for k, v in conv.preferences.items()
        if k != "timezone"
    ]
    facts += [f"{_label(str(m.get('key', '')))}: {m.get('value')}" for m in conv.memories]
    if not facts:
        return "I don't have anything pinned about you yet. Tell me, e.g. “Remember that…”."
    return "Here's what I know about you:\n" + "\n".join(f"• {f}" for f in facts)


def recognise_recall(u: Utterance, conv: Conversation) -> Say | None:
    text = u.text.strip()
    if _ABOUT_ME.search(text):
        return Say(everything_known(conv))
    if not _ASKS.match(text) or not re.search(r"\b(?:my|am\s+i)\b", text, re.IGNORECASE):
        return None
    wanted = [w for w in words(text) if w not in _QUESTION_WORDS and len(w) > 1]
    if not wanted:
        return None
    best: tuple[int, str] | None = None
    for memory in conv.memories:
        score = _score(wanted, str(memory.get("key", "")), str(memory.get("value", "")))
        if score and (best is None or score > best[0]):
            best = (score, recall_answer(memory))
    for key, value in conv.preferences.items():
        score = _score(wanted, f"{key} {preference_label(key)}", "")
        if score and (best is None or score > best[0]):
            best = (score, f"Your {preference_label(key).lower()} is {fmt_value(value)}.")
    if best is not None and best[0] >= 2:
        return Say(best[1])
    return Say(
        "I don't know that yet — you haven't told me. Say “Remember that …” and I'll keep it."
    )


SKILL = Skill(
    name="memory",
    tools=(
        Tool(
            name="pin_memory",
            description="Pin a fact the user asked you to remember.",
            properties={
                "key": {"type": "string", "pattern": r"^[A-Za-z0-9_.:-]{1,64}$"},
                "value": {"type": "string"},
                "type": {"type": "string", "enum": list(MEMORY_TYPES), "default": "fact"},
            },
            required=("key", "value"),
            validate=validate,
            handler=pin_memory,
            reply=reply,
            error_intro="I couldn't pin that",
        ),
    ),
    recognisers=(
        Recogniser(30, recognise_pin),
        Recogniser(65, recognise_recall),
        Recogniser(80, recognise_statement),
    ),
    can="remember facts and tell them back (“Remember that my wife's name is Ana”, "
    "“What is my wife's name?”)",
    vocabulary=frozenset({"remember", "forget", "passport", "birthday"}),
)
