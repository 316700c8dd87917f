"""Kill the worker process mid-stream: the turn completes exactly once after a restart.

API and worker run as separate processes sharing the Redis bus, as in production.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client

from mcos.infra.bus_redis import RedisBus
from mcos.kernel.settings import Settings
from tests.app.conftest import recv_until, running_api
from tests.conftest import REDIS_URL, require_service
from tests.support.wait import eventually

ROOT = Path(__file__).resolve().parents[2]


def start_worker(settings: Settings, log: Path) -> subprocess.Popen:
    assert settings.temporal_address is not None  # the session's dev server
    env = {
        **os.environ,
        "MCOS_TEMPORAL_ADDRESS": settings.temporal_address,
        "MCOS_TEMPORAL_TASK_QUEUE": settings.temporal_task_queue,
        "MCOS_BUS_URL": REDIS_URL,
        "MCOS_DATA_DIR": str(settings.data_dir),
        "MCOS_OFFLINE_TOKEN_DELAY_MS": "40",
        "MCOS_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "worker.py"],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


@pytest.mark.redis
async def test_killed_worker_mid_stream_turn_completes_once(
    settings: Settings, temporal_client: Client, user: str
) -> None:
    require_service("Redis", "127.0.0.1", 6379)
    s = settings.model_copy(update={"llm_heartbeat_timeout_s": 3, "bus_url": REDIS_URL})
    log = settings.data_dir / "worker.log"
    bus = RedisBus(REDIS_URL)
    worker = start_worker(s, log)
    try:
        async with running_api(s, temporal_client, bus=bus, embedded_worker=False) as api:
            async with api.client() as http:
                await eventually(lambda: _ready(http), timeout=30)
            ws = await api.ws(user)
            await ws.send(
                json.dumps(
                    {
                        "type": "message.send",
                        "client_action_id": "k1",
                        "text": "Hello! Tell me everything you can do for me.",
                    }
                )
            )
            before = await recv_until(
                ws, lambda f: f["type"] == "llm.token" and f["data"]["index"] >= 5, timeout=30
            )
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            worker = start_worker(s, log)
            after = await recv_until(ws, lambda f: f["type"] == "message.completed", timeout=60)
            await ws.close()
            async with api.client(user) as http:
                state = (await http.get("/api/v1/state")).json()
    finally:
        worker.kill()
        worker.wait()
        await bus.close()

    frames = before + after
    kinds = [f["type"] for f in frames]
    assert kinds.count("llm.restarted") == 1
    restart = kinds.index("llm.restarted")
    assert frames[restart]["data"]["attempt"] == 2
    resumed = [f["data"]["text"] for f in frames[restart:] if f["type"] == "llm.token"]
    final = frames[-1]["data"]["text"]
    assert final == "".join(resumed), "the final message must not hold doubled text"
    assistant = [m for m in state["messages"] if m["role"] == "assistant"]
    assert [m["text"] for m in assistant] == [final]
    assert [m["role"] for m in state["messages"]] == ["user", "assistant"]


async def _ready(http: httpx.AsyncClient) -> bool:
    r = await http.get("/ready")
    return r.status_code == 200
