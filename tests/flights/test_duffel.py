"""The Duffel path against a local stand-in of its API."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from mcos.flights.client import search_flights_mcp
from mcos.flights.duffel import search_duffel
from mcos.flights.errors import FlightError, FlightInputError, FlightToolError
from mcos.flights.models import FlightSearchRequest, validate_request
from mcos.flights.normalize import normalize_offers
from mcos.flights.offline import generate_offers

from .conftest import FakeDuffel, future


def _request(**kw: Any) -> FlightSearchRequest:
    return validate_request("LHR", "JFK", "2030-02-01", today=date(2030, 1, 1), **kw)


def _sample_offers() -> list[dict]:
    return generate_offers(_request(), now=datetime(2030, 1, 1, tzinfo=UTC))[:2]


async def test_offer_request_headers_and_body(fake_duffel: FakeDuffel) -> None:
    fake_duffel.offers = _sample_offers()
    req = _request(
        return_date="2030-02-08",
        cabin_class="business",
        adults=2,
        max_connections=0,
        departure_time={"from": "08:00", "to": "12:00"},
    )
    offers = await search_duffel(req, api_key="duffel_test_abc", base_url=fake_duffel.url)
    assert [o["id"] for o in offers] == [o["id"] for o in fake_duffel.offers]
    sent = fake_duffel.requests[0]
    assert sent["path"].startswith("/air/offer_requests?")
    assert "return_offers=true" in sent["path"]
    assert sent["headers"]["Duffel-Version"] == "v2"
    assert sent["headers"]["Authorization"] == "Bearer duffel_test_abc"
    data = sent["body"]["data"]
    assert data["cabin_class"] == "business"
    assert data["passengers"] == [{"type": "adult"}, {"type": "adult"}]
    assert data["max_connections"] == 0
    assert data["slices"] == [
        {
            "origin": "LHR",
            "destination": "JFK",
            "departure_date": "2030-02-01",
            "departure_time": {"from": "08:00", "to": "12:00"},
        },
        {
            "origin": "JFK",
            "destination": "LHR",
            "departure_date": "2030-02-08",
            "departure_time": {"from": "08:00", "to": "12:00"},
        },
    ]


@pytest.mark.parametrize(
    ("status", "error_type", "retryable"),
    [
        (422, FlightInputError, False),
        (401, FlightToolError, False),
        (429, FlightToolError, True),
        (503, FlightToolError, True),
    ],
)
async def test_error_statuses(
    fake_duffel: FakeDuffel, status: int, error_type: type[FlightError], retryable: bool
) -> None:
    fake_duffel.status = status
    fake_duffel.errors = [{"title": "Nope", "message": f"status {status} says no"}]
    with pytest.raises(error_type) as info:
        await search_duffel(_request(), api_key="k", base_url=fake_duffel.url)
    assert f"status {status} says no" in info.value.message
    assert info.value.retryable is retryable


async def test_base_url_from_env(fake_duffel: FakeDuffel, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCOS_DUFFEL_BASE_URL", fake_duffel.url)
    fake_duffel.offers = _sample_offers()
    assert len(await search_duffel(_request(), api_key="k")) == 2
    assert len(fake_duffel.requests) == 1


async def test_unreachable_duffel_is_retryable() -> None:
    with pytest.raises(FlightToolError) as info:
        await search_duffel(_request(), api_key="k", base_url="http://127.0.0.1:9", timeout_s=2)
    assert info.value.retryable is True


async def test_bundled_server_uses_duffel_with_key_from_env(fake_duffel: FakeDuffel) -> None:
    """The secret reaches the stdio server only through the explicit env."""
    fake_duffel.offers = _sample_offers()
    params = {
        "type": "one_way",
        "origin": "LHR",
        "destination": "JFK",
        "departure_date": future(20),
    }
    offers = await search_flights_mcp(
        params,
        timeout_s=20,
        env={"MCOS_DUFFEL_API_KEY": "duffel_test_secret", "MCOS_DUFFEL_BASE_URL": fake_duffel.url},
    )
    assert [o["id"] for o in offers] == [o["id"] for o in fake_duffel.offers]
    assert normalize_offers(offers)[0].origin_code == "LHR"
    sent = fake_duffel.requests[0]
    assert sent["headers"]["Authorization"] == "Bearer duffel_test_secret"
    assert sent["headers"]["Duffel-Version"] == "v2"
    assert sent["body"]["data"]["slices"][0]["departure_date"] == params["departure_date"]

    fake_duffel.status = 422
    fake_duffel.errors = [{"message": "departure_date must be after today"}]
    with pytest.raises(FlightInputError, match="must be after today"):
        await search_flights_mcp(
            params,
            timeout_s=20,
            env={"MCOS_DUFFEL_API_KEY": "k", "MCOS_DUFFEL_BASE_URL": fake_duffel.url},
        )
