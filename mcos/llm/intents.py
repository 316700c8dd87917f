"""The offline model's brain: recognise the chat skills in a message, deterministically.

Pure functions over plain data: no clock (``now`` is passed in), no I/O. The result is the
same tool-call shape a real model produces (see :mod:`llm.tools`).

Date rules (in the user's time zone; ``today`` is ``now`` converted to it):

- ``today``, ``tonight`` (20:00 unless a time is given), ``tomorrow``, ``day after tomorrow``.
- ``<weekday>``, ``on/by/until <weekday>`` and ``next <weekday>``: the first such weekday
  strictly after today (said on a Friday, "Friday" and "next Friday" are a week later).
  ``this <weekday>``: the first such weekday on or after today (today counts).
- ``next week``: Monday of next week; ``end of (the) week``: Friday of this week (or today
  if the week's Friday has passed: weekend).
- ``in N days/weeks``; ``in N minutes/hours`` (date and time from ``now``).
- Explicit: ``2026-12-03``, ``Dec 3``/``December 3rd``/``3 Dec`` (optional year),
  ``12/3`` and ``12/3/2026`` (US order: month/day). A date without year that has already
  passed this year means next year.

Time rules: ``3pm``, ``3:30 pm``, ``15:00``, ``noon`` (12:00), ``midnight`` (23:59 of that
day: "by midnight" is the end of the day), ``morning`` 09:00, ``afternoon`` 14:00,
``evening`` 18:00, ``end of day``/``EOD`` 17:00, ``at 9`` without am/pm: 1–6 → PM, 7–11 →
AM, 12 → noon. A date without time → 17:00 (end of the working day). A time without date →
today if still ahead, else tomorrow. Durations: ``for 30 minutes``, ``for an hour``,
``for 1.5 hours`` → ``duration_minutes`` on create_task.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from mcos.llm.base import ToolCall
from mcos.llm.tools import make_tool_call

DEFAULT_TIME = time(17, 0)

WEEKDAYS = {
    "monday": 0, "mon": 0,
    "tuesday": 1, "tues": 1, "tue": 1,
    "wednesday": 2, "weds": 2, "wed": 2,
    "thursday": 3, "thurs": 3, "thur": 3, "thu": 3,
    "friday": 4, "fri": 4,
    "saturday": 5,
    "sunday": 6,
}  # fmt: skip
MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
    "jul": 7, "aug": 8, "sep": 9, "sept": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "couple of": 2, "few": 3,
}  # fmt: skip
ORDINALS = {
    "first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4,
    "4th": 4, "fifth": 5, "5th": 5, "top": 1,
}  # fmt: skip

_WD = (
    r"(?P<wd>monday|tuesday|wednesday|thursday|friday|saturday|sunday"
    r"|mon|tues?|weds?|thu(?:rs?)?|fri)"
)
_MON = (
    r"(?P<mon>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_NUM = r"(?P<n>\d+|an?|one|two|three|four|five|six|seven|eight|nine|ten|couple of|few)"
_PREP = r"(?:\b(?:on|by|for|due|until|till|before|from|departing|leaving)\s+)?"


def _num(word: str) -> int:
    return int(word) if word.isdigit() else NUMBER_WORDS[word.lower()]


# --- dates and times -------------------------------------------------------------------


@dataclass
class When:
    """What :func:`extract_when` found, and the text with those phrases removed."""

    date: date | None = None
    time: time | None = None
    moment: datetime | None = None  # "in 2 hours": an exact local datetime
    duration_minutes: int | None = None
    rest: str = ""
    dates: list[date] = field(default_factory=list)  # every date found, in text order

    def due(self, today_now: datetime) -> datetime | None:
        """The local due datetime, following the module's defaults."""
        if self.moment is not None:
            return self.moment
        if self.date is None and self.time is None:
            return None
        if self.date is None:
            assert self.time is not None
            candidate = datetime.combine(today_now.date(), self.time, today_now.tzinfo)
            if candidate <= today_now:
                candidate = datetime.combine(
                    today_now.date() + timedelta(days=1), self.time, today_now.tzinfo
                )
            return candidate
        return datetime.combine(self.date, self.time or DEFAULT_TIME, today_now.tzinfo)


