"""Non-finite numbers, absurd integers and deep nesting in a request body: 422 with the
error body, and nothing changes — for every route, because the rule is applied once, to
the JSON of every request body (``StrictJsonMiddleware``), not route by route.

The schemathesis run takes valid bodies generated from the app's own OpenAPI schema for
every operation that has one, puts one such value somewhere in each, and checks that all
are refused by that rule and that the user's state is exactly what it was."""

from __future__ import annotations

import asyncio
import json
import random
import time
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.core.result import Ok

from tests.app.conftest import Api
from tests.app.test_limits_validation import assert_error

HUGE = int("9" * 4300)  # the longest integer Python itself still reads
POISONS: list[tuple[str, Any]] = [
    ("NaN", float("nan")),
    ("Infinity", float("inf")),
    ("-Infinity", float("-inf")),
    ("4300 digits", HUGE),
    ("2**53", 2**53),
    ("deep", json.loads("[" * 40 + "]" * 40)),
]
REFUSED_TYPES = {"value_not_allowed", "json_too_deep"}
MAX_EXAMPLES = 10
TIME_BUDGET_S = 40.0


def _dumps(body: Any) -> bytes:
    return json.dumps(body, allow_nan=True).encode()


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (b'{"home_airport": NaN}', "NaN"),
        (b'{"home_airport": Infinity}', "Infinity"),
        (b'{"home_airport": -Infinity}', "-Infinity"),
        (b'{"home_airport": 1e999}', "1e999"),
        (b'{"home_airport": ' + b"9" * 4300 + b"}", "4300 digits"),
        (b'{"seats": ' + b"1" * 20 + b"}", "20 digits"),
    ],
)
async def test_preferences_refuse_non_finite_and_absurd_numbers(
    api: Api, user: str, raw: bytes, shown: str
) -> None:
    async with api.client(user) as http:
        ok = await http.patch("/api/v1/preferences", json={"home_airport": "LHR"})
        assert ok.status_code == 200, ok.text
        before = (await http.get("/api/v1/state")).json()

        r = await http.patch(
            "/api/v1/preferences", content=raw, headers={"content-type": "application/json"}
        )
        body = assert_error(r, 422, "invalid_request")
        (error,) = body["error"]["details"]["errors"]
        assert error["type"] == "value_not_allowed", shown
        assert error["loc"][0] == "body" and error["loc"][1] in ("home_airport", "seats")

        assert (await http.get("/api/v1/state")).json() == before
        prefs = (await http.get("/api/v1/preferences")).json()["preferences"]
        assert prefs["home_airport"] == "LHR" and "seats" not in prefs


async def test_the_rule_holds_without_a_content_type_and_over_websocket(
    api: Api, user: str
) -> None:
    async with api.client(user) as http:
        r = await http.post("/api/v1/tasks", content=b'{"title": "x", "notes": NaN}')
        assert_error(r, 422, "invalid_request")
        assert (await http.get("/api/v1/state")).json()["tasks"] in ([], {})
    ws = await api.ws(user)
    try:
        await ws.send('{"type": "message.send", "text": "hi", "client_action_id": NaN}')
        async with asyncio.timeout(10):
            while (frame := json.loads(await ws.recv()))["type"] != "error":
                pass
        assert frame["data"]["code"] == "bad_json"
    finally:
        await ws.close()


# --- every operation, through its own schema -----------------------------------------


def _poison(body: Any, data: st.DataObject, value: Any) -> Any:
    """``body`` with ``value`` put at a drawn place (replacing a value, or in a list)."""
    if isinstance(body, dict) and body:
        key = data.draw(st.sampled_from(sorted(body)))
        inner = body[key]
        dive = isinstance(inner, dict | list) and inner and data.draw(st.booleans())
        return {**body, key: _poison(inner, data, value) if dive else value}
    if isinstance(body, list) and body:
        index = data.draw(st.integers(0, len(body) - 1))
        return [*body[:index], _poison(body[index], data, value), *body[index + 1 :]]
    if isinstance(body, dict):
        return {"key": value}
    return value


def _poisoned_run(base_url: str, token: str) -> tuple[list[str], list[str]]:
    """``(operation of every request sent, failures)``."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    headers = {"Authorization": f"Bearer {token}", "content-type": "application/json"}
    deadline = time.monotonic() + TIME_BUDGET_S
    sent: list[str] = []
    failures: list[str] = []
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as http:
        for result in schema.get_all_operations():
            assert isinstance(result, Ok), result  # the schema itself is valid
            operation = result.ok()
            if operation.body is not None and len(operation.body):
                _poison_operation(operation, http, deadline, sent, failures)
    return sent, failures


def _poison_operation(
    operation: Any, http: httpx.Client, deadline: float, sent: list[str], failures: list[str]
) -> None:
    name = f"{operation.method.upper()} {operation.path}"

    @hsettings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        poison=st.sampled_from(POISONS),
        data=st.data(),
    )
    def run(case: Case, poison: tuple[str, Any], data: st.DataObject) -> None:
        if time.monotonic() > deadline or case.body is None:
            return
        label, value = poison
        body = _poison(case.body, data, value)
        response = http.request(
            case.method, case.formatted_path, params=case.query or None, content=_dumps(body)
        )
        sent.append(name)
        problem = f"{name} with {label} at {str(body)[:200]} -> {response.status_code}"
        if response.status_code != 422:
            failures.append(f"{problem}: {response.text[:200]}")
            return
        errors = response.json()["error"]["details"].get("errors", [])
        if not errors or not {e["type"] for e in errors} <= REFUSED_TYPES:
            failures.append(f"{problem} but not by the strict rule: {errors}")

    try:
        run()
    except Unsatisfiable:
        pass


async def test_schemathesis_with_poisoned_bodies_finds_no_silent_change(
    api: Api, user: str
) -> None:
    random.seed(0)
    async with api.client(user) as http:
        await http.patch("/api/v1/preferences", json={"home_airport": "LHR", "seats": 2})
        await http.post("/api/v1/tasks", json={"title": "keep me"})
        pinned = await http.post("/api/v1/memory/pin", json={"key": "team", "value": "platform"})
        assert pinned.status_code in (200, 201), pinned.text
        before = (await http.get("/api/v1/state")).json()

    sent, failures = await asyncio.to_thread(_poisoned_run, api.base_url, api.token(user))
    assert not failures, "\n".join(failures[:20])
    operations = set(sent)
    # Every operation with a JSON body was tried, several times.
    assert {"PATCH /api/v1/preferences", "POST /api/v1/tasks", "POST /api/v1/message"} <= operations
    assert len(operations) >= 8 and len(sent) >= 5 * len(operations)

    async with api.client(user) as http:
        assert (await http.get("/api/v1/state")).json() == before
