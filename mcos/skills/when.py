"""The offline model's date and time grammar: phrases in a message → a local date/time.

Pure: ``now`` is passed in (already in the user's zone, see :func:`local_now`); no clock,
no I/O. Weeks start on Monday. ``today`` below is ``now``'s date in the user's zone.

Dates:

- ``today``, ``tonight`` (20:00 unless a time is given), ``tomorrow``, ``day after
  tomorrow``.
- ``<weekday>`` and ``on/by/until <weekday>``: the coming one, the first such weekday
  strictly after today (said on a Friday, "Friday" is a week later).
- ``this <weekday>``: the first such weekday on or after today (today counts).
- ``next <weekday>``: that weekday in NEXT week (Monday–Sunday after this one). Said on a
  Tuesday, "next Friday" is the Friday ten days later, while "Friday" and "this Friday"
  are the one three days later; said on a Saturday, "next Friday" is six days later.
- ``next week``: Monday of next week; ``end of (the) week``: Friday of this week (today
  once that Friday has passed); ``(this) weekend``: the coming Saturday (today on a
  Saturday).
- ``in N days/weeks``; ``in N minutes/hours`` (date and time from ``now``).
- ``the 15th``: the 15th of this month, or of next month once it has passed.
- Explicit: ``2026-12-03``, ``Dec 3``/``December 3rd``/``3 Dec`` (optional year),
  ``12/3`` and ``12/3/2026`` (US order: month/day). A date without year that has already
  passed this year means next year.

Times: ``3pm``, ``3:30 pm``, ``15:00``, ``noon`` (12:00), ``midnight`` (23:59 of that day:
"by midnight" is the end of the day), ``morning`` 09:00, ``afternoon`` 14:00, ``evening``
18:00, ``end of day``/``EOD`` 17:00, ``at 9`` without am/pm: 1–6 → PM, 7–11 → AM, 12 →
noon ("tonight at 8", "in the morning at 7": the period decides). A date without a time →
17:00 (the end of the working day). A time without a date → today if still ahead, else
tomorrow. Durations: ``for 30 minutes``, ``for an hour``, ``for 1.5 hours``.

Moving something that already has a due time (:meth:`When.moved`): a new time alone keeps
its day, a new day alone keeps its time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TypeAlias

from mcos.kernel.timezones import zone as time_zone

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
MONTH_NAMES = (
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december",
)  # fmt: skip
NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "couple of": 2, "few": 3,
}  # fmt: skip
# Words of this grammar whose misspellings are worth correcting (see skills.text.correct).
VOCABULARY = frozenset(
    {"today", "tonight", "tomorrow", "morning", "afternoon", "evening", "midnight", "weekend",
     "minutes", "hours", "next", "week", "this"}
    | {w for w in WEEKDAYS if len(w) > 4}
    | set(MONTH_NAMES)
)  # fmt: skip

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


def number(word: str) -> int:
    """``"3"`` → 3, ``"three"``/``"a"``/``"couple of"`` → 3/1/2."""
    return int(word) if word.isdigit() else NUMBER_WORDS[" ".join(word.lower().split())]


def local_now(now: datetime, tz: str) -> datetime:
    """``now`` in the user's time zone (a naive ``now`` is taken as already local)."""
    zone = time_zone(tz or "UTC")  # the kernel's: a real zone inside the workflow sandbox too
    return now.replace(tzinfo=zone) if now.tzinfo is None else now.astimezone(zone)


# The field names below shadow the types.
_Date: TypeAlias = date
_Time: TypeAlias = time


@dataclass
class When:
    """What :func:`extract_when` found, and the text with those phrases removed."""

    date: _Date | None = None
    time: _Time | None = None
    moment: datetime | None = None  # "in 2 hours": an exact local datetime
    duration_minutes: int | None = None
    rest: str = ""
    dates: list[_Date] = field(default_factory=list)  # every date found, in text order

    @property
    def found(self) -> bool:
        return self.moment is not None or self.date is not None or self.time is not None

    def due(self, now: datetime) -> datetime | None:
        """The local due datetime, following the module's defaults (``now`` is local)."""
        if self.moment is not None:
            return self.moment
        if self.date is None and self.time is None:
            return None
        if self.date is None:
            assert self.time is not None
            candidate = datetime.combine(now.date(), self.time, now.tzinfo)
            if candidate <= now:
                candidate = datetime.combine(now.date() + timedelta(days=1), self.time, now.tzinfo)
            return candidate
        return datetime.combine(self.date, self.time or DEFAULT_TIME, now.tzinfo)

    def moved(self, current: datetime | None, now: datetime) -> datetime | None:
        """The new due datetime for something due at ``current`` (local) being moved here:
        a time alone keeps ``current``'s day, a day alone keeps its time."""
        if current is None or self.moment is not None:
            return self.due(now)
        current = current.astimezone(now.tzinfo)
        if self.date is None and self.time is not None:
            return datetime.combine(current.date(), self.time, now.tzinfo)
        if self.date is not None and self.time is None:
            return datetime.combine(self.date, current.timetz().replace(tzinfo=None), now.tzinfo)
        return self.due(now)


