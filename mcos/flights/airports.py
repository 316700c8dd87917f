"""Resolve what a user types ("SFO", "Boston", "new york") to a real airport (IATA db)."""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

import airportsdata


@dataclass(frozen=True)
class Airport:
    iata: str
    name: str
    city: str
    country: str
    lat: float
    lon: float
    tz: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# Metro codes and city names whose main airport a deterministic rule would not pick well
# (several "International" airports, or the main one is in a neighbouring town).
MAIN_AIRPORT: dict[str, str] = {
    # metropolitan area codes
    "nyc": "JFK",
    "lon": "LHR",
    "par": "CDG",
    "chi": "ORD",
    "was": "IAD",
    "tyo": "HND",
    "bjs": "PEK",
    "sha": "PVG",
    "yto": "YYZ",
    "ymq": "YUL",
    "mil": "MXP",
    "rom": "FCO",
    "sto": "ARN",
    "osa": "KIX",
    "sel": "ICN",
    "sao": "GRU",
    "rio": "GIG",
    "bue": "EZE",
    "mow": "SVO",
    "dtt": "DTW",
    "qdf": "DFW",
    # city names
    "new york": "JFK",
    "new york city": "JFK",
    "london": "LHR",
    "paris": "CDG",
    "chicago": "ORD",
    "washington": "IAD",
    "washington dc": "IAD",
    "washington d.c.": "IAD",
    "tokyo": "HND",
    "beijing": "PEK",
    "shanghai": "PVG",
    "toronto": "YYZ",
    "montreal": "YUL",
    "vancouver": "YVR",
    "milan": "MXP",
    "rome": "FCO",
    "stockholm": "ARN",
    "osaka": "KIX",
    "seoul": "ICN",
    "sao paulo": "GRU",
    "rio de janeiro": "GIG",
    "buenos aires": "EZE",
    "moscow": "SVO",
    "dallas": "DFW",
    "houston": "IAH",
    "detroit": "DTW",
    "miami": "MIA",
    "orlando": "MCO",
    "los angeles": "LAX",
    "san francisco": "SFO",
    "bay area": "SFO",
    "berlin": "BER",
    "sydney": "SYD",
    "melbourne": "MEL",
    "dubai": "DXB",
    "istanbul": "IST",
    "bangkok": "BKK",
    "mexico city": "MEX",
    "brussels": "BRU",
    "frankfurt": "FRA",
    "munich": "MUC",
    "amsterdam": "AMS",
    "madrid": "MAD",
    "barcelona": "BCN",
    "lisbon": "LIS",
    "dublin": "DUB",
    "zurich": "ZRH",
    "singapore": "SIN",
    "hong kong": "HKG",
    "delhi": "DEL",
    "new delhi": "DEL",
    "mumbai": "BOM",
    "seattle": "SEA",
    "denver": "DEN",
    "atlanta": "ATL",
    "boston": "BOS",
    "austin": "AUS",
    "portland": "PDX",
    "las vegas": "LAS",
    "phoenix": "PHX",
    "philadelphia": "PHL",
    "minneapolis": "MSP",
    "salt lake city": "SLC",
    "san diego": "SAN",
}

# Words that mark a field nobody flies commercially from.
_MINOR = (
    "seaplane",
    "heliport",
    "air force",
    "afb",
    "raf ",
    "naval",
    "army",
    "base",
    "field",
    "municipal",
    "county",
    "executive",
    "strip",
    "regional",
    "ranch",
)
_MAJOR = ("international", " intl")


def _normalize(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.casefold().strip()
    text = re.sub(r"\s+", " ", text)
    return text


@lru_cache(maxsize=1)
def _db() -> dict[str, airportsdata.Airport]:
    return airportsdata.load("IATA")


@lru_cache(maxsize=1)
def _by_city() -> dict[str, list[str]]:
    index: dict[str, list[str]] = {}
    for code, row in _db().items():
        index.setdefault(_normalize(row["city"]), []).append(code)
    return index


def _to_airport(row: airportsdata.Airport) -> Airport:
    return Airport(
        iata=row["iata"],
        name=row["name"],
        city=row["city"],
        country=row["country"],
        lat=float(row["lat"]),
        lon=float(row["lon"]),
        tz=row["tz"],
    )


def airport_by_code(code: str) -> Airport | None:
    """The airport with this IATA code, or None."""
    row = _db().get(code.strip().upper()) if code else None
    return _to_airport(row) if row else None


def _importance(code: str) -> tuple[int, int, str]:
    """Sort key (lower is better): commercial-looking name first, then has ICAO, then code."""
    row = _db()[code]
    name = " " + _normalize(row["name"]) + " "
    score = 0
    if any(word in name for word in _MAJOR):
        score -= 2
    if any(word in name for word in _MINOR):
        score += 3
    has_icao = 0 if row.get("icao") else 1
    return (score, has_icao, code)


def resolve_airport(text: str) -> Airport | None:
    """An IATA code, metro code, city name or airport name → the main matching airport."""
    if not text or not text.strip():
        return None
    norm = _normalize(text)
    norm = re.sub(r"\b(airport|airports|intl|international)\b", "", norm).strip(" ,.")
    # "Boston, MA" / "Paris, France": the city is what comes before the comma.
    candidates = [norm]
    if "," in norm:
        candidates.append(norm.split(",", 1)[0].strip())
    for cand in candidates:
        if cand in MAIN_AIRPORT:
            return airport_by_code(MAIN_AIRPORT[cand])
        if re.fullmatch(r"[a-z]{3}", cand) and (found := airport_by_code(cand)):
            return found
        codes = _by_city().get(cand)
        if codes:
            return airport_by_code(min(codes, key=_importance))
    # Last resort: an airport whose name contains the words ("heathrow", "o'hare").
    if len(norm) >= 4:
        pattern = re.compile(r"\b" + re.escape(norm) + r"\b")
        codes = [c for c, row in _db().items() if pattern.search(_normalize(row["name"]))]
        if codes:
            return airport_by_code(min(codes, key=_importance))
    return None


def great_circle_km(a: Airport, b: Airport) -> float:
    """Haversine distance between two airports in kilometres."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a.lat, a.lon, b.lat, b.lon))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0088 * math.asin(math.sqrt(h))
