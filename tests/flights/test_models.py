from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from mcos.flights.errors import FlightInputError
from mcos.flights.models import FlightSearchRequest, validate_params, validate_request

TODAY = date(2030, 1, 10)


def test_valid_round_trip_resolves_cities() -> None:
    req = validate_request(
        "Boston",
        "san francisco",
        "2030-02-01",
        "2030-02-05",
        today=TODAY,
        cabin_class="Premium Economy",
        adults=2,
        departure_time={"from": "08:00", "to": "12:00"},
    )
    assert req.origin == "BOS" and req.destination == "SFO"
    assert req.type == "round_trip"
    assert req.cabin_class == "premium_economy"
    assert req.to_params() == {
        "type": "round_trip",
        "origin": "BOS",
        "destination": "SFO",
        "departure_date": "2030-02-01",
        "return_date": "2030-02-05",
        "cabin_class": "premium_economy",
        "adults": 2,
        "departure_time": {"from": "08:00", "to": "12:00"},
    }


def test_one_way_today_is_allowed() -> None:
    req = validate_request("SFO", "JFK", TODAY, today=TODAY)
    assert req.type == "one_way" and req.return_date is None


@pytest.mark.parametrize(
    ("args", "kwargs", "fragment"),
    [
        (("Atlantis", "SFO", "2030-02-01"), {}, "I don't know an airport called 'Atlantis'"),
        (("SFO", "Atlantis", "2030-02-01"), {}, "destination city"),
        (("SFO", "BOS", "2030-01-09"), {}, "is in the past"),
        (("SFO", "BOS", "01/02/2030"), {}, "YYYY-MM-DD"),
        (("SFO", "BOS", "2030-02-01", "2030-01-31"), {}, "before the departure date"),
        (("SFO", "San Francisco", "2030-02-01"), {}, "same airport"),
        (("SFO", "BOS", "2030-02-01"), {"trip_type": "round_trip"}, "needs a return date"),
        (("SFO", "BOS", "2030-02-01"), {"cabin_class": "luxury"}, "cabin 'luxury'"),
        (("SFO", "BOS", "2030-02-01"), {"adults": 0}, "1 to 9"),
        (("SFO", "BOS", "2030-02-01"), {"departure_time": {"from": "25:00"}}, "HH:MM"),
    ],
)
def test_invalid_requests(args: tuple, kwargs: dict, fragment: str) -> None:
    with pytest.raises(FlightInputError) as info:
        validate_request(*args, today=TODAY, **kwargs)
    assert fragment in info.value.message


def test_validate_params_accepts_community_window_names() -> None:
    req = validate_params(
        {
            "origin": "LHR",
            "destination": "JFK",
            "departure_date": "2030-03-01",
            "arrival_time": {"from_time": "14:00", "to_time": "20:00"},
        },
        today=TODAY,
    )
    assert req.arrival_time is not None
    assert (req.arrival_time.from_, req.arrival_time.to) == ("14:00", "20:00")


def test_validate_params_missing_field() -> None:
    with pytest.raises(FlightInputError, match="incomplete"):
        validate_params({"origin": "LHR"}, today=TODAY)


def test_request_model_rejects_unknown_code_and_order() -> None:
    with pytest.raises(ValidationError, match="unknown airport"):
        FlightSearchRequest(origin="QQQ", destination="SFO", departure_date=TODAY)
    with pytest.raises(ValidationError, match="before departure"):
        FlightSearchRequest(
            type="round_trip",
            origin="BOS",
            destination="SFO",
            departure_date=date(2030, 2, 2),
            return_date=date(2030, 2, 1),
        )
