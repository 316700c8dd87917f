"""History cost of chat turns, against a real Temporal dev server (prints figures).

    .venv/bin/python bench/history.py [--turns 5] [--message-limit 100] [--verbose]

A brain (real worker, offline model at zero delay, no API) gets plain turns ("Hello!")
and tool turns (a reminder: the create_task tool), alternately; after each turn, once the
brain is idle, the events the turn added to the history are counted and measured: protobuf
bytes (what the server stores and limits; the targets apply to these) and JSON bytes (what
`temporal workflow show --output json` prints, payloads base64). Every turn is printed and
every turn must meet the targets: a turn's size could grow with the conversation and the
user's tasks, and once a user has more messages than the brain keeps (`--message-limit`,
100 by default; a small one reaches that steady state in a few turns) each turn also
archives its oldest messages.
Targets (issue 13): a plain turn ≤ 12 events and ≤ 8 KB, a tool turn ≤ 16 KB.
Exit 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from google.protobuf.json_format import MessageToDict  # noqa: E402
from temporalio.client import Client  # noqa: E402
from temporalio.contrib.pydantic import pydantic_data_converter  # noqa: E402

from bench.serving import free_port  # noqa: E402
from mcos.infra.bus import MemoryBus  # noqa: E402
from mcos.infra.db import get_engine  # noqa: E402
from mcos.infra.devserver import DevServer  # noqa: E402
from mcos.kernel.contracts import SEARCH_ATTRIBUTES  # noqa: E402
from mcos.kernel.contracts import brain_workflow_id as workflow_id  # noqa: E402
from mcos.kernel.ids import new_id  # noqa: E402
from mcos.kernel.settings import Settings  # noqa: E402
from mcos.llm.base import Chunk, LlmRequest  # noqa: E402
from mcos.llm.offline import OfflineProvider  # noqa: E402
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
    replies = (await brain.snapshot(user)).counters.turns if before else 0
    event = make_event("user.message", {"message_id": new_id("msg"), "text": text}, new_id("req"))
    await brain.signal_event(user, event)
    while True:
        state = await brain.snapshot(user)
        if state.counters.turns > replies:
            break
        await asyncio.sleep(0.1)
    after = await idle_history(client, user)
    added = after[len(before) :]
    return {
        "events": len(added),
        "proto_bytes": sum(e.ByteSize() for e in added),
        "json_bytes": sum(len(json.dumps(MessageToDict(e))) for e in added),
        "kinds": [f"{kind(e)} {e.ByteSize()}" for e in added],
    }


def kind(event: Any) -> str:
    """``activity_task_scheduled:llm_reply``, ``workflow_task_started``, …"""
    name = event.WhichOneof("attributes").removesuffix("_event_attributes")
    if event.HasField("activity_task_scheduled_event_attributes"):
        name += ":" + event.activity_task_scheduled_event_attributes.activity_type.name
    return name


class PromptModel(OfflineProvider):
    """A real model's stand-in: it reads the prompt (the brain sends it what a real model
    gets, not the offline model's script) and records every request; it answers as the
    offline model does from the messages alone."""

    scripted = False

    def __init__(self) -> None:
        super().__init__(token_delay_ms=0)
        self.requests: list[LlmRequest] = []

    async def stream(self, request: LlmRequest) -> AsyncIterator[Chunk]:
        self.requests.append(request)
        async for chunk in super().stream(request):
            yield chunk


async def measure(brain: BrainClient, client: Client, user: str, turns: int) -> dict:
    """``turns`` plain and ``turns`` tool turns, alternately, after one that starts the brain."""
    results: dict[str, list[dict]] = {"plain": [], "tool": []}
    await turn(brain, client, user, "Hello!")  # the brain's start, not counted
    for i in range(turns):
        results["plain"].append(await turn(brain, client, user, "Hello!"))
        ask = f"Remind me to call John{i} tomorrow at 3pm"
        results["tool"].append(await turn(brain, client, user, ask))
    return results


def missed(kind: str, figures: dict) -> bool:
    max_events, max_bytes = TARGETS[kind]
    too_many = max_events is not None and figures["events"] > max_events
    return too_many or figures["proto_bytes"] > max_bytes


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=5, help="turns of each kind")
    parser.add_argument("--message-limit", type=int, default=100, help="messages a brain keeps")
    parser.add_argument("--verbose", action="store_true", help="list the last turns' events")
    parser.add_argument(
        "--prompt-model", action="store_true", help="a real model's input (the whole prompt)"
    )
    args = parser.parse_args()
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
                temporal_task_queue=f"bench-{uuid.uuid4().hex[:6]}",
                offline_token_delay_ms=0,
                temporal_search_attributes=True,
                log_level="WARNING",
                brain_message_limit=args.message_limit,
            )
            provider = PromptModel() if args.prompt_model else None
            engine = get_engine(settings.sql_url)
            worker = build_worker(client, settings, MemoryBus(), engine, provider=provider)
            brain = BrainClient(client, settings)
            async with worker:
                user = f"bench-{uuid.uuid4().hex[:6]}"
                results = await measure(brain, client, user, args.turns)
    finally:
        server.stop()

    print(
        f"Temporal history per chat turn (a running brain; "
        f"{'a real model: the whole prompt' if args.prompt_model else 'offline model'}; "
        f"the brain keeps {args.message_limit} messages)"
    )
    print("  turn   plain: events  KB stored  KB JSON    tool: events  KB stored  KB JSON")
    for i, (plain, tool) in enumerate(zip(results["plain"], results["tool"], strict=True)):
        cells = [
            f"{r['events']:>6}  {r['proto_bytes'] / 1024:9.1f}  {r['json_bytes'] / 1024:7.1f}"
            + (" !" if missed(kind, r) else "  ")
            for kind, r in (("plain", plain), ("tool", tool))
        ]
        print(f"  {i + 1:>4}   {cells[0]}      {cells[1]}")
    ok = True
    for kind, runs in results.items():
        max_events, max_bytes = TARGETS[kind]
        hit = not any(missed(kind, r) for r in runs)
        ok &= hit
        target = (f"≤ {max_events} events, " if max_events else "") + f"≤ {max_bytes // 1024} KB"
        worst = max(runs, key=lambda r: r["proto_bytes"])
        print(
            f"  {kind:<5} turns: at most {max(r['events'] for r in runs)} events, "
            f"{worst['proto_bytes'] / 1024:.1f} KB (target {target}: {'ok' if hit else 'MISSED'})"
        )
        if args.verbose:
            print("         " + ", ".join(runs[-1]["kinds"]))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
