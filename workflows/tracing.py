"""A chat turn runs in the trace of the request that asked for it (workflow code).

Temporal's tracing interceptor puts a workflow's spans in the trace of the call that
*started* it: for a brain that lives for months, every turn would land in one old trace.
The turn carries the trace of the signal or update that queued it instead
(``Turn.trace``, from the call's header: ``mcos.kernel.trace``); while it runs, that
context is the current one, so its activities' spans (the LLM calls, flight searches) and
a ``Turn:N`` span join the trace of the WebSocket frame or request. Nothing happens when
tracing is off (no carrier) or on replay (the interceptor records no spans then).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from opentelemetry import context
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from temporalio.contrib.opentelemetry import TracingWorkflowInboundInterceptor
from temporalio.contrib.opentelemetry.workflow import completed_span

from mcos.kernel.trace import handler_trace

# the interceptor's own propagation (W3C trace context; baggage is not used here)
_PROPAGATOR = CompositePropagator([TraceContextTextMapPropagator()])


def asking_trace() -> dict[str, str]:
    """The trace of the signal or update being handled (empty when tracing is off)."""
    return handler_trace()


@contextlib.contextmanager
def in_trace(
    carrier: dict[str, str] | None, name: str = "", attributes: dict[str, Any] | None = None
) -> Iterator[None]:
    """Run the block (the activities it starts) in ``carrier``'s trace, marked by a span
    ``name`` if given."""
    if not carrier:
        yield
        return
    token = context.attach(_PROPAGATOR.extract(carrier, context=context.get_current()))
    try:
        if name and TracingWorkflowInboundInterceptor._from_context() is not None:  # tracing
            completed_span(name, attributes=attributes)
        yield
    finally:
        context.detach(token)
