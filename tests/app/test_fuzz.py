"""Schemathesis against the app's own OpenAPI schema: no input makes the server fail (5xx),
and every answer is the one documented (its status listed, its body valid against the
schema: the response models the UI's wire types are generated from).

Bounded: a few examples per operation and mode, a fixed seed (derandomized), and a time
budget for the whole run. The HTTP calls run in a thread; the server runs on the test loop.
"""

from __future__ import annotations

import asyncio
import time

import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.checks import response_schema_conformance, status_code_conformance
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok

from tests.app.conftest import Api

MAX_EXAMPLES = 12
TIME_BUDGET_S = 50.0


def _fuzz(base_url: str, token: str) -> tuple[list[int], list[str], list[str]]:
    """``(statuses, server errors, answers unlike the schema)``."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    headers = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + TIME_BUDGET_S
    failures: list[str] = []
    mismatches: list[str] = []
    statuses: list[int] = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # the schema itself is valid
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            if time.monotonic() > deadline:
                return statuses, failures, mismatches

            @hsettings(
                max_examples=MAX_EXAMPLES,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case: Case) -> None:
                if time.monotonic() > deadline:
                    return
                response = case.call(base_url=base_url, headers=headers, timeout=30)
                statuses.append(response.status_code)
                if response.status_code >= 500:
                    failures.append(
                        f"{case.method} {case.formatted_path} -> {response.status_code}: "
                        f"{response.text[:300]} (case: {case.as_curl_command()[:500]})"
                    )
                try:
                    case.validate_response(
                        response, checks=[status_code_conformance, response_schema_conformance]
                    )
                except FailureGroup as exc:
                    mismatches.append(
                        f"{case.method} {case.formatted_path} -> {response.status_code}: "
                        f"{str(exc)[:600]}"
                    )

            try:
                run()
            except Unsatisfiable:
                pass  # nothing to break in this mode (e.g. no parameters to negate)
    return statuses, failures, mismatches


async def test_fuzzing_the_openapi_schema_finds_no_server_errors(api: Api, user: str) -> None:
    started = time.monotonic()
    statuses, failures, mismatches = await asyncio.to_thread(_fuzz, api.base_url, api.token(user))
    assert len(statuses) >= 100
    # Authenticated and valid enough to be served, and bad enough to be refused.
    assert any(200 <= s < 300 for s in statuses) and any(400 <= s < 500 for s in statuses)
    assert not failures, "\n".join(failures[:20])
    assert not mismatches, "\n".join(mismatches[:20])
    assert time.monotonic() - started < 60
