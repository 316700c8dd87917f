"""Travel derived from calendar events: a pure, deterministic heuristic.

Signals, each with a weight and a human-readable reason:

* a travel keyword in the title (trip, flight, travel, conference, summit, offsite,
  visit, vacation…), but not "conference call/room";
* a destination in another city than home (weaker when a city is only mentioned in the
  title, not as "to/in/at <city>"): a city name (from the bundled ``airportsdata``
  airport list) in the title or location, or an IATA code in flight context ("SFO → CDG").
  A place within ``NEAR_HOME_KM`` of home (Oakland for SFO) counts as home and lowers the
  score instead;
* the event spans several days.

An event becomes a ``TravelEvent`` when its confidence reaches ``MIN_CONFIDENCE``.
Dates are the event's UTC dates (all-day events: their calendar dates, end inclusive).
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import airportsdata

from mcos.kernel.models import CalendarEvent, TravelEvent

MIN_CONFIDENCE = 0.4
NEAR_HOME_KM = 100.0
MAX_CITY_WORDS = 4

W_KEYWORD = 0.4
W_AWAY = 0.4  # a destination after "to/in/at…", in the location, or an airport route
W_AWAY_MENTION = 0.2  # a city merely mentioned in the title ("Call with Tokyo team")
W_AWAY_HOME_UNKNOWN = 0.25
W_MULTI_DAY = 0.2
W_AT_HOME = -0.3

KEYWORDS = re.compile(
    r"\b(trips?|flights?|fly(?:ing)?|travel(?:l?ing)?|conference|conf|summit|"
    r"off-?site|visit(?:ing)?|vacation)\b",
    re.IGNORECASE,
)
NOT_TRAVEL = re.compile(
    r"\b(conference\s+(?:call|room|bridge)|video\s+conference|web\s+conference|"
    r"teleconference)\b",
    re.IGNORECASE,
)
FLIGHT_CONTEXT = re.compile(r"\b(flights?|fly(?:ing)?|airport|boarding)\b", re.IGNORECASE)
ROUTE = re.compile(r"\b([A-Z]{3})\s*(?:-|–|—|→|->|>|to)\s*([A-Z]{3})\b")
IATA_TOKEN = re.compile(r"\b[A-Z]{3}\b")
WORD = re.compile(r"[^\W\d_]+")
# Words right before a city that make it a destination ("Trip to Paris", "Offsite in Berlin").
DESTINATION_PREPOSITIONS = frozenset({"to", "in", "at", "visit", "visiting", "into", "towards"})
# City names in the airport list that are also everyday words; they only count after a
# destination preposition or as a whole location part.
AMBIGUOUS_CITIES = frozenset(
    {
        "bishop", "butler", "central", "crane", "delta", "eagle", "enterprise", "eureka",
        "globe", "homer", "hope", "independence", "marathon", "mobile", "nice", "orange",
        "page", "paradise", "price", "reading", "split", "summit", "trail", "union", "wells",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Place:
    """A city (all airports listing it) or a single airport code."""

    name: str
    coords: tuple[tuple[float, float], ...] = ()
    code: str | None = None


@dataclass(frozen=True)
class _Candidate:
    place: Place
    where: str  # "title" or "location"
    strong: bool  # after a destination preposition / a route / a whole location


# --- airport data ---------------------------------------------------------------------


def _norm(text: str) -> str:
    stripped = "".join(
        ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch)
    )
    return " ".join(WORD.findall(stripped.lower()))


@lru_cache(maxsize=1)
def _airports() -> dict[str, airportsdata.Airport]:
    return airportsdata.load("IATA")


@lru_cache(maxsize=1)
def _cities() -> dict[str, Place]:
    coords: dict[str, list[tuple[float, float]]] = {}
    names: dict[str, str] = {}
    for airport in _airports().values():
        city = str(airport.get("city") or "").strip()
        key = _norm(city)
        if not key or len(key.split()) > MAX_CITY_WORDS:
            continue
        names.setdefault(key, city)
        coords.setdefault(key, []).append((float(airport["lat"]), float(airport["lon"])))
    return {key: Place(names[key], tuple(sorted(coords[key]))) for key in names}


def _airport_place(code: str) -> Place | None:
    airport = _airports().get(code.upper())
    if airport is None:
        return None
    city = _cities().get(_norm(str(airport.get("city") or "")))
    own = (float(airport["lat"]), float(airport["lon"]))
    name = city.name if city else str(airport.get("name") or code)
    return Place(name, tuple(sorted({own, *(city.coords if city else ())})), code.upper())


def resolve_home(home: str | None) -> Place | None:
    """Home as a place: an IATA code ("SFO"), a city ("San Francisco", "San Francisco, CA"),
    or, if neither is known, just the name."""
    if home is None or not home.strip():
        return None
    text = home.strip()
    if re.fullmatch(r"[A-Za-z]{3}", text) and (place := _airport_place(text)) is not None:
        return place
    for candidate in (text, text.split(",")[0]):
        if (city := _cities().get(_norm(candidate))) is not None:
            return city
    return Place(text.split(",")[0].strip())


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0 * math.asin(math.sqrt(min(1.0, h)))


def _is_home(place: Place, home: Place) -> bool:
    if _norm(place.name) == _norm(home.name):
        return True
    return any(_km(a, b) <= NEAR_HOME_KM for a in place.coords for b in home.coords)


# --- finding places in text -----------------------------------------------------------


def _cities_in(text: str, where: str, *, whole_part: bool) -> list[_Candidate]:
    """Cities named in ``text``, longest match first, left to right."""
    words = WORD.findall(text)
    keys = [_norm(word) for word in words]
    found: list[_Candidate] = []
    i = 0
    while i < len(words):
        for size in range(min(MAX_CITY_WORDS, len(words) - i), 0, -1):
            key = " ".join(keys[i : i + size])
            place = _cities().get(key)
            if place is None:
                continue
            strong = i > 0 and keys[i - 1] in DESTINATION_PREPOSITIONS
            exact = whole_part and size == len(words)
            ambiguous = key in AMBIGUOUS_CITIES or len(key.replace(" ", "")) < 4
            capitalised = words[i][:1].isupper()
            if (strong or exact or not ambiguous) and (capitalised or exact):
                found.append(_Candidate(place, where, strong or exact))
                i += size - 1
                break
        i += 1
    return found


def _codes_in(title: str, location: str) -> list[_Candidate]:
    found: list[_Candidate] = []
    for text, where in ((title, "title"), (location, "location")):
        for _origin, destination in ROUTE.findall(text):
            if (place := _airport_place(destination)) is not None:
                found.append(_Candidate(place, where, True))
    if re.fullmatch(r"\s*[A-Z]{3}\s*", location) and (place := _airport_place(location.strip())):
        found.append(_Candidate(place, "location", True))
    if FLIGHT_CONTEXT.search(title):
        for code in IATA_TOKEN.findall(f"{title} {location}"):
            if (place := _airport_place(code)) is not None:
                found.append(_Candidate(place, "title", True))
    return found


def _candidates(event: CalendarEvent) -> list[_Candidate]:
    title, location = event.title or "", event.location or ""
    in_title = _cities_in(title, "title", whole_part=False)
    in_location = [
        candidate
        for part in location.split(",")
        for candidate in _cities_in(part, "location", whole_part=True)
    ]
    ordered: Iterable[_Candidate] = (
        [c for c in in_title if c.strong]
        + _codes_in(title, location)
        + in_location
        + [c for c in in_title if not c.strong]
    )
    return list(ordered)


# --- scoring --------------------------------------------------------------------------


def _keyword(title: str) -> str | None:
    cleaned = NOT_TRAVEL.sub(" ", title)
    match = KEYWORDS.search(cleaned)
    return match.group(1).lower() if match else None


def _dates(event: CalendarEvent) -> tuple[date, date]:
    start = event.start.date()
    if event.end <= event.start:
        return start, start
    return start, (event.end - timedelta(microseconds=1)).date()


def _is_multi_day(event: CalendarEvent) -> bool:
    span = event.end - event.start
    return span >= timedelta(days=2) if event.all_day else span > timedelta(days=1)


def travel_id(calendar_event_id: str) -> str:
    return "trv_" + hashlib.sha256(calendar_event_id.encode()).hexdigest()[:32]


def assess_event(event: CalendarEvent, home: Place | None) -> TravelEvent | None:
    """The travel an event implies, or ``None`` below ``MIN_CONFIDENCE``."""
    score = 0.0
    reasons: list[str] = []
    destination: str | None = None

    if (keyword := _keyword(event.title)) is not None:
        score += W_KEYWORD
        reasons.append(f"title mentions '{keyword}'")

    candidates = _candidates(event)
    away = [c for c in candidates if home is None or not _is_home(c.place, home)]
    if away:
        chosen = away[0]
        destination = chosen.place.code or chosen.place.name
        shown = chosen.place.name + (f" ({chosen.place.code})" if chosen.place.code else "")
        weight = W_AWAY if chosen.strong or chosen.where == "location" else W_AWAY_MENTION
        if home is None:
            score += min(weight, W_AWAY_HOME_UNKNOWN)
            reasons.append(f"{chosen.where} names {shown} (home unknown)")
        else:
            score += weight
            reasons.append(f"{chosen.where} names {shown}, away from home ({home.name})")
    elif candidates and home is not None:
        score += W_AT_HOME
        reasons.append(f"{candidates[0].where} is in or near home ({home.name})")

    start_date, end_date = _dates(event)
    if _is_multi_day(event):
        score += W_MULTI_DAY
        reasons.append(f"spans {(end_date - start_date).days + 1} days")

    confidence = round(min(1.0, max(0.0, score)), 2)
    if confidence < MIN_CONFIDENCE:
        return None
    return TravelEvent(
        id=travel_id(event.id),
        calendar_event_id=event.id,
        title=event.title,
        destination=destination,
        start_date=start_date,
        end_date=end_date,
        confidence=confidence,
        reasons=reasons,
    )


def detect_travel(events: list[CalendarEvent], home: str | None) -> list[TravelEvent]:
    """Travel events found in ``events``, sorted by start date then id.

    ``home`` is an IATA code ("SFO"), a city ("San Francisco") or ``None``. Pure and
    deterministic: same input, same output (the airport list is loaded once and cached).
    """
    home_place = resolve_home(home)
    found = [t for event in events if (t := assess_event(event, home_place)) is not None]
    return sorted(found, key=lambda t: (t.start_date, t.id))
