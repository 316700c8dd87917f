"""One exception handler per error family, all answering with the one error body."""

from __future__ import annotations

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.client import RPCTimeoutOrCancelledError
from temporalio.service import RPCError

from mcos.infra.metrics import RATE_LIMIT_REJECTIONS
from mcos.infra.temporal import is_outage
from mcos.kernel.errors import DomainError, Unavailable

log = structlog.get_logger(__name__)


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
