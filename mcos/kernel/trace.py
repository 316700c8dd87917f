"""The trace context of the signal or update a workflow handler is running for.

The worker's interceptor (``mcos.infra.correlation``) sets it from the call's Temporal
header (Temporal's OpenTelemetry interceptor writes the caller's span there, as a W3C
``traceparent`` carrier) for the duration of the handler, so a chat turn the handler
queues runs in the trace of the WebSocket frame or request that asked for it. Empty when
tracing is off. Pure data: replay reads the same headers from history.
"""

from __future__ import annotations

from contextvars import ContextVar

_HANDLER_TRACE: ContextVar[dict[str, str] | None] = ContextVar("mcos_handler_trace", default=None)


def handler_trace() -> dict[str, str]:
    return dict(_HANDLER_TRACE.get() or {})


def set_handler_trace(carrier: dict[str, str] | None) -> object:
    return _HANDLER_TRACE.set(carrier)


def reset_handler_trace(token: object) -> None:
    _HANDLER_TRACE.reset(token)  # type: ignore[arg-type]
