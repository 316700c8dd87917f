"""Correlation ids travel in Temporal headers: client → workflow → activity log context;
workflow log lines keep their ``extra`` fields."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import uuid

import structlog
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker

from mcos.infra.correlation import CorrelationInterceptor, decode, encode
from mcos.infra.devserver import DevServer
from mcos.infra.logging import build_formatter
from tests.infra.correlation_probe import ProbeWorkflow, probe
from workflows.sandbox import workflow_runner


def test_the_header_round_trips_and_ignores_foreign_values() -> None:
    ids = {"request_id": "req_1", "user_id": "alice"}
    assert decode({"mcos-correlation": encode(ids)}) == ids
    assert decode({}) == {}
    assert decode({"mcos-correlation": encode({"secret": "x", "user_id": "a"})}) == {"user_id": "a"}


async def test_ids_reach_the_activity_and_workflow_logs_keep_extras(
    temporal_server: DevServer,
) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(build_formatter([], structlog.processors.JSONRenderer()))
    wf_logger = logging.getLogger("temporalio.workflow")
    wf_logger.addHandler(handler)
    old_level = wf_logger.level
    wf_logger.setLevel(logging.INFO)
    client = await Client.connect(
        temporal_server.address,
        data_converter=pydantic_data_converter,
        interceptors=[CorrelationInterceptor()],
    )
    queue = f"corr-{uuid.uuid4().hex[:8]}"
    try:
        async with Worker(
            client,
            task_queue=queue,
            workflows=[ProbeWorkflow],
            activities=[probe],
            workflow_runner=workflow_runner(),
        ):
            structlog.contextvars.bind_contextvars(request_id="req_abc", user_id="alice")
            try:
                handle = await client.start_workflow(
                    ProbeWorkflow.run, id=f"corr-{uuid.uuid4().hex}", task_queue=queue
                )
                structlog.contextvars.bind_contextvars(request_id="req_signal")
                await handle.signal(ProbeWorkflow.start)
            finally:
                structlog.contextvars.unbind_contextvars("request_id", "user_id")
            seen = await asyncio.wait_for(handle.result(), 30)
    finally:
        wf_logger.removeHandler(handler)
        wf_logger.setLevel(old_level)
    # the signal's ids (the latest), the operation id from the activity's input
    assert seen["request_id"] == "req_signal"
    assert seen["user_id"] == "alice"
    assert seen["operation_id"] == "op_fromtheinput"
    assert seen["activity"] == "correlation_probe"
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    line = next(line for line in lines if line.get("probe_field") == 42)
    assert line["user_id"] == "u-wf" and line["workflow_type"] == "CorrelationProbe"
    assert "temporal_workflow" not in line
