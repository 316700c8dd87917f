"""Offer dicts from any flights server → ``FlightOption``.

Two shapes are understood: full Duffel offers (``slices[].segments[]``) and the summary the
community flights-mcp server prints (``offer_id``, ``price{amount,currency}``,
``slices[]{origin, destination, departure, arrival, duration, carrier, connections}``).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from mcos.flights.airports import airport_by_code
from mcos.flights.models import FlightOption

_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:[\d.]+S)?)?$")


def parse_iso_duration(value: str | None) -> int | None:
    """``PT5H55M`` / ``P1DT2H`` → minutes."""
    if not value:
        return None
    match = _DURATION.match(value.strip())
    if not match:
        return None
    days, hours, minutes = (int(g) if g else 0 for g in match.groups())
    return days * 1440 + hours * 60 + minutes


def _money(value: Any) -> float | None:
    if value in (None, ""):
        return None
    try:
        return round(float(value), 2)
    except (TypeError, ValueError):
        return None


def _local(value: str) -> datetime:
    """Duffel sends local times without offset; drop an offset if a server adds one."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.replace(tzinfo=None)


def _code(place: Any) -> str:
    if isinstance(place, dict):
        return str(place.get("iata_code") or "")
    return str(place or "")


def _name(place: Any) -> str:
    if isinstance(place, dict) and place.get("name"):
        return str(place["name"])
    airport = airport_by_code(_code(place)) if _code(place) else None
    return airport.name if airport else _code(place)


def _minutes_between(dep: str, arr: str, origin: str, dest: str) -> int | None:
    from zoneinfo import ZoneInfo

    a, b = airport_by_code(origin), airport_by_code(dest)
    if a is None or b is None:
        return None
    start = _local(dep).replace(tzinfo=ZoneInfo(a.tz))
    end = _local(arr).replace(tzinfo=ZoneInfo(b.tz))
    return int((end - start).total_seconds() // 60)


def _baggage(segment: dict[str, Any]) -> str | int | None:
    passengers = segment.get("passengers") or []
    if not passengers:
        return None
    bags = passengers[0].get("baggages") or []
    checked = sum(int(b.get("quantity", 0)) for b in bags if b.get("type") == "checked")
    carry = sum(int(b.get("quantity", 0)) for b in bags if b.get("type") == "carry_on")
    if not bags:
        return None
    parts = [f"{checked} checked bag" + ("s" if checked != 1 else "")]
    if carry:
        parts.append(f"{carry} carry-on")
    return ", ".join(parts)


def _from_duffel(offer: dict[str, Any]) -> FlightOption:
    slices = offer["slices"]
    outbound = slices[0]
    segments = outbound["segments"]
    first, last = segments[0], segments[-1]
    carrier = first.get("marketing_carrier") or offer.get("owner") or {}
    departing, arriving = _local(first["departing_at"]), _local(last["arriving_at"])
    origin = outbound.get("origin") or first["origin"]
    dest = outbound.get("destination") or last["destination"]
    duration = parse_iso_duration(outbound.get("duration"))
    if duration is None:
        duration = (
            _minutes_between(first["departing_at"], last["arriving_at"], _code(origin), _code(dest))
            or 0
        )
    cabin = None
    if first.get("passengers"):
        cabin = first["passengers"][0].get("cabin_class")
    emissions = _money(offer.get("total_emissions_kg"))
    back = slices[1] if len(slices) > 1 else None
    return FlightOption(
        id=str(offer["id"]),
        airline_code=_code(carrier),
        airline_name=str(carrier.get("name") or _code(carrier)),
        flight_number=f"{_code(carrier)}{first.get('marketing_carrier_flight_number', '')}",
        origin_code=_code(origin),
        origin_name=_name(origin),
        destination_code=_code(dest),
        destination_name=_name(dest),
        **_times(departing, arriving),
        duration_minutes=duration,
        stops=len(segments) - 1,
        baggage=_baggage(first),
        price=_money(offer.get("base_amount")),
        tax=_money(offer.get("tax_amount")),
        total=_money(offer.get("total_amount")) or 0.0,
        currency=str(offer.get("total_currency") or ""),
        emissions_kg=emissions,
        cabin_class=cabin,
        expires_at=offer.get("expires_at"),
        connections=[_code(s["destination"]) for s in segments[:-1]],
        return_departure_at=back["segments"][0]["departing_at"] if back else None,
        return_arrival_at=back["segments"][-1]["arriving_at"] if back else None,
    )


def _times(departing: datetime, arriving: datetime) -> dict[str, Any]:
    """The departure/arrival fields of a ``FlightOption``, in the airports' local time."""
    return {
        "departure_date": departing.date(),
        "departure_time": departing.strftime("%H:%M"),
        "departure_at": departing.isoformat(timespec="minutes"),
        "arrival_date": arriving.date(),
        "arrival_time": arriving.strftime("%H:%M"),
        "arrival_at": arriving.isoformat(timespec="minutes"),
    }


def _carrier_code(name: str) -> str:
    from mcos.flights.offline import CARRIERS

    for carrier in CARRIERS:
        if carrier.name.casefold() == name.casefold():
            return carrier.code
    return ""


def _from_summary(offer: dict[str, Any]) -> FlightOption:
    outbound = offer["slices"][0]
    price = offer.get("price") or {}
    departing, arriving = _local(outbound["departure"]), _local(outbound["arrival"])
    origin, dest = _code(outbound.get("origin")), _code(outbound.get("destination"))
    duration = parse_iso_duration(outbound.get("duration"))
    if duration is None:
        duration = _minutes_between(outbound["departure"], outbound["arrival"], origin, dest) or 0
    carrier_name = str(outbound.get("carrier") or "")
    connections = outbound.get("connections") or []
    back = offer["slices"][1] if len(offer["slices"]) > 1 else None
    return FlightOption(
        id=str(offer.get("offer_id") or offer.get("id")),
        airline_code=_carrier_code(carrier_name),
        airline_name=carrier_name,
        flight_number="",
        origin_code=origin,
        origin_name=_name(origin),
        destination_code=dest,
        destination_name=_name(dest),
        **_times(departing, arriving),
        duration_minutes=duration,
        stops=len(connections),
        total=_money(price.get("amount")) or 0.0,
        currency=str(price.get("currency") or ""),
        connections=[_code(c.get("airport")) for c in connections if isinstance(c, dict)],
        return_departure_at=back.get("departure") if back else None,
        return_arrival_at=back.get("arrival") if back else None,
    )


def normalize_offer(offer: dict[str, Any]) -> FlightOption:
    """One offer (Duffel or community summary) → ``FlightOption``; ``ValueError`` if neither."""
    try:
        slices = offer["slices"]
        if slices and "segments" in slices[0]:
            return _from_duffel(offer)
        return _from_summary(offer)
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise ValueError(f"unrecognised flight offer: {exc!r}") from exc


def normalize_offers(offers: list[dict[str, Any]]) -> list[FlightOption]:
    """All offers that can be read; unreadable ones are skipped (logged by the caller)."""
    options: list[FlightOption] = []
    for offer in offers:
        try:
            options.append(normalize_offer(offer))
        except ValueError:
            continue
    return options
