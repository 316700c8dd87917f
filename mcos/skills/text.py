"""Text helpers the skills share: typo correction, fuzzy word matching, and the phrasing of
times and values in replies. Pure functions."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from rapidfuzz.distance import OSA

_WORD_RE = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")

# Real words one edit away from a keyword: never "corrected" into it.
KNOWN_WORDS = frozenset(
    {"remote", "remain", "rewind", "slight", "fright", "flights", "mourning", "tonite",
     "hours", "house", "mother", "others", "delta", "moody", "sunny", "frida", "today's"}
)  # fmt: skip


def max_typos(word: str) -> int:
    """How many edits a word of this length may carry and still count as the keyword."""
    return 0 if len(word) < 4 else 1 if len(word) < 8 else 2


def correct(text: str, vocabulary: Iterable[str]) -> str:
    """``text`` with misspelt keywords replaced by the ``vocabulary`` word they are closest
    to (optimal string alignment distance: a swap of two letters is one edit).

    Only words of 4+ letters are touched, at most one edit away (two when either word has
    8+ letters and the first and last letters agree), and only towards keywords of 5+
    letters; a word that is a keyword, an inflection of
    one ("flights", "reminders"), a short form of one ("task") or a known word is left
    alone. A capitalised word inside
    a sentence is likely a name ("Frida") and needs 6+ letters to be corrected.
    """
    every = {v.lower() for v in vocabulary}
    vocab = sorted(v for v in every if len(v) >= 5)
    if not vocab:
        return text
    exact = every | KNOWN_WORDS

    def fix(m: re.Match[str]) -> str:
        word = m.group(0)
        lower = word.lower()
        if (
            lower in exact
            or len(lower) < 4
            or any(lower.startswith(v) or v.startswith(lower) for v in vocab)
        ):
            return word
        if word[0].isupper() and m.start() > 0 and len(word) < 6:
            return word
        best: tuple[int, str] | None = None
        for candidate in vocab:
            # Two edits only for long words that keep their first and last letter
            # ("wensday" → "wednesday", but never "member" → "remember").
            limit = max_typos(max(lower, candidate, key=len))
            if limit > 1 and (lower[0] != candidate[0] or lower[-1] != candidate[-1]):
                limit = 1
            if abs(len(candidate) - len(lower)) > limit:
                continue
            distance = OSA.distance(lower, candidate, score_cutoff=limit)
            if distance <= limit and (best is None or distance < best[0]):
                best = (distance, candidate)
        if best is None or best[0] == 0:
            return word
        return best[1].capitalize() if word[0].isupper() else best[1]

    return _WORD_RE.sub(fix, text)


def similar(a: str, b: str) -> bool:
    """Whether two words are the same word, give or take a typo or a plural."""
    a, b = a.lower(), b.lower()
    if a == b:
        return True
    if len(a) < 3 or len(b) < 3:
        return False
    if a.rstrip("s") == b.rstrip("s"):
        return True
    limit = min(max_typos(a), max_typos(b))
    return limit > 0 and OSA.distance(a, b, score_cutoff=limit) <= limit


def words(text: str) -> list[str]:
    """Lower-case words, possessive 's dropped ("wife's" → "wife")."""
    return re.findall(r"[a-z0-9]+", re.sub(r"'s\b", "", text.lower().replace("_", " ")))


def sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def slug(text: str, limit: int = 64) -> str:
    found = re.findall(r"[a-z0-9]+", text.lower().replace("'s ", " "))
    return "_".join(found)[:limit].strip("_") or "note"


def clock(moment: datetime) -> str:
    hour = moment.hour % 12 or 12
    return f"{hour}:{moment.minute:02d} {'AM' if moment.hour < 12 else 'PM'}"


def when_phrase(moment: datetime, now: datetime) -> str:
    """``today at 3:00 PM``, ``Friday at 9:00 AM``, ``Tue, Dec 8 at 5:00 PM``."""
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
    return f"{day} at {clock(moment)}"


def fmt_value(value: Any) -> str:
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if isinstance(value, str):
        return value.replace("_", " ")
    return str(value)


def parse_datetime(value: Any) -> datetime | None:
    """An ISO 8601 string (``Z`` allowed) or a datetime; ``None`` for anything else."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None