def _upcoming_weekday(today: date, weekday: int, *, include_today: bool) -> date:
    delta = (weekday - today.weekday()) % 7
    if delta == 0 and not include_today:
        delta = 7
    return today + timedelta(days=delta)


def _month_day(today: date, month: int, day: int, year: int | None) -> date:
    if year is not None:
        if year < 100:
            year += 2000
        return date(year, month, day)
    candidate = date(today.year, month, day)
    if candidate < today:
        candidate = date(today.year + 1, month, day)
    return candidate


def _clock(hour: int, minute: int, meridiem: str | None) -> time:
    if meridiem:
        m = meridiem.replace(".", "").lower()
        if hour < 1 or hour > 12:
            raise ValueError("bad 12-hour time")
        if m == "pm" and hour != 12:
            hour += 12
        if m == "am" and hour == 12:
            hour = 0
    return time(hour, minute)


@dataclass
class _Rule:
    pattern: re.Pattern[str]
    kind: str


def _rule(kind: str, pattern: str) -> _Rule:
    return _Rule(re.compile(pattern, re.IGNORECASE), kind)


_DATE_RULES = [
    _rule("iso", _PREP + r"\b(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})\b"),
    _rule("mdy", _PREP + r"\b(?P<m>\d{1,2})/(?P<d>\d{1,2})(?:/(?P<y>\d{4}|\d{2}))?\b"),
    _rule(
        "month_day",
        _PREP + r"\b" + _MON + r"\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?\b(?:,?\s+(?P<y>\d{4})\b)?",
    ),
    _rule(
        "day_month",
        _PREP
        + r"\b(?:the\s+)?(?P<d>\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?"
        + _MON
        + r"(?:,?\s+(?P<y>\d{4})\b)?",
    ),
    _rule("day_after_tomorrow", _PREP + r"\b(?:the\s+)?day\s+after\s+tomorrow\b"),
    _rule("tomorrow", _PREP + r"\b(?:tomorrow|tmrw|tmr)\b"),
    _rule("tonight", _PREP + r"\btonight\b"),
    _rule("today", _PREP + r"\b(?:today|later today)\b"),
    _rule("in_days", r"\bin\s+" + _NUM + r"\s+(?P<unit>days?|weeks?)\b"),
    _rule("in_time", r"\bin\s+" + _NUM + r"\s+(?P<unit>minutes?|mins?|hours?|hrs?)\b"),
    _rule("next_week", _PREP + r"\bnext\s+week\b"),
    _rule("end_of_week", _PREP + r"\b(?:the\s+)?end\s+of\s+(?:the\s+|this\s+)?week\b"),
    _rule("this_weekday", _PREP + r"\bthis(?:\s+coming)?\s+" + _WD + r"\b"),
    _rule("next_weekday", _PREP + r"\bnext\s+" + _WD + r"\b"),
    _rule("weekday", _PREP + r"\b" + _WD + r"\b"),
]

_TIME_RULES = [
    _rule(
        "ampm",
        r"(?:\b(?:at|around|by|@)\s*)?\b(?P<h>\d{1,2})(?::(?P<mi>[0-5]\d))?\s*"
        r"(?P<mer>a\.?m\.?|p\.?m\.?)(?![a-z])",
    ),
    _rule("h24", r"(?:\b(?:at|around|by|@)\s*)?\b(?P<h>[01]?\d|2[0-3]):(?P<mi>[0-5]\d)\b"),
    _rule("noon", r"(?:\b(?:at|around|by)\s+)?\b(?:noon|midday|lunchtime)\b"),
    _rule("midnight", r"(?:\b(?:at|around|by)\s+)?\bmidnight\b"),
    _rule("eod", r"(?:\b(?:by|at|before)\s+)?\b(?:(?:the\s+)?end\s+of\s+(?:the\s+)?day|eod|cob)\b"),
    _rule("morning", r"(?:\b(?:in\s+the|this|tomorrow)\s+)?\bmorning\b"),
    _rule("afternoon", r"(?:\b(?:in\s+the|this)\s+)?\bafternoon\b"),
    _rule("evening", r"(?:\b(?:in\s+the|this)\s+)?\bevening\b"),
    _rule("at_hour", r"\b(?:at|@)\s*(?P<h>\d{1,2})\b(?![:/\d])"),
]

