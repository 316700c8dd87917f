"""Record brain histories for the replay test: ``python -m tests.workflows.record_history``.

Starts a throwaway dev server and worker, runs the scenario, writes each run's history
as JSON under ``tests/workflows/histories/current/``. Histories of earlier versions stay in
their own folders (``v1/``: publishing through a local activity; ``v2/``: continue-as-new
held off by a backlog; … ``v5/``: continue-as-new by size; ``v6/``: lean LLM calls, archival
riding with them; ``v7/``: the size trigger counting a run's own growth; ``v8/``: the carry
handed on packed) and must keep replaying:
a change of workflow behaviour goes behind ``workflow.patched``; move ``current/`` to a new
``vN/`` before re-recording.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import uuid
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from mcos.infra.devserver import DevServer
from mcos.kernel.contracts import SEARCH_ATTRIBUTES
from mcos.kernel.settings import Settings
from tests.conftest import free_port, running_worker
from tests.workflows.scenario import run_scenario

OUT = Path(__file__).parent / "histories" / "current"


async def main() -> None:
    server = DevServer(None, port=free_port(), ui_port=None, search_attributes=SEARCH_ATTRIBUTES)
    server.start()
    try:
        await server.wait_healthy()
        client = await Client.connect(server.address, data_converter=pydantic_data_converter)
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(
                _env_file=None,
                data_dir=Path(tmp),
                temporal_address=server.address,
                temporal_task_queue=f"rec-{uuid.uuid4().hex[:8]}",
                temporal_search_attributes=True,
                offline_token_delay_ms=0,
            )
            async with running_worker(settings, client):
                histories = await run_scenario(client, settings, "recorded")
        OUT.mkdir(parents=True, exist_ok=True)
        for old in OUT.glob("*.json"):
            old.unlink()
        for i, h in enumerate(histories):
            (OUT / f"scenario-run{i + 1}.json").write_text(
                json.dumps(json.loads(h.to_json()), indent=1)
            )
        print(f"recorded {len(histories)} run(s) into {OUT}")
    finally:
        server.stop()


if __name__ == "__main__":
    asyncio.run(main())