def _upcoming_weekday(today: date, weekday: int, *, include_today: bool) -> date:
    delta = (weekday - today.weekday()) % 7
    if delta == 0 and not include_today:
        delta = 7
    return today + timedelta(days=delta)


def _next_weeks_weekday(today: date, weekday: int) -> date:
    next_monday = today + timedelta(days=7 - today.weekday())
    return next_monday + timedelta(days=weekday)


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
    _rule("ordinal_day", _PREP + r"\bthe\s+(?P<d>\d{1,2})(?:st|nd|rd|th)\b"),
    _rule("day_after_tomorrow", _PREP + r"\b(?:the\s+)?day\s+after\s+tomorrow\b"),
    _rule("tomorrow", _PREP + r"\b(?:tomorrow|tmrw|tmr)\b"),
    _rule("tonight", _PREP + r"\btonight\b"),
    _rule("today", _PREP + r"\b(?:today|later today)\b"),
    _rule("in_days", r"\bin\s+" + _NUM + r"\s+(?P<unit>days?|weeks?)\b"),
    _rule("in_time", r"\bin\s+" + _NUM + r"\s+(?P<unit>minutes?|mins?|hours?|hrs?)\b"),
    _rule("next_week", _PREP + r"\bnext\s+week\b"),
    _rule("end_of_week", _PREP + r"\b(?:the\s+)?end\s+of\s+(?:the\s+|this\s+)?week\b"),
    _rule("weekend", _PREP + r"\b(?:this\s+|the\s+)?weekend\b"),
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
    if kind == "ordinal_day":  # "the 15th": this month's, else next month's
        day = int(g["d"])
        if day >= today.day:
            return date(today.year, today.month, day)
        return date(today.year + today.month // 12, today.month % 12 + 1, day)
    if kind == "day_after_tomorrow":
        return today + timedelta(days=2)
    if kind == "tomorrow":
        return today + timedelta(days=1)
    if kind in ("today", "tonight"):
        return today
    if kind == "in_days":
        n = number(g["n"])
        return today + timedelta(days=n * (7 if g["unit"].lower().startswith("week") else 1))
    if kind == "next_week":
        return today + timedelta(days=7 - today.weekday())
    if kind == "end_of_week":
        return today + timedelta(days=max(0, 4 - today.weekday()))
    if kind == "weekend":
        return _upcoming_weekday(today, 5, include_today=True) if today.weekday() != 6 else today
    if kind == "this_weekday":
        return _upcoming_weekday(today, WEEKDAYS[g["wd"].lower()], include_today=True)
    if kind == "next_weekday":
        return _next_weeks_weekday(today, WEEKDAYS[g["wd"].lower()])
    if kind == "weekday":
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


def extract_when(text: str, now: datetime) -> When:
    """Find date, time and duration phrases in ``text`` (``now`` is local; see the module
    docstring for the rules). ``rest`` is the text without them, tidied."""
    today = now.date()
    when = When(rest=text)
    rest = text

    m = _DURATION_RULE.pattern.search(rest)
    if m:
        n_raw = m.group("n").lower()
        amount = (
            0.5
            if n_raw.startswith("half")
            else (float(n_raw) if n_raw[0].isdigit() else number(n_raw))
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
                n = number(m.group("n"))
                unit = m.group("unit").lower()
                delta = timedelta(hours=n) if unit.startswith("h") else timedelta(minutes=n)
                when.moment = (now + delta).replace(second=0, microsecond=0)
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

    when.rest = tidy(_MASK_RE.sub(lambda m: masked[ord(m.group(1)) - 0xE100], rest))
    return when


def tidy(text: str) -> str:
    """Whitespace collapsed, and the prepositions a removed date phrase left dangling."""
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\s+([,.;:!?])", r"\1", text)
    for _ in range(3):
        text = re.sub(
            r"(?:^|\s)(?:on|by|at|due|for|until|till|before|and|from|to|please|,)\s*$",
            "",
            text,
            flags=re.IGNORECASE,
        ).strip()
        text = text.strip(" ,.;:!?-–—")
    return text