_DURATION_RULE = _rule(
    "duration",
    r"\bfor\s+(?P<n>\d+(?:\.\d+)?|an?|one|two|three|half\s+an)\s+"
    r"(?P<unit>minutes?|mins?|hours?|hrs?|h)\b",
)


def _resolve_date(kind: str, m: re.Match[str], today: date) -> date | None:
    g = m.groupdict()
    if kind == "iso":
        return date(int(g["y"]), int(g["m"]), int(g["d"]))
    if kind == "mdy":
        return _month_day(today, int(g["m"]), int(g["d"]), int(g["y"]) if g["y"] else None)
    if kind in ("month_day", "day_month"):
        month = MONTHS[g["mon"].lower()[:3]]
        return _month_day(today, month, int(g["d"]), int(g["y"]) if g["y"] else None)
    if kind == "day_after_tomorrow":
        return today + timedelta(days=2)
    if kind == "tomorrow":
        return today + timedelta(days=1)
    if kind in ("today", "tonight"):
        return today
    if kind == "in_days":
        n = _num(g["n"])
        return today + timedelta(days=n * (7 if g["unit"].lower().startswith("week") else 1))
    if kind == "next_week":
        return today + timedelta(days=7 - today.weekday())
    if kind == "end_of_week":
        return today + timedelta(days=max(0, 4 - today.weekday()))
    if kind == "this_weekday":
        return _upcoming_weekday(today, WEEKDAYS[g["wd"].lower()], include_today=True)
    if kind in ("next_weekday", "weekday"):
        return _upcoming_weekday(today, WEEKDAYS[g["wd"].lower()], include_today=False)
    return None


def _resolve_time(kind: str, m: re.Match[str]) -> time:
    g = m.groupdict()
    if kind == "ampm":
        return _clock(int(g["h"]), int(g["mi"] or 0), g["mer"])
    if kind == "h24":
        return time(int(g["h"]), int(g["mi"]))
    if kind == "at_hour":
        hour = int(g["h"])
        if not 1 <= hour <= 12:
            raise ValueError("ambiguous hour")
        return time(hour + 12 if hour <= 6 else hour, 0)
    return {
        "noon": time(12, 0),
        "midnight": time(23, 59),
        "eod": time(17, 0),
        "morning": time(9, 0),
        "afternoon": time(14, 0),
        "evening": time(18, 0),
    }[kind]


def _cut(text: str, m: re.Match[str]) -> str:
    return text[: m.start()] + " " + text[m.end() :]


_MASK_RE = re.compile("\ue000(.)\ue001")


def _mask(masked: list[str], original: str) -> str:
    masked.append(original)
    return "\ue000" + chr(0xE100 + len(masked) - 1) + "\ue001"


def extract_when(text: str, local_now: datetime) -> When:
    """Find date, time and duration phrases in ``text`` (see the module docstring)."""
    today = local_now.date()
    when = When(rest=text)
    rest = text

    m = _DURATION_RULE.pattern.search(rest)
    if m:
        n_raw = m.group("n").lower()
        amount = (
            0.5
            if n_raw.startswith("half")
            else (float(n_raw) if n_raw[0].isdigit() else _num(n_raw))
        )
        minutes = amount * (60 if m.group("unit").lower().startswith("h") else 1)
        when.duration_minutes = max(1, round(minutes))
        rest = _cut(rest, m)

    found: list[tuple[int, date]] = []
    masked: list[str] = []
    for rule in _DATE_RULES:
        while True:
            m = rule.pattern.search(rest)
            if not m:
                break
            if rule.kind == "in_time":
                n = _num(m.group("n"))
                unit = m.group("unit").lower()
                delta = timedelta(hours=n) if unit.startswith("h") else timedelta(minutes=n)
                when.moment = (local_now + delta).replace(second=0, microsecond=0)
                rest = _cut(rest, m)
                continue
            try:
                resolved = _resolve_date(rule.kind, m, today)
            except (ValueError, KeyError):
                resolved = None
            if resolved is None:
                # Not a date after all (e.g. "Feb 30"): mask it so the loop moves on.
                rest = rest[: m.start()] + _mask(masked, m.group(0)) + rest[m.end() :]
                continue
            found.append((m.start(), resolved))
            if rule.kind == "tonight" and when.time is None:
                when.time = time(20, 0)
            rest = _cut(rest, m)
    found.sort(key=lambda item: item[0])
    when.dates = [d for _, d in found]
    if when.dates:
        when.date = when.dates[0]

    explicit: tuple[str, time] | None = None
    period: str | None = "evening" if when.time is not None else None  # "tonight"
    for rule in _TIME_RULES:
        m = rule.pattern.search(rest)
        if not m:
            continue
        try:
            parsed = _resolve_time(rule.kind, m)
        except ValueError:
            continue
        rest = _cut(rest, m)
        if rule.kind in ("morning", "afternoon", "evening"):
            period = period or rule.kind
            when.time = when.time or parsed
        elif explicit is None:
            explicit = (rule.kind, parsed)
    if explicit is not None:
        kind, parsed = explicit
        if kind == "at_hour" and period is not None:
            # "tonight at 8" / "in the morning at 7": the period decides AM/PM.
            hour = parsed.hour % 12
            parsed = time(hour if period == "morning" else hour + 12, 0)
        when.time = parsed

    when.rest = _tidy(_MASK_RE.sub(lambda m: masked[ord(m.group(1)) - 0xE100], rest))
    return when


