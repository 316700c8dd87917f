from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from mcos.flights.models import validate_request
from mcos.flights.normalize import normalize_offer, normalize_offers, parse_iso_duration
from mcos.flights.offline import generate_offers

DUFFEL_OFFER: dict[str, Any] = {
    "id": "off_0000AEdGRhtp5AUUdJqMxo",
    "total_amount": "45.00",
    "total_currency": "GBP",
    "base_amount": "30.20",
    "tax_amount": "14.80",
    "total_emissions_kg": "460",
    "expires_at": "2030-01-17T10:42:14.545Z",
    "owner": {"iata_code": "BA", "name": "British Airways"},
    "slices": [
        {
            "origin": {"iata_code": "LHR", "name": "Heathrow", "time_zone": "Europe/London"},
            "destination": {"iata_code": "JFK", "name": "John F. Kennedy International Airport"},
            "duration": "PT8H15M",
            "segments": [
                {
                    "origin": {"iata_code": "LHR", "name": "Heathrow"},
                    "destination": {
                        "iata_code": "JFK",
                        "name": "John F. Kennedy International Airport",
                    },
                    "departing_at": "2030-02-01T10:30:00",
                    "arriving_at": "2030-02-01T13:45:00",
                    "marketing_carrier": {"iata_code": "BA", "name": "British Airways"},
                    "marketing_carrier_flight_number": "117",
                    "passengers": [
                        {
                            "cabin_class": "business",
                            "baggages": [
                                {"type": "checked", "quantity": 2},
                                {"type": "carry_on", "quantity": 1},
                            ],
                        }
                    ],
                }
            ],
        }
    ],
}


def test_duffel_offer_to_option() -> None:
    option = normalize_offer(DUFFEL_OFFER)
    assert option.id == "off_0000AEdGRhtp5AUUdJqMxo"
    assert (option.airline_code, option.airline_name, option.flight_number) == (
        "BA",
        "British Airways",
        "BA117",
    )
    assert (option.origin_code, option.origin_name) == ("LHR", "Heathrow")
    assert option.destination_code == "JFK"
    assert option.departure_date == date(2030, 2, 1)
    assert (option.departure_time, option.arrival_time) == ("10:30", "13:45")
    assert option.departure_at == "2030-02-01T10:30"
    assert option.duration_minutes == 495
    assert option.stops == 0
    assert option.baggage == "2 checked bags, 1 carry-on"
    assert (option.price, option.tax, option.total, option.currency) == (30.2, 14.8, 45.0, "GBP")
    assert option.emissions_kg == 460
    assert option.cabin_class == "business"
    assert option.expires_at == "2030-01-17T10:42:14.545Z"


def test_duration_computed_from_times_when_missing() -> None:
    offer = {**DUFFEL_OFFER, "slices": [{**DUFFEL_OFFER["slices"][0], "duration": None}]}
    # 10:30 London → 13:45 New York = 8h15 elapsed
    assert normalize_offer(offer).duration_minutes == 495


def test_community_summary_offer() -> None:
    option = normalize_offer(
        {
            "offer_id": "off_x",
            "price": {"amount": "312.40", "currency": "EUR"},
            "slices": [
                {
                    "origin": "CDG",
                    "destination": "JFK",
                    "departure": "2030-02-01T09:00:00",
                    "arrival": "2030-02-01T11:35:00",
                    "duration": "PT8H35M",
                    "carrier": "Air France",
                    "connections": [],
                }
            ],
        }
    )
    assert (option.id, option.total, option.currency) == ("off_x", 312.4, "EUR")
    assert (option.airline_code, option.airline_name) == ("AF", "Air France")
    assert option.origin_name == "Charles de Gaulle International Airport"
    assert option.duration_minutes == 515 and option.stops == 0


def test_offline_offers_roundtrip_through_normalizer() -> None:
    req = validate_request("SFO", "BOS", "2030-02-01", today=date(2030, 1, 1))
    offers = generate_offers(req, now=datetime(2030, 1, 1, tzinfo=UTC))
    options = normalize_offers(offers)
    assert len(options) == len(offers)
    for offer, option in zip(offers, options, strict=True):
        assert option.total == float(offer["total_amount"])
        assert option.stops == len(offer["slices"][0]["segments"]) - 1
        assert option.origin_code == "SFO" and option.destination_code == "BOS"
        assert option.cabin_class == "economy"


def test_unreadable_offer() -> None:
    with pytest.raises(ValueError, match="unrecognised"):
        normalize_offer({"id": "off_1"})
    assert normalize_offers([{"id": "off_1"}, DUFFEL_OFFER])[0].id == DUFFEL_OFFER["id"]


def test_parse_iso_duration() -> None:
    assert parse_iso_duration("PT5H55M") == 355
    assert parse_iso_duration("P1DT2H") == 1560
    assert parse_iso_duration("PT45M") == 45
    assert parse_iso_duration("5h") is None
