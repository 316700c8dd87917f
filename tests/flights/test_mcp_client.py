"""Real MCP sessions: the bundled server over stdio and HTTP, a community stand-in, and
servers that crash or hang."""

from __future__ import annotations

import sys
import time

import pytest

from mcos.flights.client import search_flights_mcp
from mcos.flights.errors import FlightInputError, FlightToolError, FlightToolTimeout
from mcos.flights.normalize import normalize_offers

from .conftest import HERE, future

PARAMS = {
    "type": "one_way",
    "origin": "SFO",
    "destination": "BOS",
    "departure_date": future(30),
    "cabin_class": "economy",
    "adults": 1,
}


async def test_bundled_server_over_stdio() -> None:
    offers = await search_flights_mcp(PARAMS, timeout_s=20)
    assert 5 <= len(offers) <= 8
    assert all(o["id"].startswith("off_") for o in offers)
    options = normalize_offers(offers)
    assert {o.origin_code for o in options} == {"SFO"}
    assert all(o.departure_date.isoformat() == PARAMS["departure_date"] for o in options)
    again = await search_flights_mcp(PARAMS, timeout_s=20)
    assert [o["id"] for o in again] == [o["id"] for o in offers]  # deterministic per query


async def test_bundled_server_time_window_over_stdio() -> None:
    params = {**PARAMS, "max_connections": 0, "departure_time": {"from": "17:00", "to": "20:00"}}
    options = normalize_offers(await search_flights_mcp(params, timeout_s=20))
    assert options
    assert all(o.stops == 0 and "17:00" <= o.departure_time <= "20:00" for o in options)


async def test_bundled_server_rejects_bad_input() -> None:
    with pytest.raises(FlightInputError, match="airport called 'Atlantis'"):
        await search_flights_mcp({**PARAMS, "destination": "Atlantis"}, timeout_s=20)
    with pytest.raises(FlightInputError, match="in the past"):
        await search_flights_mcp({**PARAMS, "departure_date": "2001-01-01"}, timeout_s=20)
    with pytest.raises(FlightInputError, match="YYYY-MM-DD"):
        await search_flights_mcp({**PARAMS, "departure_date": "next friday"}, timeout_s=20)


async def test_bundled_server_over_streamable_http(bundled_http_url: str) -> None:
    offers = await search_flights_mcp(PARAMS, url=bundled_http_url, timeout_s=20)
    stdio = await search_flights_mcp(PARAMS, timeout_s=20)
    assert [o["id"] for o in offers] == [o["id"] for o in stdio]
    with pytest.raises(FlightInputError, match="before the departure date"):
        await search_flights_mcp(
            {**PARAMS, "type": "round_trip", "return_date": future(1)},
            url=bundled_http_url,
            timeout_s=20,
        )


async def test_community_server_json_text() -> None:
    command = [sys.executable, str(HERE / "community_server.py")]
    params = {**PARAMS, "departure_time": {"from": "08:15", "to": "12:00"}}
    offers = await search_flights_mcp(params, command=command, timeout_s=20)
    options = normalize_offers(offers)
    assert [o.id for o in options] == ["off_community0", "off_community1", "off_community2"]
    assert [o.total for o in options] == [200.5, 250.5, 300.5]
    assert options[0].currency == "EUR" and options[0].airline_code == "DL"
    assert [o.stops for o in options] == [0, 1, 1]
    # the window reached the community server under its from_time name
    assert options[0].departure_time == "08:15"


async def test_community_server_bare_list_and_error() -> None:
    command = [sys.executable, str(HERE / "community_server.py"), "--list"]
    offers = await search_flights_mcp(PARAMS, command=command, timeout_s=20)
    assert len(offers) == 3 and offers[0]["offer_id"] == "off_community0"
    with pytest.raises(FlightToolError) as info:
        await search_flights_mcp({**PARAMS, "origin": "XXX"}, command=command, timeout_s=20)
    assert info.value.retryable is True
    assert not isinstance(info.value, FlightToolTimeout)


async def test_server_crashing_mid_call() -> None:
    started = time.monotonic()
    with pytest.raises(FlightToolError) as info:
        await search_flights_mcp(
            PARAMS,
            command=[sys.executable, str(HERE / "broken_server.py"), "crash"],
            # seen when the child exits: the budget only bounds a loaded machine's start-up
            timeout_s=60,
        )
    assert not isinstance(info.value, FlightToolTimeout)
    assert info.value.retryable is True
    assert time.monotonic() - started < 60


async def test_server_hanging_times_out() -> None:
    started = time.monotonic()
    with pytest.raises(FlightToolTimeout) as info:
        await search_flights_mcp(
            PARAMS,
            command=[sys.executable, str(HERE / "broken_server.py"), "hang"],
            timeout_s=5,
        )
    elapsed = time.monotonic() - started
    assert info.value.retryable is True
    assert "5 s" in info.value.message
    assert 2 < elapsed < 6


async def test_missing_executable_and_unreachable_url() -> None:
    with pytest.raises(FlightToolError, match="No such file"):
        await search_flights_mcp(PARAMS, command=["/nonexistent/flights-mcp"], timeout_s=5)
    started = time.monotonic()
    with pytest.raises(FlightToolError):
        await search_flights_mcp(PARAMS, url="http://127.0.0.1:9/mcp", timeout_s=5)
    assert time.monotonic() - started < 6
