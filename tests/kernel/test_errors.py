from __future__ import annotations

from typing import Any

import pytest

from mcos.kernel.errors import (
    AuthError,
    Conflict,
    DomainError,
    ForbiddenError,
    NotFoundError,
    PayloadTooLarge,
    RateLimited,
    Unavailable,
    ValidationFailed,
)


@pytest.mark.parametrize(
    ("cls", "status", "code"),
    [
        (AuthError, 401, "unauthorized"),
        (ForbiddenError, 403, "forbidden"),
        (NotFoundError, 404, "not_found"),
        (Conflict, 409, "conflict"),
        (PayloadTooLarge, 413, "payload_too_large"),
        (ValidationFailed, 422, "invalid_request"),
        (Unavailable, 503, "unavailable"),
    ],
)
def test_fixed_errors(cls: Any, status: int, code: str) -> None:
    err = cls("boom", {"field": "text"})
    assert isinstance(err, DomainError)
    assert (err.status, err.code) == (status, code)
    assert err.to_body("req_1") == {
        "error": {"code": code, "message": "boom", "details": {"field": "text"}},
        "request_id": "req_1",
    }
    assert cls().to_body(None)["error"]["details"] == {}
    assert cls().message


def test_base_error_and_headers() -> None:
    err = DomainError("teapot", "short and stout", status=418)
    assert err.to_body("req_2")["error"]["code"] == "teapot" and err.status == 418
    assert err.headers() == {}
    assert AuthError().headers() == {"WWW-Authenticate": "Bearer"}


def test_rate_limited_body_and_headers() -> None:
    err = RateLimited(
        "messages_per_minute", limit=60, current=61, reset_at=1_700_000_060, retry_after=30
    )
    assert err.status == 429
    body = err.to_body("req_3")
    assert body["error"]["code"] == "rate_limited"
    assert body["error"]["details"] == {
        "limit_type": "messages_per_minute",
        "limit": 60,
        "current": 61,
        "reset_at": 1_700_000_060,
        "retry_after": 30,
    }
    assert err.headers() == {
        "X-RateLimit-Limit": "60",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": "1700000060",
        "Retry-After": "30",
    }
