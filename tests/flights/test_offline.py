from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from mcos.flights.models import validate_request
from mcos.flights.normalize import normalize_offers, parse_iso_duration
from mcos.flights.offline import generate_offers

TODAY = date(2030, 1, 10)
NOW = datetime(2030, 1, 10, 12, 0, tzinfo=UTC)


def _offers(*args: str, **kwargs: Any) -> list[dict]:
    return generate_offers(validate_request(*args, today=TODAY, **kwargs), now=NOW)


def test_deterministic_for_same_query_and_different_for_another() -> None:
    first = _offers("SFO", "BOS", "2030-02-01")
    again = generate_offers(
        validate_request("SFO", "BOS", "2030-02-01", today=TODAY), now=NOW + timedelta(hours=3)
    )

    def strip(offers: list[dict]) -> list[dict]:
        return [
            {k: v for k, v in o.items() if k not in ("created_at", "expires_at")} for o in offers
        ]

    assert strip(first) == strip(again)
    other = _offers("SFO", "BOS", "2030-02-02")
    assert [o["id"] for o in other] != [o["id"] for o in first]


def test_duffel_shape_and_plausibility() -> None:
    offers = _offers("SFO", "BOS", "2030-02-01")
    assert 5 <= len(offers) <= 8
    stops = {len(o["slices"][0]["segments"]) - 1 for o in offers}
    assert stops == {0, 1}
    for offer in offers:
        assert re.fullmatch(r"off_[0-9A-Za-z]{22}", offer["id"])
        assert re.fullmatch(r"\d+\.\d{2}", offer["total_amount"])
        assert float(offer["total_amount"]) == round(
            float(offer["base_amount"]) + float(offer["tax_amount"]), 2
        )
        assert offer["total_currency"] == "USD"
        assert offer["expires_at"] == "2030-01-10T12:30:00Z"
        assert offer["owner"]["iata_code"] in {"AA", "UA", "DL", "B6", "AS"}  # domestic US
        seg = offer["slices"][0]["segments"][0]
        assert seg["origin"]["iata_code"] == "SFO"
        assert seg["origin"]["time_zone"] == "America/Los_Angeles"
        assert seg["origin"]["city_name"] == "San Francisco"
        assert seg["marketing_carrier_flight_number"].isdigit()
        assert seg["passengers"][0]["baggages"][0]["type"] == "carry_on"
        assert offer["slices"][0]["segments"][-1]["destination"]["iata_code"] == "BOS"
        assert int(offer["total_emissions_kg"]) > 100
    nonstop = [o for o in offers if len(o["slices"][0]["segments"]) == 1]
    for offer in nonstop:  # ~4340 km: between 5h30 and 6h30 block time
        minutes = parse_iso_duration(offer["slices"][0]["duration"])
        assert minutes is not None and 330 <= minutes <= 390
        assert 150 < float(offer["total_amount"]) < 1200


def test_prices_scale_with_cabin_and_distance() -> None:
    def cheapest(*args: str, **kw: object) -> float:
        return min(float(o["total_amount"]) for o in _offers(*args, **kw))

    economy = cheapest("SFO", "BOS", "2030-02-01")
    business = cheapest("SFO", "BOS", "2030-02-01", cabin_class="business")
    short = cheapest("SFO", "LAX", "2030-02-01")
    assert business > 2.5 * economy
    assert short < economy / 2


def test_round_trip_has_two_slices_and_local_times() -> None:
    offers = _offers("LHR", "JFK", "2030-02-01", "2030-02-08")
    for offer in offers:
        out, back = offer["slices"]
        assert out["origin"]["iata_code"] == "LHR" and back["origin"]["iata_code"] == "JFK"
        assert back["segments"][0]["departing_at"].startswith("2030-02-08")
    options = normalize_offers(offers)
    direct = [o for o in options if o.stops == 0]
    assert direct
    for option in direct:  # westbound: arrives the same day, ~7-8 h later in clock terms -5h
        dep = datetime.fromisoformat(option.departure_at)
        arr = datetime.fromisoformat(option.arrival_at)
        assert timedelta(hours=1) < arr - dep < timedelta(hours=4)


def test_nonstop_only_and_time_windows() -> None:
    offers = _offers(
        "SFO",
        "BOS",
        "2030-02-01",
        max_connections=0,
        departure_time={"from": "08:00", "to": "11:00"},
    )
    assert len(offers) >= 5
    for offer in offers:
        segs = offer["slices"][0]["segments"]
        assert len(segs) == 1
        assert "08:00" <= segs[0]["departing_at"][11:16] <= "11:00"
    windowed = _offers("SFO", "BOS", "2030-02-01", arrival_time={"from": "00:00", "to": "20:00"})
    assert windowed
    assert all(o["slices"][0]["segments"][-1]["arriving_at"][11:16] <= "20:00" for o in windowed)


def test_short_hop_has_no_silly_connections() -> None:
    offers = _offers("BOS", "LGA", "2030-02-01")
    assert offers and all(len(o["slices"][0]["segments"]) == 1 for o in offers)
