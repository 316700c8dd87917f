"""Start-up that waits: Temporal retried (bounded, with the address), /ready says why (the
worker's /health on its own port: test_worker_http.py)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.main import create_app
from mcos.infra.devserver import DevServer
from mcos.infra.temporal import TemporalUnreachable, connect_with_retry
from mcos.kernel.contracts import SEARCH_ATTRIBUTES
from mcos.kernel.settings import Settings
from tests.conftest import free_port, serving


def _settings(tmp_path: Path, port: int, **kw: Any) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path, temporal_address=f"127.0.0.1:{port}",
                    web_dist=tmp_path / "no-ui", **kw)  # fmt: skip


async def test_connect_gives_up_after_its_budget_naming_the_address(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    reasons: list[str] = []
    started = time.monotonic()
    with pytest.raises(TemporalUnreachable, match=f"127.0.0.1:{port}"):
        await connect_with_retry(_settings(tmp_path, port), timeout_s=1.5, on_error=reasons.append)
    assert 1.5 <= time.monotonic() - started < 15
    assert len(reasons) >= 2 and all(f"127.0.0.1:{port}" in r for r in reasons)


async def test_connect_waits_for_a_temporal_that_comes_up_late(tmp_path: Path) -> None:
    port = free_port()
    server = DevServer(db_file=None, port=port, ui_port=None, search_attributes=SEARCH_ATTRIBUTES,
                       log_file=tmp_path / "temporal.log")  # fmt: skip
    reasons: list[str] = []
    connecting = asyncio.create_task(
        connect_with_retry(_settings(tmp_path, port), timeout_s=90, on_error=reasons.append)
    )
    await asyncio.sleep(1.0)
    assert not connecting.done() and reasons  # still trying, and saying why
    server.start()
    try:
        client = await asyncio.wait_for(connecting, 90)
        await client.service_client.check_health()
    finally:
        server.stop()


async def test_ready_says_why_it_is_not_ready(tmp_path: Path) -> None:
    port = free_port()
    app = create_app(_settings(tmp_path, port, temporal_connect_timeout_s=60))
    async with serving(app, lifespan="on") as base, httpx.AsyncClient(base_url=base) as http:
        response = await http.get("/ready")
        assert (await http.get("/health")).status_code == 200  # alive meanwhile
    assert response.status_code == 503
    body = response.json()
    assert body["checks"] == {"temporal": False, "worker": False}
    assert f"127.0.0.1:{port}" in body["reasons"]["temporal"]
    assert body["reasons"]["worker"]


async def test_ready_names_the_task_queue_nobody_polls(
    tmp_path: Path, temporal_server: DevServer
) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path, web_dist=tmp_path / "no-ui",
                        temporal_address=temporal_server.address,
                        temporal_task_queue="nobody-polls-this")  # fmt: skip
    app = create_app(settings)
    async with serving(app, lifespan="on") as base, httpx.AsyncClient(base_url=base) as http:
        body = (await http.get("/ready")).json()
    assert body["checks"] == {"temporal": True, "worker": False}
    assert "nobody-polls-this" in body["reasons"]["worker"]
