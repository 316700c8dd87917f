"""The flight search activity (``ActivityEnvironment``): a real MCP session with the bundled
server, typed failures, the circuit breaker, and the tool log line of every call."""

from __future__ import annotations

import sys
from collections.abc import Iterator, MutableMapping
from datetime import date, timedelta
from typing import Any

import pytest
from structlog.contextvars import clear_contextvars, merge_contextvars
from structlog.testing import capture_logs
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.flights import FlightActivities
from mcos.kernel.contracts import FlightSearchInput
from mcos.kernel.settings import Settings


def params(days: int = 14) -> dict:
    return {
        "type": "one_way",
        "origin": "SFO",
        "destination": "BOS",
        "departure_date": (date.today() + timedelta(days=days)).isoformat(),
        "cabin_class": "economy",
        "adults": 1,
    }


def search_input(tool_id: str, **prefs: object) -> FlightSearchInput:
    return FlightSearchInput(
        user_id="u-1", tool_invocation_id=tool_id, params=params(), preferences=dict(prefs)
    )


def tool_logs(logs: list[MutableMapping[str, Any]]) -> list[MutableMapping[str, Any]]:
    return [e for e in logs if e.get("event") == "tool call"]


@pytest.fixture(autouse=True)
def _clean_contextvars() -> Iterator[None]:
    clear_contextvars()
    yield
    clear_contextvars()


async def test_success_is_ranked_and_logged_with_invocation_id_status_latency_count() -> None:
    acts = FlightActivities(Settings(_env_file=None, tool_timeout_s=20))
    with capture_logs(processors=[merge_contextvars]) as logs:
        out = await ActivityEnvironment().run(
            acts.search_flights, search_input("tool_ok", prefer_nonstop=True)
        )
    assert out.ranked_by == "scorer" and len(out.options) >= 3
    assert [r["rank"] for r in out.ranking] == list(range(1, len(out.ranking) + 1))
    [entry] = tool_logs(logs)
    assert entry["tool_invocation_id"] == "tool_ok" and entry["tool_name"] == "search_flights"
    assert entry["tool_status"] == "success"
    assert entry["tool_result_count"] >= len(out.options)
    assert entry["tool_latency_ms"] > 0


async def test_failures_are_retryable_then_the_circuit_opens() -> None:
    dead = f"{sys.executable} -c 'import sys; sys.exit(3)'"
    acts = FlightActivities(Settings(_env_file=None, flights_mcp_command=dead, tool_timeout_s=10))
    env = ActivityEnvironment()
    with capture_logs(processors=[merge_contextvars]) as logs:
        for n in range(acts.breaker.failure_threshold):
            with pytest.raises(ApplicationError) as info:
                await env.run(acts.search_flights, search_input(f"tool_{n}"))
            assert info.value.type == "FlightToolError" and not info.value.non_retryable
        assert acts.breaker.is_open
        with pytest.raises(ApplicationError) as info:
            await env.run(acts.search_flights, search_input("tool_open"))
    assert info.value.type == "FlightToolCircuitOpen" and info.value.non_retryable
    entries = tool_logs(logs)
    assert [e["tool_status"] for e in entries] == ["error"] * 6
    assert entries[-1]["tool_invocation_id"] == "tool_open"
    assert entries[-1]["reason"] == "circuit_open" and entries[-1]["tool_result_count"] == 0


async def test_bad_input_from_the_server_is_non_retryable() -> None:
    acts = FlightActivities(Settings(_env_file=None, tool_timeout_s=20))
    inp = search_input("tool_bad")
    inp.params["departure_date"] = "2001-01-01"
    with pytest.raises(ApplicationError) as info:
        await ActivityEnvironment().run(acts.search_flights, inp)
    assert info.value.type == "FlightInputError" and info.value.non_retryable
    assert not acts.breaker.failures  # the user's mistake is not the tool's failure
