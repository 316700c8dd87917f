"""History cost of one chat turn, against a real Temporal dev server (prints figures).

    .venv/bin/python bench/history.py [--turns 3]

A brain (real worker, offline model at zero delay, no API) gets plain turns ("Hello!")
and tool turns (a reminder: the create_task tool); after each turn, once the brain is idle,
the events the turn added to the history are counted and measured: protobuf bytes (what
the server stores and limits; the targets apply to these) and JSON bytes (what `temporal
workflow show --output json` prints, payloads base64). The figures are the largest turn of
each kind; a turn's size grows with the conversation the model is sent (up to the brain's
message limit), so later turns cost more than the first.
Targets (issue 13): a plain turn ≤ 12 events and ≤ 8 KB, a tool turn ≤ 16 KB.
Exit 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from google.protobuf.json_format import MessageToDict  # noqa: E402
from temporalio.client import Client  # noqa: E402
from temporalio.contrib.pydantic import pydantic_data_converter  # noqa: E402

from mcos.infra.bus import MemoryBus  # noqa: E402
from mcos.infra.db import get_engine  # noqa: E402
from mcos.infra.devserver import DevServer  # noqa: E402
from mcos.kernel.contracts import SEARCH_ATTRIBUTES  # noqa: E402
from mcos.kernel.contracts import brain_workflow_id as workflow_id  # noqa: E402
from mcos.kernel.ids import new_id  # noqa: E402
from mcos.kernel.settings import Settings  # noqa: E402
from worker import build_worker  # noqa: E402
from workflows.client import BrainClient, make_event  # noqa: E402

TARGETS = {"plain": (12, 8 * 1024), "tool": (None, 16 * 1024)}
BUSY = {
    "workflow_task_scheduled_event_attributes",
    "workflow_task_started_event_attributes",
    "activity_task_scheduled_event_attributes",
    "activity_task_started_event_attributes",
}


async def idle_history(client: Client, user: str) -> list:
    """The history once nothing is in flight and it stopped growing."""
    last = -1
    while True:
        h = await client.get_workflow_handle(workflow_id(user)).fetch_history()
        busy = h.events[-1].WhichOneof("attributes") in BUSY
        if not busy and len(h.events) == last:
            return list(h.events)
        last = -1 if busy else len(h.events)
        await asyncio.sleep(0.3)


async def turn(brain: BrainClient, client: Client, user: str, text: str) -> dict:
    before = await idle_history(client, user) if await brain.is_running(user) else []
    replies = 0
    if before:
        state = await brain.snapshot(user)
        replies = sum(m.role == "assistant" for m in state.messages)
    event = make_event("user.message", {"message_id": new_id("msg"), "text": text}, new_id("req"))
    await brain.signal_event(user, event)
    while True:
        state = await brain.snapshot(user)
        if sum(m.role == "assistant" for m in state.messages) > replies:
            break
        await asyncio.sleep(0.1)
    after = await idle_history(client, user)
    added = after[len(before) :]
    return {
        "events": len(added),
        "proto_bytes": sum(e.ByteSize() for e in added),
        "json_bytes": sum(len(json.dumps(MessageToDict(e))) for e in added),
        "kinds": [
            f"{e.WhichOneof('attributes').removesuffix('_event_attributes')} {e.ByteSize()}"
            for e in added
        ],
    }


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=3, help="turns of each kind")
    parser.add_argument("--verbose", action="store_true", help="list each turn's events")
    args = parser.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = DevServer(None, port=port, ui_port=None, search_attributes=SEARCH_ATTRIBUTES)
    server.start()
    try:
        await server.wait_healthy()
        client = await Client.connect(server.address, data_converter=pydantic_data_converter)
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(
                _env_file=None,
                data_dir=Path(tmp),
                temporal_address=server.address,
                temporal_task_queue=f"bench-{uuid.uuid4().hex[:6]}",
                offline_token_delay_ms=0,
                temporal_search_attributes=True,
                log_level="WARNING",
            )
            worker = build_worker(client, settings, MemoryBus(), get_engine(settings.sql_url))
            brain = BrainClient(client, settings)
            results: dict[str, list[dict]] = {"plain": [], "tool": []}
            async with worker:
                user = f"bench-{uuid.uuid4().hex[:6]}"
                await turn(brain, client, user, "Hello!")  # the brain's start, not counted
                for i in range(args.turns):
                    results["plain"].append(await turn(brain, client, user, "Hello!"))
                    ask = f"Remind me to call John{i} tomorrow at 3pm"
                    results["tool"].append(await turn(brain, client, user, ask))
    finally:
        server.stop()

    ok = True
    print("Temporal history per chat turn (a running brain; offline model)")
    for kind, runs in results.items():
        events = max(r["events"] for r in runs)
        proto = max(r["proto_bytes"] for r in runs)
        js = max(r["json_bytes"] for r in runs)
        max_events, max_bytes = TARGETS[kind]
        hit = (max_events is None or events <= max_events) and proto <= max_bytes
        ok &= hit
        target = (f"≤ {max_events} events, " if max_events else "") + f"≤ {max_bytes // 1024} KB"
        first = runs[0]["proto_bytes"] / 1024
        print(
            f"  {kind:<5} turn: {events:>3} events  {proto / 1024:5.1f} KB stored (first "
            f"{first:4.1f})  {js / 1024:5.1f} KB as JSON   (target {target}: "
            f"{'ok' if hit else 'MISSED'})"
        )
        if args.verbose:
            print("         " + ", ".join(runs[-1]["kinds"]))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
