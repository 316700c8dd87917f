"""Deterministic, plausible Duffel-shaped offers for a search, without any network.

Everything derives from a seed hashed from the query, so the same query gives the same
offers (ids included); only ``created_at``/``expires_at`` depend on the ``now`` passed in.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from mcos.flights.airports import Airport, airport_by_code, great_circle_km
from mcos.flights.models import FlightSearchRequest


@dataclass(frozen=True)
class Carrier:
    code: str
    name: str
    country: str
    hubs: tuple[str, ...]
    checked_bags_economy: int
    max_leg_km: float = 16_000


CARRIERS: tuple[Carrier, ...] = (
    Carrier("AA", "American Airlines", "US", ("DFW", "CLT", "ORD", "PHL", "MIA"), 0),
    Carrier("UA", "United Airlines", "US", ("ORD", "DEN", "IAH", "EWR", "SFO"), 0),
    Carrier("DL", "Delta Air Lines", "US", ("ATL", "DTW", "MSP", "SLC", "JFK"), 0),
    Carrier("B6", "JetBlue Airways", "US", ("JFK", "BOS", "FLL"), 0, 6_000),
    Carrier("AS", "Alaska Airlines", "US", ("SEA", "PDX", "SFO"), 0, 5_000),
    Carrier("AC", "Air Canada", "CA", ("YYZ", "YVR", "YUL"), 0),
    Carrier("BA", "British Airways", "GB", ("LHR",), 1),
    Carrier("AF", "Air France", "FR", ("CDG",), 1),
    Carrier("KL", "KLM", "NL", ("AMS",), 1),
    Carrier("LH", "Lufthansa", "DE", ("FRA", "MUC"), 1),
    Carrier("IB", "Iberia", "ES", ("MAD",), 1),
    Carrier("TK", "Turkish Airlines", "TR", ("IST",), 1),
    Carrier("EK", "Emirates", "AE", ("DXB",), 1),
    Carrier("QR", "Qatar Airways", "QA", ("DOH",), 1),
    Carrier("SQ", "Singapore Airlines", "SG", ("SIN",), 1),
    Carrier("NH", "All Nippon Airways", "JP", ("HND", "NRT"), 1),
    Carrier("QF", "Qantas", "AU", ("SYD", "MEL"), 1),
)
CARRIERS_BY_CODE = {c.code: c for c in CARRIERS}
# Partners that fly anywhere when no local carrier serves a route.
GLOBAL_CARRIERS = ("LH", "TK", "EK", "QR", "BA")
# Same alliance-ish neighbours so a US-Europe route also gets the European flag carrier.
REGION = {
    "US": "NA",
    "CA": "NA",
    "MX": "NA",
    "GB": "EU",
    "FR": "EU",
    "NL": "EU",
    "DE": "EU",
    "ES": "EU",
    "IT": "EU",
    "IE": "EU",
    "PT": "EU",
    "CH": "EU",
    "BE": "EU",
    "AT": "EU",
    "DK": "EU",
    "SE": "EU",
    "NO": "EU",
    "FI": "EU",
    "TR": "EU",
    "AE": "ME",
    "QA": "ME",
    "SG": "AS",
    "JP": "AS",
    "KR": "AS",
    "CN": "AS",
    "HK": "AS",
    "TH": "AS",
    "IN": "AS",
    "AU": "OC",
    "NZ": "OC",
}

CABIN_PRICE_FACTOR = {"economy": 1.0, "premium_economy": 1.7, "business": 3.4, "first": 5.5}
CABIN_EMISSIONS_FACTOR = {"economy": 1.0, "premium_economy": 1.5, "business": 2.9, "first": 4.0}
CABIN_MARKETING_NAME = {
    "economy": "Economy",
    "premium_economy": "Premium Economy",
    "business": "Business",
    "first": "First",
}
CRUISE_KMH = 820.0
TAXI_MINUTES = 35
OFFER_TTL = timedelta(minutes=30)
MAX_NONSTOP_KM = 15_500
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def query_seed(request: FlightSearchRequest) -> int:
    canonical = json.dumps(request.to_params(), sort_keys=True)
    return int.from_bytes(hashlib.sha256(canonical.encode()).digest()[:8], "big")


def _duffel_id(prefix: str, rng: random.Random) -> str:
    return prefix + "_0000" + "".join(rng.choice(_ALPHABET) for _ in range(18))


def _block_minutes(km: float) -> int:
    minutes = TAXI_MINUTES + km / CRUISE_KMH * 60
    return int(round(minutes / 5) * 5)


def iso_duration(minutes: int) -> str:
    return f"PT{minutes // 60}H{minutes % 60:02d}M" if minutes % 60 else f"PT{minutes // 60}H"


def _airport_json(a: Airport) -> dict[str, Any]:
    return {
        "type": "airport",
        "iata_code": a.iata,
        "name": a.name,
        "city_name": a.city,
        "iata_country_code": a.country,
        "latitude": a.lat,
        "longitude": a.lon,
        "time_zone": a.tz,
    }


def _local_arrival(dep_local: datetime, origin: Airport, dest: Airport, minutes: int) -> datetime:
    from zoneinfo import ZoneInfo

    aware = dep_local.replace(tzinfo=ZoneInfo(origin.tz))
    return (aware + timedelta(minutes=minutes)).astimezone(ZoneInfo(dest.tz)).replace(tzinfo=None)


def _carriers_for(origin: Airport, dest: Airport) -> tuple[list[Carrier], list[Carrier]]:
    """(carriers that may fly the route non-stop, carriers that may sell it via their hub)."""
    if origin.country == dest.country:
        local = [c for c in CARRIERS if c.country == origin.country]
        if local:
            return local, local
    countries = {origin.country, dest.country}
    regions = {REGION.get(origin.country), REGION.get(dest.country)} - {None}
    nonstop = [c for c in CARRIERS if c.country in countries]
    via = nonstop + [c for c in CARRIERS if REGION.get(c.country) in regions and c not in nonstop]
    for code in GLOBAL_CARRIERS:
        if len(via) >= 4:
            break
        if CARRIERS_BY_CODE[code] not in via:
            via.append(CARRIERS_BY_CODE[code])
    return nonstop, via


def _hub_for(carrier: Carrier, origin: Airport, dest: Airport, km: float) -> Airport | None:
    best: tuple[float, Airport] | None = None
    for code in carrier.hubs:
        hub = airport_by_code(code)
        if hub is None or hub.iata in (origin.iata, dest.iata):
            continue
        via = great_circle_km(origin, hub) + great_circle_km(hub, dest)
        legs = (great_circle_km(origin, hub), great_circle_km(hub, dest))
        if max(legs) > carrier.max_leg_km or min(legs) < 200:
            continue
        if via <= km * 1.35 + 300 and (best is None or via < best[0]):
            best = (via, hub)
    return best[1] if best else None


@dataclass
class _Leg:
    carrier: Carrier
    origin: Airport
    dest: Airport
    departing: datetime
    arriving: datetime
    minutes: int
    km: float
    flight_number: str


def _slice_legs(
    rng: random.Random,
    carrier: Carrier,
    origin: Airport,
    dest: Airport,
    day: date,
    dep_minute: int,
    hub: Airport | None,
) -> list[_Leg]:
    stops = [origin, hub, dest] if hub else [origin, dest]
    legs: list[_Leg] = []
    departing = datetime.combine(day, time()) + timedelta(minutes=dep_minute)
    for a, b in zip(stops, stops[1:], strict=False):
        km = great_circle_km(a, b)
        minutes = _block_minutes(km)
        arriving = _local_arrival(departing, a, b, minutes)
        number = str(rng.randint(100, 2999) if km < 3000 else rng.randint(1, 999))
        legs.append(_Leg(carrier, a, b, departing, arriving, minutes, km, number))
        layover = rng.choice((55, 70, 85, 100, 125, 150))
        departing = arriving + timedelta(minutes=layover)
    return legs


def _slice_json(
    rng: random.Random, legs: list[_Leg], cabin: str, passenger_ids: list[str], fare_brand: str
) -> dict[str, Any]:
    first, last = legs[0], legs[-1]
    from zoneinfo import ZoneInfo

    start = first.departing.replace(tzinfo=ZoneInfo(first.origin.tz))
    end = last.arriving.replace(tzinfo=ZoneInfo(last.dest.tz))
    total_minutes = int((end - start).total_seconds() // 60)
    checked = (
        2
        if cabin in ("business", "first")
        else (1 if cabin == "premium_economy" else first.carrier.checked_bags_economy)
    )
    segments = []
    for leg in legs:
        segments.append(
            {
                "id": _duffel_id("seg", rng),
                "origin": _airport_json(leg.origin),
                "destination": _airport_json(leg.dest),
                "departing_at": leg.departing.isoformat(timespec="seconds"),
                "arriving_at": leg.arriving.isoformat(timespec="seconds"),
                "duration": iso_duration(leg.minutes),
                "distance": f"{leg.km:.1f}",
                "marketing_carrier": {"iata_code": leg.carrier.code, "name": leg.carrier.name},
                "marketing_carrier_flight_number": leg.flight_number,
                "operating_carrier": {"iata_code": leg.carrier.code, "name": leg.carrier.name},
                "operating_carrier_flight_number": leg.flight_number,
                "aircraft": {"name": "Boeing 787-9" if leg.km > 4000 else "Airbus A320"},
                "passengers": [
                    {
                        "passenger_id": pid,
                        "cabin_class": cabin,
                        "cabin_class_marketing_name": CABIN_MARKETING_NAME[cabin],
                        "baggages": [
                            {"type": "carry_on", "quantity": 1},
                            {"type": "checked", "quantity": checked},
                        ],
                    }
                    for pid in passenger_ids
                ],
            }
        )
    return {
        "id": _duffel_id("sli", rng),
        "origin": _airport_json(first.origin),
        "destination": _airport_json(last.dest),
        "duration": iso_duration(total_minutes),
        "fare_brand_name": fare_brand,
        "segments": segments,
    }


def _pick_minute(rng: random.Random, request: FlightSearchRequest, slot: int, slots: int) -> int:
    window = request.departure_time
    lo, hi = 6 * 60, 21 * 60 + 30
    if window is not None:
        fh, fm = map(int, window.from_.split(":"))
        th, tm = map(int, window.to.split(":"))
        lo, hi = fh * 60 + fm, th * 60 + tm
    if hi <= lo:
        return lo - lo % 5
    span = (hi - lo) / slots
    minute = int(lo + span * slot + rng.random() * span)
    minute = min(minute - minute % 5, hi - hi % 5)
    return max(minute, lo + (-lo) % 5) if lo % 5 else max(minute, lo)


def generate_offers(request: FlightSearchRequest, *, now: datetime) -> list[dict[str, Any]]:
    """5-8 Duffel-shaped offers for ``request`` (fewer only when windows filter them out)."""
    origin = airport_by_code(request.origin)
    dest = airport_by_code(request.destination)
    assert origin is not None and dest is not None
    rng = random.Random(query_seed(request))
    km = great_circle_km(origin, dest)
    nonstop_carriers, via_carriers = _carriers_for(origin, dest)
    nonstop_carriers = [c for c in nonstop_carriers if km <= c.max_leg_km]
    nonstop_ok = 150 <= km <= MAX_NONSTOP_KM and bool(nonstop_carriers)
    # Nobody connects on a short hop that has a non-stop.
    allow_connections = (request.max_connections is None or request.max_connections > 0) and (
        km > 700 or not nonstop_ok
    )

    plans: list[tuple[Carrier, Airport | None]] = []
    if nonstop_ok:
        count = min(len(nonstop_carriers), rng.randint(3, 4))
        for carrier in rng.sample(nonstop_carriers, k=count):
            plans.append((carrier, None))
    if allow_connections:
        for carrier in rng.sample(via_carriers, k=len(via_carriers)):
            hub = _hub_for(carrier, origin, dest, km)
            if hub is not None:
                plans.append((carrier, hub))
    target = rng.randint(5, 8)
    base_plans = list(plans)
    while len(plans) < target and base_plans:  # more daily frequencies on the same routings
        plans.append(base_plans[len(plans) % len(base_plans)])
    plans = plans[:target]

    passenger_ids = [_duffel_id("pas", rng) for _ in range(request.adults)]
    cabin = request.cabin_class
    created = now.replace(microsecond=0)
    offers: list[dict[str, Any]] = []
    for index, (carrier, hub) in enumerate(plans):
        dep_minute = _pick_minute(rng, request, index, len(plans))
        outbound = _slice_legs(rng, carrier, origin, dest, request.departure_date, dep_minute, hub)
        slices_legs = [outbound]
        if request.return_date is not None:
            back_hub = hub if hub is not None else None
            back_minute = _pick_minute(rng, request, (index + 2) % len(plans), len(plans))
            slices_legs.append(
                _slice_legs(rng, carrier, dest, origin, request.return_date, back_minute, back_hub)
            )
        if request.arrival_time is not None and not all(
            request.arrival_time.contains(legs[-1].arriving.strftime("%H:%M"))
            for legs in slices_legs
        ):
            continue
        flown_km = sum(leg.km for legs in slices_legs for leg in legs)
        direct_km = km * len(slices_legs)
        fare = (45 + 0.105 * direct_km) * CABIN_PRICE_FACTOR[cabin]
        fare *= 1.12 if hub is None else 0.9
        fare *= 0.85 + rng.random() * 0.4
        base = round(fare * request.adults, 2)
        tax = round(base * 0.11 + 22.4 * request.adults * len(slices_legs), 2)
        emissions = flown_km * 0.088 * CABIN_EMISSIONS_FACTOR[cabin] * request.adults
        fare_brand = {
            "economy": "Main Cabin",
            "premium_economy": "Premium",
            "business": "Business Flex",
            "first": "First",
        }[cabin]
        offers.append(
            {
                "id": _duffel_id("off", rng),
                "live_mode": False,
                "created_at": created.isoformat().replace("+00:00", "Z"),
                "expires_at": (created + OFFER_TTL).isoformat().replace("+00:00", "Z"),
                "total_amount": f"{base + tax:.2f}",
                "total_currency": "USD",
                "base_amount": f"{base:.2f}",
                "base_currency": "USD",
                "tax_amount": f"{tax:.2f}",
                "tax_currency": "USD",
                "total_emissions_kg": str(int(round(emissions))),
                "owner": {"iata_code": carrier.code, "name": carrier.name},
                "passengers": [{"id": pid, "type": "adult"} for pid in passenger_ids],
                "slices": [
                    _slice_json(rng, legs, cabin, passenger_ids, fare_brand) for legs in slices_legs
                ],
            }
        )
    offers.sort(key=lambda o: float(o["total_amount"]))
    return offers
