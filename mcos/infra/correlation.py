"""Correlation ids through Temporal headers (client → workflow → activities → log lines).

The client side copies ``request_id``, ``user_id``, ``operation_id`` and ``event_id`` from
the caller's structlog contextvars into a ``mcos-correlation`` header on every start,
signal, update and query. In the workflow, the ids of the latest signal or update are
kept and put on the activities it schedules; each activity binds them (and the
``operation_id``/``user_id`` of its input, when it has them) to the log context for its
run. Headers are not part of the determinism check: adding them is replay-safe.

The trace context Temporal's tracing interceptor puts on a signal or update is handed to
the workflow's handler too (``mcos.kernel.trace``): the chat turn it queues runs in that
trace, not in the one of the request that started the brain long ago.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog
from temporalio import activity, client, worker
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadConverter

from mcos.kernel import trace

HEADER = "mcos-correlation"
TRACE_HEADER = "_tracer-data"  # temporalio.contrib.opentelemetry's (its default header_key)
FIELDS = ("request_id", "user_id", "operation_id", "event_id")
_converter = PayloadConverter.default


def current_ids() -> dict[str, str]:
    ctx = structlog.contextvars.get_contextvars()
    return {k: str(ctx[k]) for k in FIELDS if ctx.get(k)}


def encode(ids: Mapping[str, str]) -> Payload:
    return _converter.to_payloads([dict(ids)])[0]


def decode(headers: Mapping[str, Payload]) -> dict[str, str]:
    payload = headers.get(HEADER)
    if payload is None:
        return {}
    try:
        value = _converter.from_payloads([payload])[0]
    except Exception:  # noqa: BLE001 - a foreign header is ignored, never fatal
        return {}
    if not isinstance(value, dict):
        return {}
    return {k: str(v) for k, v in value.items() if k in FIELDS and isinstance(v, str | int)}


def trace_carrier(headers: Mapping[str, Payload]) -> dict[str, str] | None:
    """The W3C carrier Temporal's tracing interceptor put in ``headers``, if any."""
    payload = headers.get(TRACE_HEADER)
    if payload is None:
        return None
    try:
        value = _converter.from_payloads([payload])[0]
    except Exception:  # noqa: BLE001 - a foreign header is ignored, never fatal
        return None
    if not isinstance(value, dict):
        return None
    return {str(k): str(v) for k, v in value.items() if isinstance(v, str)}


def with_ids(headers: Mapping[str, Payload], ids: Mapping[str, str]) -> dict[str, Payload]:
    return {**headers, HEADER: encode(ids)} if ids else dict(headers)


class _ClientOutbound(client.OutboundInterceptor):
    def _stamp(self, input: Any) -> None:
        ids = current_ids()
        if ids and hasattr(input, "headers"):
            input.headers = with_ids(input.headers, ids)

    async def start_workflow(self, input: client.StartWorkflowInput) -> Any:
        self._stamp(input)
        return await super().start_workflow(input)

    async def signal_workflow(self, input: client.SignalWorkflowInput) -> None:
        self._stamp(input)
        await super().signal_workflow(input)

    async def query_workflow(self, input: client.QueryWorkflowInput) -> Any:
        self._stamp(input)
        return await super().query_workflow(input)

    async def start_workflow_update(self, input: client.StartWorkflowUpdateInput) -> Any:
        self._stamp(input)
        return await super().start_workflow_update(input)

    async def start_update_with_start_workflow(
        self, input: client.StartWorkflowUpdateWithStartInput
    ) -> Any:
        self._stamp(input.start_workflow_input)
        self._stamp(input.update_workflow_input)
        return await super().start_update_with_start_workflow(input)


class _ActivityInbound(worker.ActivityInboundInterceptor):
    async def execute_activity(self, input: worker.ExecuteActivityInput) -> Any:
        ids = decode(input.headers)
        first = input.args[0] if input.args else None
        for name in ("operation_id", "user_id"):
            value = getattr(first, name, None) or (
                first.get(name) if isinstance(first, dict) else None
            )
            if isinstance(value, str) and value:
                ids[name] = value
        ids["activity"] = activity.info().activity_type
        with structlog.contextvars.bound_contextvars(**ids):
            return await super().execute_activity(input)


class _WorkflowInbound(worker.WorkflowInboundInterceptor):
    def init(self, outbound: worker.WorkflowOutboundInterceptor) -> None:
        self._out = _WorkflowOutbound(outbound)
        super().init(self._out)

    async def execute_workflow(self, input: worker.ExecuteWorkflowInput) -> Any:
        # signals of the first activation run before the workflow function: theirs win
        self._out.ids = {**decode(input.headers), **self._out.ids}
        return await super().execute_workflow(input)

    async def handle_signal(self, input: worker.HandleSignalInput) -> None:
        ids = decode(input.headers)
        if ids:
            self._out.ids = ids
        token = trace.set_handler_trace(trace_carrier(input.headers))
        try:
            await super().handle_signal(input)
        finally:
            trace.reset_handler_trace(token)

    async def handle_update_handler(self, input: worker.HandleUpdateInput) -> Any:
        ids = decode(input.headers)
        if ids:
            self._out.ids = ids
        token = trace.set_handler_trace(trace_carrier(input.headers))
        try:
            return await super().handle_update_handler(input)
        finally:
            trace.reset_handler_trace(token)


class _WorkflowOutbound(worker.WorkflowOutboundInterceptor):
    def __init__(self, next: worker.WorkflowOutboundInterceptor) -> None:
        super().__init__(next)
        self.ids: dict[str, str] = {}

    def start_activity(self, input: worker.StartActivityInput) -> Any:
        input.headers = with_ids(input.headers, self.ids)
        return super().start_activity(input)

    def start_local_activity(self, input: worker.StartLocalActivityInput) -> Any:
        input.headers = with_ids(input.headers, self.ids)
        return super().start_local_activity(input)


class CorrelationInterceptor(client.Interceptor, worker.Interceptor):
    """On the client (``Client.connect(interceptors=…)``) and so on its workers too."""

    def intercept_client(self, next: client.OutboundInterceptor) -> client.OutboundInterceptor:
        return _ClientOutbound(next)

    def intercept_activity(
        self, next: worker.ActivityInboundInterceptor
    ) -> worker.ActivityInboundInterceptor:
        return _ActivityInbound(next)

    def workflow_interceptor_class(
        self, input: worker.WorkflowInterceptorClassInput
    ) -> type[worker.WorkflowInboundInterceptor]:
        return _WorkflowInbound
