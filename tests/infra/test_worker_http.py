"""The standalone worker's own /metrics (ours + the Temporal SDK's) and /health."""

from __future__ import annotations

import asyncio
import sys

import httpx
from temporalio.client import Client

from mcos.infra.devserver import DevServer
from tests.cli.helpers import ROOT, cli_env
from tests.conftest import eventually, free_port, user_id
from tests.workflows.helpers import brain, snapshot, user_message


async def test_the_worker_serves_its_metrics_and_the_sdk_ones(
    temporal_server: DevServer, temporal_client: Client, tmp_path
) -> None:
    port, queue = free_port(), f"wm-{user_id()}"
    env = cli_env(
        MCOS_TEMPORAL_ADDRESS=temporal_server.address,
        MCOS_TEMPORAL_TASK_QUEUE=queue,
        MCOS_WORKER_METRICS_PORT=str(port),
        MCOS_DATA_DIR=str(tmp_path),
        MCOS_OFFLINE_TOKEN_DELAY_MS="0",
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "worker.py", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:

            async def up() -> bool:
                try:
                    return (await http.get("/health")).status_code == 200
                except httpx.HTTPError:
                    return False

            await eventually(up, 90, 0.5)
            from mcos.kernel.settings import Settings

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
    finally:
        proc.terminate()
        await proc.wait()
