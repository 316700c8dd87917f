"""The standalone worker's one HTTP port (``MCOS_WORKER_HEALTH_PORT``): ``/health`` that
follows the worker and ``/metrics`` (ours + the Temporal SDK's), from start-up to exit."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import httpx
from temporalio.client import Client

from mcos.infra.devserver import DevServer
from mcos.infra.metrics import LLM_FAILURES
from mcos.infra.worker_http import WorkerHealth, serving
from mcos.kernel.settings import Settings
from tests.cli.helpers import ROOT, cli_env
from tests.conftest import eventually, free_port, user_id
from tests.workflows.helpers import brain, snapshot, user_message


async def test_one_port_answers_health_as_the_worker_goes_and_metrics() -> None:
    health = WorkerHealth()
    port = free_port()
    LLM_FAILURES.inc()
    async with (
        serving(health, port, sdk_metrics_url=None, host="127.0.0.1"),
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http,
    ):
        starting = await http.get("/health")
        assert starting.status_code == 503 and starting.json()["status"] == "starting"
        health.status, health.reason = "ok", "polling"
        assert (await http.get("/health")).status_code == 200
        head = await http.head("/health")
        assert head.status_code == 200 and head.content == b""
        metrics = await http.get("/metrics")
        assert metrics.status_code == 200
        assert metrics.headers["content-type"].startswith("text/plain")
        value = next(line for line in metrics.text.splitlines()
                     if line.startswith("llm_failures_total "))  # fmt: skip
        assert float(value.split()[1]) >= 1
        health.status, health.reason = "draining", "shutting down (SIGTERM)"
        draining = await http.get("/health")
        assert draining.status_code == 503 and "SIGTERM" in draining.json()["reason"]
        assert (await http.get("/metrics")).status_code == 200  # scraped while draining too
        assert (await http.get("/metricsx")).status_code == 404
        assert (await http.post("/health")).status_code == 405


async def test_no_port_serves_nothing() -> None:
    port = free_port()
    async with serving(WorkerHealth(), None, host="127.0.0.1"):
        async with httpx.AsyncClient(timeout=2) as http:
            try:
                await http.get(f"http://127.0.0.1:{port}/health")
            except httpx.ConnectError:
                return
    raise AssertionError("something answered on the port")


async def test_a_worker_that_never_reaches_temporal_exits_3(tmp_path: Path) -> None:
    env = cli_env(MCOS_TEMPORAL_ADDRESS=f"127.0.0.1:{free_port()}",
                  MCOS_TEMPORAL_CONNECT_TIMEOUT_S="1", MCOS_DATA_DIR=str(tmp_path),
                  MCOS_WORKER_HEALTH_PORT=str(free_port()))  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "worker.py", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 3, err.decode()[-2000:]
    assert b"worker exiting" in err


async def test_the_worker_serves_health_and_metrics_on_one_port(
    temporal_server: DevServer, temporal_client: Client, tmp_path: Path
) -> None:
    """Before Temporal is reached (the worker is started first, pointed at a port nobody
    listens on, then at the server) and while it polls, one port answers both."""
    port, queue = free_port(), f"wm-{user_id()}"
    common = {
        "MCOS_TEMPORAL_TASK_QUEUE": queue,
        "MCOS_WORKER_HEALTH_PORT": str(port),
        "MCOS_DATA_DIR": str(tmp_path),
        "MCOS_OFFLINE_TOKEN_DELAY_MS": "0",
    }
    nowhere = f"127.0.0.1:{free_port()}"
    waiting = await asyncio.create_subprocess_exec(
        sys.executable, "worker.py", cwd=ROOT,
        env=cli_env(MCOS_TEMPORAL_ADDRESS=nowhere, **common),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
        try:

            async def starting() -> httpx.Response | None:
                try:
                    return await http.get("/health")
                except httpx.HTTPError:
                    return None

            first = await eventually(starting, 60, 0.2)
            assert first.status_code == 503 and first.json()["status"] == "starting"
            assert nowhere in first.json()["reason"] or "Temporal" in first.json()["reason"]
            assert (await http.get("/metrics")).status_code == 200
        finally:
            waiting.terminate()
            # stopped while waiting for Temporal: it exits at once, cleanly
            code = await asyncio.wait_for(waiting.wait(), 30)
        assert code == 0, code

        proc = await asyncio.create_subprocess_exec(
            sys.executable, "worker.py", cwd=ROOT,
            env=cli_env(MCOS_TEMPORAL_ADDRESS=temporal_server.address, **common),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        try:

            async def up() -> bool:
                try:
                    return (await http.get("/health")).status_code == 200
                except httpx.HTTPError:
                    return False

            await eventually(up, 90, 0.5)
            b = brain(temporal_client, Settings(_env_file=None, temporal_task_queue=queue))
            uid = user_id()
            await b.signal_event(uid, user_message("Hello!"))

            async def answered() -> bool:
                state = await snapshot(temporal_client, uid)
                return any(m.role == "assistant" for m in state.messages)

            await eventually(answered, 60)
            text = (await http.get("/metrics")).text
            assert "llm_time_to_first_token_seconds_count" in text
            # the SDK's own worker metrics, from its core runtime
            assert "temporal_workflow_task_execution_latency" in text or "temporal_request" in text
            assert 'task_queue="' + queue + '"' in text
            assert (await http.get("/nope")).status_code == 404
            assert (await http.get("/health")).status_code == 200  # alive meanwhile
        finally:
            proc.terminate()
            await proc.wait()
