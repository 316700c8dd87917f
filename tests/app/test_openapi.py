"""The OpenAPI schema documents every answer: each operation's success has a typed model (not
``{}`` or a bare object), each failure the one error body, 401 exactly where a token is
needed. The UI's wire types are generated from this schema (``scripts/openapi-types``;
``scripts/check`` fails when the committed ones are stale), so an answer's model that
changes breaks the UI's ``tsc``; ``test_fuzz`` checks real answers against the schema."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from app.errors import error_body
from app.main import create_app
from app.middleware import _error_body
from app.schemas import ErrorBody, RateLimitedBody
from mcos.kernel.errors import AuthError, NotFoundError, RateLimited
from mcos.kernel.settings import Settings
from tests.app.test_auth_matrix import PUBLIC

REF = "#/components/schemas/"
# /ready answers 503 with its own body (which check failed, and why), not an error body.
OWN_FAILURE_BODIES = {("GET", "/ready", "503"): "Readiness"}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("openapi")
    return create_app(Settings(_env_file=None, data_dir=tmp, web_dist=tmp / "no-ui"))


@pytest.fixture(scope="module")
def schema(app: Any) -> dict[str, Any]:
    return app.openapi()


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, ops in schema["paths"].items()
        for method, op in ops.items()
    ]


def _models(body: dict[str, Any]) -> list[str]:
    """The component models a response body's schema names (a union names several); an
    inline schema (``{}``, ``{"type": "object"}``, a dict) names none."""
    if "$ref" in body:
        return [body["$ref"].removeprefix(REF)]
    union = body.get("anyOf") or body.get("oneOf") or []
    names = [name for part in union for name in _models(part)]
    return names if union and len(names) == len(union) else []


def _typed(schema: dict[str, Any], response: dict[str, Any]) -> list[str]:
    """The models of a JSON response, each an object with declared properties; [] if not."""
    body = response.get("content", {}).get("application/json", {}).get("schema", {})
    names = _models(body)
    components = schema["components"]["schemas"]
    ok = all(
        components[n].get("type") == "object" and components[n].get("properties") for n in names
    )
    return names if ok else []


def test_every_operation_answers_with_a_typed_model(schema: dict[str, Any]) -> None:
    operations = _operations(schema)
    assert len(operations) >= 35
    untyped = []
    for method, path, op in operations:
        codes = [c for c in op["responses"] if c[0] in "23"]
        if not codes:
            untyped.append(f"{method} {path}: no success documented")
        for code in codes:
            response = op["responses"][code]
            if code.startswith("3"):  # a redirect: no body, where to
                if "content" in response or "Location" not in response.get("headers", {}):
                    untyped.append(f"{method} {path} {code}: a redirect needs Location, no body")
            elif not _typed(schema, response):
                untyped.append(f"{method} {path} {code}: {response.get('content')}")
    assert not untyped, "\n".join(untyped)


def test_every_failure_is_documented_with_the_error_body(schema: dict[str, Any]) -> None:
    wrong = []
    for method, path, op in _operations(schema):
        failures = {c: r for c, r in op["responses"].items() if c[0] in "45"}
        assert "500" in failures, f"{method} {path}"
        for code, response in failures.items():
            want = OWN_FAILURE_BODIES.get((method, path, code))
            want = want or ("RateLimitedBody" if code == "429" else "ErrorBody")
            if _typed(schema, response) != [want]:
                wrong.append(f"{method} {path} {code}: {response.get('content')} (want {want})")
    assert not wrong, "\n".join(wrong)
    # FastAPI's default 422 shape: our handler never answers with it.
    assert "HTTPValidationError" not in schema["components"]["schemas"]


def test_401_and_the_bearer_token_are_documented_exactly_where_one_is_needed(
    schema: dict[str, Any],
) -> None:
    operations = _operations(schema)
    needing = [(m, p) for m, p, _ in operations if p not in PUBLIC]  # refused without a token
    assert len(needing) >= 30
    wrong = []
    for method, path, op in operations:
        needs = path not in PUBLIC
        if ("401" in op["responses"]) != needs or bool(op.get("security")) != needs:
            wrong.append(
                f"{method} {path}: needs a token={needs}, documented: {op.get('security')}"
            )
    assert not wrong, "\n".join(wrong)
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_operations_taking_input_document_the_422_body(schema: dict[str, Any]) -> None:
    takes_input = [
        (method, path, op)
        for method, path, op in _operations(schema)
        if op.get("parameters") or op.get("requestBody")
    ]
    assert len(takes_input) >= 20
    missing = [f"{m} {p}" for m, p, op in takes_input if "422" not in op["responses"]]
    assert not missing, missing


def _valid(model: type[BaseModel], body: dict[str, Any]) -> bool:
    try:
        model.model_validate(body)
    except ValidationError:
        return False
    return True


def test_the_error_bodies_sent_are_the_documented_ones() -> None:
    request: Any = SimpleNamespace(state=SimpleNamespace(request_id="req_0"))
    sent = [
        NotFoundError("no task").to_body("req_1"),
        AuthError().to_body(None),
        error_body(request, "invalid_request", "the request is invalid", {"errors": []}),
        json.loads(_error_body("req_2", "payload_too_large", "too large")),
    ]
    assert all(_valid(ErrorBody, body) for body in sent), sent
    limited = RateLimited("messages_per_minute", 20, 21, 1_700_000_000, 30).to_body("req_3")
    assert _valid(RateLimitedBody, limited) and _valid(ErrorBody, limited)
    # The documented models are strict: a body that drifted from them does not pass.
    assert not _valid(ErrorBody, {**sent[0], "status": 404})
    assert not _valid(RateLimitedBody, sent[0])


def test_the_realtime_frame_is_in_the_components_without_its_internal_key(
    schema: dict[str, Any],
) -> None:
    frame = schema["components"]["schemas"]["Frame"]
    assert set(frame["properties"]) == {
        "type",
        "data",
        "seq",
        "request_id",
        "operation_id",
        "cursor",
        "ts",
    }
    assert {"message.created", "llm.token", "resync"} <= set(frame["properties"]["type"]["enum"])