# --- text helpers ----------------------------------------------------------------------


def _tidy(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\s+([,.;:!?])", r"\1", text)
    # Dangling prepositions/conjunctions left behind by removed date phrases.
    for _ in range(3):
        text = re.sub(
            r"(?:^|\s)(?:on|by|at|due|for|until|till|before|and|from|to|please|,)\s*$",
            "",
            text,
            flags=re.IGNORECASE,
        ).strip()
        text = text.strip(" ,.;:!?-–—")
    return text


def _sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def _slug(text: str, limit: int = 64) -> str:
    words = re.findall(r"[a-z0-9]+", text.lower().replace("'s ", " "))
    return "_".join(words)[:limit].strip("_") or "note"


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
        return "low", _cut(text, m)
    m = _PRIORITY_HIGH.search(text)
    if m:
        return "high", _cut(text, m)
    return None, text


# --- intents ---------------------------------------------------------------------------


@dataclass
class Intent:
    """A recognised skill: a complete tool call, or one that needs more from the user.

    ``missing`` names required arguments the text did not give (the offline model asks
    for them); ``problem`` is a human explanation why no call should be made (a date in
    the past, a return before departure).
    """

    name: str
    arguments: dict[str, Any]
    missing: list[str] = field(default_factory=list)
    problem: str | None = None

    @property
    def complete(self) -> bool:
        return not self.missing and self.problem is None


def local_now(now: datetime, tz: str) -> datetime:
    """``now`` in the user's time zone (a naive ``now`` is taken as already local)."""
    zone = ZoneInfo(tz or "UTC")
    return now.replace(tzinfo=zone) if now.tzinfo is None else now.astimezone(zone)


def recognize(text: str, now: datetime, tz: str = "UTC") -> list[ToolCall]:
    """The tool calls a message asks for (empty when none, or when more is needed)."""
    intent = recognize_intent(text, now, tz)
    if intent is None or not intent.complete:
        return []
    return [make_tool_call(intent.name, intent.arguments)]


def recognize_intent(text: str, now: datetime, tz: str = "UTC") -> Intent | None:
    """The skill a message asks for, or ``None`` when it is not one of the skills."""
    clean = re.sub(r"\s+", " ", text).strip()
    if not clean:
        return None
    loc = local_now(now, tz)
    for recognizer in (
        _select_flight,
        _search_flights,
        _set_preference,
        _pin_memory,
        _update_task,
        _summarize_agenda,
        _create_task,
    ):
        intent = recognizer(clean, loc)
        if intent is not None:
            return intent
    return None


# select_flight ---------------------------------------------------------------------------

_SELECT_VERB = (
    r"(?:book|select|choose|pick|take|go\s+with|want|get|reserve|i'?ll\s+take|let'?s\s+do)"
)
_SELECT_RANK = re.compile(
    r"\b" + _SELECT_VERB + r"\b.*?\b(?:the\s+)?(?P<ord>first|second|third|fourth|fifth|top|"
    r"1st|2nd|3rd|4th|5th)\b(?:\s+(?:one|option|flight|offer))?",
    re.IGNORECASE,
)
_SELECT_OPTION = re.compile(r"\b(?:option|number|no\.?|choice|#)\s*(?P<n>\d{1,2})\b", re.IGNORECASE)
_FLIGHT_ID = re.compile(r"\b(?P<id>off_[A-Za-z0-9]+)\b")
_SEARCH_ID = re.compile(r"\b(?P<id>fs_[A-Za-z0-9]+)\b")


def _select_flight(text: str, loc: datetime) -> Intent | None:
    args: dict[str, Any] = {}
    flight = _FLIGHT_ID.search(text)
    rank = _SELECT_RANK.search(text)
    option = _SELECT_OPTION.search(text)
    if flight and re.search(r"\b" + _SELECT_VERB + r"\b", text, re.IGNORECASE):
        args["flight_id"] = flight.group("id")
    elif option and (
        re.search(r"\b" + _SELECT_VERB + r"\b", text, re.IGNORECASE)
        or re.fullmatch(r"\W*(?:option|number|#)\s*\d{1,2}\W*", text, re.IGNORECASE)
    ):
        args["option_rank"] = int(option.group("n"))
    elif rank and not re.search(r"\bflights?\s+(?:to|from)\b", text, re.IGNORECASE):
        args["option_rank"] = ORDINALS[rank.group("ord").lower()]
    else:
        return None
    if args.get("option_rank") == 0:
        return None
    search = _SEARCH_ID.search(text)
    if search:
        args = {"search_id": search.group("id"), **args}
    return Intent("select_flight", args)


# search_flights ----------------------------------------------------------------------------

_FLIGHT_WORDS = re.compile(
    r"\b(?:flights?|fly(?:ing)?|plane\s+tickets?|airfare|air\s+tickets?)\b", re.IGNORECASE
)
_PLACE_STOP = (
    r"(?=\s+(?:on|next|this|tomorrow|today|tonight|in|for|returning|return|back|coming|"
    r"departing|leaving|and|at|around|by|with|via|from|to|between|until|till|the|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
    r"jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|\d)\b|\s*[,.;!?]|\s*$)"
)
_PLACE = r"(?P<place>[A-Za-z][A-Za-z.'\- ]*?)" + _PLACE_STOP
_TO = re.compile(r"\b(?:to|into)\s+" + _PLACE, re.IGNORECASE)
_FROM = re.compile(r"\b(?:from|out\s+of|leaving)\s+" + _PLACE, re.IGNORECASE)
_RETURN = re.compile(
    r"\b(?:returning|return(?:ing)?\s+on|return|back|coming\s+back|until|till|through)\b",
    re.IGNORECASE,
)
_STAY = re.compile(
    r"\bfor\s+(?P<n>\d+|an?|one|two|three|four|five|six|seven|eight|nine|ten|couple\s+of|few)"
    r"\s+(?P<unit>days?|nights?|weeks?)\b",
    re.IGNORECASE,
)
_ADULTS = re.compile(
    r"\bfor\s+(?P<n>\d|one|two|three|four|five|six)\s+(?:adults?|people|persons|passengers|of\s+us)\b",
    re.IGNORECASE,
)
_CABIN = re.compile(
    r"\b(?P<c>premium\s+economy|economy|coach|business|first)(?:\s+class)?\b", re.IGNORECASE
)
_NONSTOP = re.compile(r"\b(?:non[\s-]?stop|direct)\b", re.IGNORECASE)


_NOT_PLACES = frozenset(
    {"me", "us", "it", "them", "a", "an", "the", "fly", "go", "travel", "book", "find", "get",
     "see", "visit", "head", "return", "leave", "be", "take", "next", "this", "today",
     "tomorrow", "tonight"}
    | set(WEEKDAYS)
    | set(MONTHS)
    | {"march", "june", "july", "august", "september", "october", "november", "december",
       "january", "february", "april"}
)  # fmt: skip


def _place(raw: str) -> str | None:
    raw = raw.strip(" .,'-")
    if not raw or raw.split()[0].lower() in _NOT_PLACES:
        return None
    if re.fullmatch(r"[A-Za-z]{3}", raw) and (raw.isupper() or raw.islower()):
        return raw.upper()
    return " ".join(w if w.isupper() else w.capitalize() for w in raw.split())


def _search_flights(text: str, loc: datetime) -> Intent | None:
    if not _FLIGHT_WORDS.search(text):
        return None
    destination = next((p for m in _TO.finditer(text) if (p := _place(m.group("place")))), None)
    if destination is None:
        return None
    args: dict[str, Any] = {}
    origin = next((p for m in _FROM.finditer(text) if (p := _place(m.group("place")))), None)
    if origin:
        args["origin"] = origin
    args["destination"] = destination

    # Dates: everything before a "returning …" marker is the outbound part.
    ret = _RETURN.search(text)
    outbound_text, return_text = (text[: ret.start()], text[ret.end() :]) if ret else (text, "")
    outbound = extract_when(outbound_text, loc)
    inbound = extract_when(return_text, loc) if return_text else None
    dates = list(outbound.dates)
    missing: list[str] = []
    problem: str | None = None
    if dates:
        args["departure_date"] = dates[0].isoformat()
    else:
        missing.append("departure_date")
    return_date: date | None = None
    if inbound and inbound.dates:
        return_date = inbound.dates[0]
    elif len(dates) > 1:  # "from Dec 3 to Dec 7"
        return_date = dates[1]
    else:
        stay = _STAY.search(text)
        if stay and dates:
            n = _num(stay.group("n").replace("  ", " ").lower())
            days = n * 7 if stay.group("unit").lower().startswith("week") else n
            return_date = dates[0] + timedelta(days=days)
    if return_date is not None:
        args["return_date"] = return_date.isoformat()

    cabin = _CABIN.search(text)
    if cabin:
        c = re.sub(r"\s+", "_", cabin.group("c").lower())
        args["cabin_class"] = "economy" if c == "coach" else c
    adults = _ADULTS.search(text)
    if adults:
        args["adults"] = _num(adults.group("n").lower())
    if _NONSTOP.search(text):
        args["max_connections"] = 0

    if dates and dates[0] < loc.date():
        problem = f"{dates[0].isoformat()} is in the past."
    elif return_date and dates and return_date < dates[0]:
        problem = "The return date is before the departure date."
    return Intent("search_flights", args, missing=missing, problem=problem)


# set_preference ----------------------------------------------------------------------------

_PREFERENCE_PATTERNS: list[tuple[re.Pattern[str], Any]] = [
    (
        re.compile(
            r"\b(?:my\s+)?home\s+airport\s+(?:is|=|:)\s+(?P<v>[A-Za-z][A-Za-z .'-]*?)\s*[.!]?$",
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
    r"\bi\s+(?:(?:really|usually|always)\s+)?(?:prefer|like|want|fly|choose)\b", re.IGNORECASE
)


def _set_preference(text: str, loc: datetime) -> Intent | None:
    for pattern, key in _PREFERENCE_PATTERNS:
        m = pattern.search(text)
        if not m:
            continue
        raw = m.group("v").strip()
        value: Any
        if key == "home_airport":
            value = _place(raw)
            if value is None:
                continue
        elif key == "budget":
            number = float(raw.replace(",", ""))
            value = int(number) if number.is_integer() else number
        else:
            value = _place(raw)
        return Intent("set_preference", {"key": key, "value": value})

    if re.search(
        r"\b(?:don'?t\s+mind|fine\s+with|ok(?:ay)?\s+with)\s+(?:connections|layovers|stops)\b",
        text,
        re.IGNORECASE,
    ):
        return Intent("set_preference", {"key": "prefer_nonstop", "value": False})
    if not _PREFER.search(text):
        return None
    if _NONSTOP.search(text):
        return Intent("set_preference", {"key": "prefer_nonstop", "value": True})
    seat = re.search(r"\b(?P<s>aisle|window|middle)\s+seats?\b", text, re.IGNORECASE)
    if seat:
        return Intent("set_preference", {"key": "seat", "value": seat.group("s").lower()})
    cabin = re.search(
        r"\b(?P<c>premium\s+economy|economy|business|first)\s+class\b|\b(?P<c2>premium\s+economy|economy)\b",
        text,
        re.IGNORECASE,
    )
    if cabin:
        c = (cabin.group("c") or cabin.group("c2")).lower()
        return Intent("set_preference", {"key": "cabin_class", "value": re.sub(r"\s+", "_", c)})
    return None


# pin_memory --------------------------------------------------------------------------------

_REMEMBER = re.compile(
    r"^(?:please\s+)?(?:remember|don'?t\s+forget|keep\s+in\s+mind|note|fyi|for\s+the\s+record)"
    r"(?:\s+that)?[,:]?\s+(?P<fact>.+)$",
    re.IGNORECASE,
)
_MY_X_IS_Y = re.compile(
    r"^(?:my|the|our)\s+(?P<x>[a-z][a-z0-9' ]{0,40}?)\s+(?:is|are)\s+(?P<y>.+?)[.!]?$",
    re.IGNORECASE,
)


def _pin_memory(text: str, loc: datetime) -> Intent | None:
    m = _REMEMBER.match(text)
    if not m:
        return None
    fact = m.group("fact").strip().rstrip(".!")
    if re.match(r"^to\s+", fact, re.IGNORECASE):  # "don't forget to …" is a task
        return None
    kind = "note" if text.lower().startswith("note") else "fact"
    if re.match(r"^i\s+(?:prefer|like|love|hate|dislike|don'?t\s+like)\b", fact, re.IGNORECASE):
        kind = "preference"
    mine = _MY_X_IS_Y.match(fact)
    if mine:
        key = _slug(mine.group("x").replace("'s", "").replace("'", ""))
        value = mine.group("y").strip()
    else:
        key = _slug(" ".join(re.findall(r"[A-Za-z0-9']+", fact)[:6]).replace("'", ""))
        value = _sentence_case(fact)
    return Intent("pin_memory", {"key": key, "value": value, "type": kind})


# update_task -------------------------------------------------------------------------------

_DONE = r"(?:done|complete[d]?|finished|closed)"
_UPDATE_DONE = [
    re.compile(r"^(?:please\s+)?(?:mark|set)\s+(?P<q>.+?)\s+(?:as\s+)?" + _DONE + r"\b", re.I),
    re.compile(
        r"^(?:please\s+)?(?:complete|finish|close|check\s+off|cross\s+off|tick\s+off)\s+"
        r"(?P<q>.+?)$",
        re.I,
    ),
    re.compile(
        r"^i(?:'ve|\s+have)?\s+(?:just\s+|already\s+)?(?:finished|completed|done|did)\s+(?P<q>.+?)$",
        re.I,
    ),
    re.compile(r"^(?P<q>.+?)\s+(?:is|are)\s+(?:now\s+)?" + _DONE + r"\b", re.I),
]
_UPDATE_REOPEN = re.compile(
    r"^(?:please\s+)?(?:reopen|re-open|un-?complete|mark\s+(?P<q2>.+?)\s+as\s+(?:open|not\s+done))"
    r"(?:\s+(?P<q>.+?))?$",
    re.I,
)
_UPDATE_MOVE = re.compile(
    r"^(?:please\s+)?(?:move|reschedule|push|postpone|change)\s+(?P<q>.+?)\s+(?:to|until|till)\s+"
    r"(?P<when>.+)$",
    re.I,
)
_UPDATE_PRIORITY = re.compile(
    r"^(?:please\s+)?make\s+(?P<q>.+?)\s+(?:a\s+)?(?P<p>high|low|normal|urgent)(?:[\s-]priority)?$",
    re.I,
)


def _title_query(raw: str) -> str | None:
    q = raw.strip(" .!?,")
    q = re.sub(r"^(?:the|my|a|an|that|this)\s+", "", q, flags=re.I)
    q = re.sub(r"\s+(?:task|todo|to-do|item|reminder)s?$", "", q, flags=re.I)
    q = re.sub(r"^(?:task|todo|reminder)\s+(?:to\s+)?", "", q, flags=re.I)
    q = q.strip(" .!?,\"'“”")
    if not q or q.lower() in ("it", "that", "this", "everything", "all"):
        return None
    return q


def _update_task(text: str, loc: datetime) -> Intent | None:
    body = text.rstrip(" .!")
    m = _UPDATE_MOVE.match(body)
    if m:
        when = extract_when(m.group("when"), loc)
        due = when.due(loc)
        query = _title_query(m.group("q"))
        if due is not None and query:
            return Intent("update_task", {"title_query": query, "due": due.isoformat()})
    m = _UPDATE_PRIORITY.match(body)
    if m:
        query = _title_query(m.group("q"))
        if query:
            p = m.group("p").lower()
            return Intent(
                "update_task", {"title_query": query, "priority": "high" if p == "urgent" else p}
            )
    m = _UPDATE_REOPEN.match(body)
    if m:
        query = _title_query(m.group("q") or m.group("q2") or "")
        if query:
            return Intent("update_task", {"title_query": query, "status": "open"})
    for pattern in _UPDATE_DONE:
        m = pattern.match(body)
        if m:
            query = _title_query(m.group("q"))
            if query and not re.search(r"\b(?:remind|tomorrow|next)\b", query, re.I):
                return Intent("update_task", {"title_query": query, "status": "done"})
    return None


# summarize_agenda --------------------------------------------------------------------------

_AGENDA = re.compile(
    r"\b(?:agenda|schedule|calendar|itinerary|plans?\s+for|to-?do\s+list|my\s+tasks|"
    r"what'?s\s+(?:on|up|next|coming\s+up)|what\s+is\s+(?:on|up|next)|"
    r"what\s+do\s+i\s+have|what\s+have\s+i\s+got|anything\s+(?:on|due)|"
    r"(?:summari[sz]e|recap|overview\s+of|brief\s+me\s+on)\s+(?:my|the|this|today|tomorrow)|"
    r"review\s+my\s+(?:day|week|agenda|schedule)|"
    r"how\s+does\s+my\s+(?:day|week)\s+look|am\s+i\s+(?:free|busy))",
    re.IGNORECASE,
)


_AGENDA_FOLLOW_UP = re.compile(
    r"^(?:and\s+|what\s+about\s+|how\s+about\s+)?(?:for\s+)?(?:today|tomorrow|this\s+week)\W*$",
    re.IGNORECASE,
)


def _summarize_agenda(text: str, loc: datetime) -> Intent | None:
    if not _AGENDA.search(text) and not _AGENDA_FOLLOW_UP.match(text):
        return None
    if re.match(r"^(?:please\s+)?(?:add|put|schedule|create|remind)\b", text, re.IGNORECASE):
        return None
    lower = text.lower()
    if "tomorrow" in lower:
        rng = "tomorrow"
    elif re.search(r"\bweek(?:end)?\b|\bnext\s+(?:few|7|seven)\s+days\b", lower):
        rng = "week"
    else:
        rng = "today"
    return Intent("summarize_agenda", {"range": rng})


# create_task -------------------------------------------------------------------------------

_TASK_LEAD = re.compile(
    r"^(?:(?:hey|ok(?:ay)?|so|please|pls|can\s+you|could\s+you|would\s+you)[,\s]+)*"
    r"(?:"
    r"remind\s+me\s+(?:to\s+|about\s+|of\s+|that\s+i\s+(?:need|have)\s+to\s+)?"
    r"|(?:add|create|make|set\s+up|put)\s+(?:a\s+|an\s+)?(?:new\s+)?(?:task|to-?do|reminder)"
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


def _create_task(text: str, loc: datetime) -> Intent | None:
    priority, text = _extract_priority(text)
    text = text.strip(" ,.:;!-")
    m = _TASK_LEAD.match(text)
    if not m:
        return None
    body = m.group("add") if m.groupdict().get("add") else text[m.end() :]
    # "I need to" requires a verb phrase: "I need help" is not a task.
    if re.match(r"^i\s+(?:need|have|got)\b", text, re.I) and not re.match(
        r"^i\s+(?:really\s+)?(?:need|have|got)\s+to\b", text, re.I
    ):
        return None
    when = extract_when(body, loc)
    title = _tidy(when.rest)
    title = re.sub(r"^(?:to|that)\s+", "", title, flags=re.I)
    title = _sentence_case(title)
    if not title:
        return None
    due = when.due(loc)
    args: dict[str, Any] = {
        "title": title[:500],
        "due": due.isoformat() if due else None,
        "priority": priority or "normal",
    }
    if when.duration_minutes:
        args["duration_minutes"] = when.duration_minutes
    return Intent("create_task", args)
