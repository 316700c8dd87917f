"""One exception handler per error family, all answering with the one error body; and
:func:`error_responses`, how a route documents its failures in the OpenAPI schema."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.client import RPCTimeoutOrCancelledError
from temporalio.service import RPCError

from app.schemas import ErrorBody, RateLimitedBody
from mcos.infra.metrics import RATE_LIMIT_REJECTIONS
from mcos.infra.temporal import is_outage
from mcos.kernel.errors import DomainError, Unavailable

log = structlog.get_logger(__name__)

# What each status means when a route documents it without saying more.
ERRORS: dict[int, str] = {
    400: "the request cannot be carried out",
    401: "no valid bearer token (`unauthorized`)",
    403: "not allowed (`forbidden`)",
    404: "no such thing for this user (`not_found`)",
    409: "refused by the brain's state (`conflict`)",
    413: "the body or the text is too large (`payload_too_large`)",
    422: "the request is invalid (`invalid_request`, `details.errors`)",
    429: "a limit or today's quota was reached (`rate_limited`; `Retry-After`, `X-RateLimit-*`)",
    500: "something went wrong on our side (`internal`)",
    502: "a tool failed (`tool_error`)",
    503: "Temporal or the user's brain is unavailable (`unavailable`; `Retry-After`)",
}


def error_responses(*codes: int | tuple[int, str]) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route or router: each status with the one error body (429
    with the limit's details), described by :data:`ERRORS` or by the ``(status, text)``
    given."""
    documented: dict[int | str, dict[str, Any]] = {}
    for entry in codes:
        status, description = entry if isinstance(entry, tuple) else (entry, ERRORS[entry])
        model = RateLimitedBody if status == 429 else ErrorBody
        documented[status] = {"model": model, "description": description}
    return documented


def error_body(request: Request, code: str, message: str, details: dict | None = None) -> dict:
    return {
        "error": {"code": code, "message": message, "details": details or {}},
        "request_id": getattr(request.state, "request_id", None),
    }


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        if exc.code == "rate_limited":
            RATE_LIMIT_REJECTIONS.labels(limit_type=exc.details.get("limit_type", "")).inc()
        body = exc.to_body(getattr(request.state, "request_id", None))
        return JSONResponse(body, status_code=exc.status, headers=exc.headers())

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", [])), "msg": e.get("msg"), "type": e.get("type")}
            for e in exc.errors()
        ]
        too_large = any(e["type"] == "string_too_long" and "text" in e["loc"] for e in errors)
        if too_large:
            body = error_body(
                request, "payload_too_large", "message text is too long", {"errors": errors}
            )
            return JSONResponse(body, status_code=413)
        body = error_body(request, "invalid_request", "the request is invalid", {"errors": errors})
        return JSONResponse(body, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(
            exc.status_code, "http_error"
        )
        return JSONResponse(error_body(request, code, str(exc.detail)), status_code=exc.status_code)

    async def _temporal(request: Request, exc: Exception) -> JSONResponse:
        outage = as_outage(exc)
        if outage is None:
            return await _unexpected(request, exc)
        log.warning("dependency unavailable", path=request.url.path, error=repr(exc)[:200])
        return await _domain(request, outage)

    # Handled here (not by the catch-all below, which Starlette re-raises to the server).
    app.add_exception_handler(RPCError, _temporal)
    app.add_exception_handler(RPCTimeoutOrCancelledError, _temporal)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", path=request.url.path)
        return JSONResponse(
            error_body(request, "internal", "something went wrong on our side"), status_code=500
        )


ENGINE_DOWN = "the assistant's engine (Temporal) is unavailable; try again shortly"


def as_outage(exc: BaseException) -> Unavailable | None:
    """A Temporal outage (unreachable, timed out, overloaded) as a 503, else ``None``."""
    if is_outage(exc):
        return Unavailable(ENGINE_DOWN, {"dependency": "temporal"})
    return None
