"""Time to first token, against a real Temporal dev server (one run, prints figures).

    .venv/bin/python bench/ttft.py [--turns 30] [--users 50]

(a) the bare Temporal floor: client signal → activity start in a minimal workflow;
(b) this project: `message.send` on a WebSocket → first `llm.token` frame, offline model
    at zero delay; both for 1 user and for N concurrent users, with the ratio b/a.
Also: token relay (activity publish → WebSocket client) latency per token and
throughput, and Temporal history events per chat turn (and that no token is in history).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import websockets  # noqa: E402
from temporalio.client import Client  # noqa: E402
from temporalio.contrib.pydantic import pydantic_data_converter  # noqa: E402
from temporalio.worker import Worker  # noqa: E402
from websockets.asyncio.client import ClientConnection  # noqa: E402
from websockets.typing import Subprotocol  # noqa: E402

from app.main import create_app  # noqa: E402
from bench.floor import STARTED, FloorWorkflow, floor_activity  # noqa: E402
from bench.serving import free_port, served  # noqa: E402
from mcos.infra.auth import issue_dev_token  # noqa: E402
from mcos.infra.bus import MemoryBus  # noqa: E402
from mcos.infra.devserver import DevServer  # noqa: E402
from mcos.kernel.contracts import SEARCH_ATTRIBUTES  # noqa: E402
from mcos.kernel.contracts import brain_workflow_id as workflow_id  # noqa: E402
from mcos.kernel.frames import Frame  # noqa: E402
from mcos.kernel.settings import Settings  # noqa: E402
from workflows.sandbox import workflow_runner  # noqa: E402


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def fmt(values: list[float]) -> str:
    return f"p50 {pct(values, 50) * 1000:7.2f} ms   p99 {pct(values, 99) * 1000:7.2f} ms"


async def floor_once(client: Client, wid: str, task_queue: str) -> float:
    key = uuid.uuid4().hex
    future = STARTED[key] = asyncio.get_running_loop().create_future()
    sent = time.perf_counter()
    await client.get_workflow_handle(wid).signal(FloorWorkflow.ping, key)
    try:
        started = await asyncio.wait_for(future, 10)
    finally:
        STARTED.pop(key, None)
    return started - sent


async def bench_floor(client: Client, turns: int, users: int) -> tuple[list[float], list[float]]:
    tq = f"floor-{uuid.uuid4().hex[:6]}"
    async with Worker(
        client,
        task_queue=tq,
        workflows=[FloorWorkflow],
        activities=[floor_activity],
        workflow_runner=workflow_runner(),
    ):
        wids = [f"floor-{uuid.uuid4().hex[:8]}" for _ in range(users)]
        for wid in wids:
            await client.start_workflow(FloorWorkflow.run, id=wid, task_queue=tq)
        for wid in wids[:1]:  # warm-up
            await floor_once(client, wid, tq)
        single = [await floor_once(client, wids[0], tq) for _ in range(turns)]
        many: list[float] = []
        for _ in range(3):
            many += await asyncio.gather(*[floor_once(client, w, tq) for w in wids])
        for wid in wids:
            await client.get_workflow_handle(wid).signal(FloorWorkflow.stop)
    return single, many


async def relay_latency(
    bus: MemoryBus, ws: ClientConnection, user: str, n: int = 300
) -> list[float]:
    """Token frames published on the bus at a steady 200/s, timed until the client has them."""
    out: list[float] = []

    async def publish() -> None:
        for i in range(n):
            await bus.publish(
                user,
                [
                    Frame(
                        type="llm.token",
                        operation_id="op_bench",
                        data={"index": i, "text": "tok ", "sent": time.perf_counter()},
                    )
                ],
            )
            await asyncio.sleep(0.005)

    producer = asyncio.create_task(publish())
    while len(out) < n:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if frame["type"] == "llm.token" and frame["operation_id"] == "op_bench":
            out.append(time.perf_counter() - frame["data"]["sent"])
    await producer
    return out


async def turn_once(ws: ClientConnection, relay: list[float], counts: list[int]) -> float:
    sent = time.perf_counter()
    await ws.send(
        json.dumps(
            {
                "type": "message.send",
                "text": "Hello! What can you do?",
                "client_action_id": uuid.uuid4().hex,
            }
        )
    )
    first = None
    tokens = 0
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
        if frame["type"] == "llm.token":
            now = time.perf_counter()
            tokens += 1
            if first is None:
                first = now - sent
        if frame["type"] == "message.completed":
            counts.append(tokens)
            assert first is not None
            return first


async def bench_project(
    base: str, settings: Settings, bus: MemoryBus, turns: int, users: int
) -> tuple[list[float], list[float], list[float], float]:
    relay: list[float] = []
    counts: list[int] = []

    async def connect(user: str) -> ClientConnection:
        token = issue_dev_token(user, settings)
        ws = await websockets.connect(
            base.replace("http", "ws") + "/api/v1/ws",
            subprotocols=[Subprotocol("bearer"), Subprotocol(token)],
        )
        await ws.send(json.dumps({"type": "ping"}))
        while json.loads(await ws.recv())["type"] != "pong":
            pass
        return ws

    solo = await connect("bench-solo")
    await turn_once(solo, [], [])  # warm-up (starts the brain)
    single = [await turn_once(solo, relay, counts) for _ in range(turns)]
    await solo.close()

    sockets = [await connect(f"bench-{i}") for i in range(users)]
    await asyncio.gather(*[turn_once(ws, [], []) for ws in sockets])  # start the brains
    many: list[float] = []
    for _ in range(3):
        many += await asyncio.gather(*[turn_once(ws, [], []) for ws in sockets])
    for ws in sockets:
        await ws.close()

    # throughput: one long reply, tokens per second at the client
    ws = await connect("bench-throughput")
    await turn_once(ws, [], [])
    t0 = time.perf_counter()
    n: list[int] = []
    await turn_once(ws, [], n)
    throughput = n[0] / (time.perf_counter() - t0)
    relay = await relay_latency(bus, ws, "bench-throughput")
    await ws.close()
    return single, many, relay, throughput


async def history_per_turn(client: Client, user: str) -> tuple[float, bool]:
    history = await client.get_workflow_handle(workflow_id(user)).fetch_history()
    text = history.to_json()
    turns = sum(
        1
        for e in history.events
        if e.WhichOneof("attributes") == "activity_task_scheduled_event_attributes"
        and e.activity_task_scheduled_event_attributes.activity_type.name == "llm_reply"
    )
    no_tokens = '"llm.token"' not in text and "llm.token" not in text
    return len(history.events) / max(turns, 1), no_tokens


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=30)
    parser.add_argument("--users", type=int, default=50)
    args = parser.parse_args()

    server = DevServer(None, port=free_port(), ui_port=None, search_attributes=SEARCH_ATTRIBUTES)
    server.start()
    try:
        await server.wait_healthy()
        client = await Client.connect(server.address, data_converter=pydantic_data_converter)
        floor_1, floor_n = await bench_floor(client, args.turns, args.users)

        with tempfile.TemporaryDirectory() as tmp:
            port = free_port()
            settings = Settings(
                _env_file=None,
                data_dir=Path(tmp),
                temporal_address=server.address,
                temporal_task_queue=f"bench-{uuid.uuid4().hex[:6]}",
                offline_token_delay_ms=0,
                embedded_worker=True,
                port=port,
                web_dist=Path(tmp) / "none",
                limit_messages_per_minute=10_000,
                log_level="WARNING",
                limit_ws_frames_per_minute=10_000_000,  # measure latency, not the budget
                temporal_search_attributes=True,
            )
            bus = MemoryBus()
            app = create_app(settings, bus=bus, client=client)
            async with served(app, settings, port) as base:
                single, many, relay, throughput = await bench_project(
                    base, settings, bus, args.turns, args.users
                )
                per_turn, no_tokens = await history_per_turn(client, "bench-solo")
    finally:
        server.stop()

    print("\nTime to first token (signal/message → first activity start / first token)")
    print(f"  (a) bare Temporal floor, 1 user          {fmt(floor_1)}")
    print(f"  (b) this project, 1 user                 {fmt(single)}")
    print(f"      ratio b/a at p50: {pct(single, 50) / pct(floor_1, 50):.2f}   (target ≤ 1.3)")
    print(f"  (a) bare Temporal floor, {args.users} users        {fmt(floor_n)}")
    print(f"  (b) this project, {args.users} users               {fmt(many)}")
    print(f"      ratio b/a at p50: {pct(many, 50) / pct(floor_n, 50):.2f}")
    print("\nToken relay (bus publish → WebSocket client, 200 tokens/s)")
    print(f"  per token {fmt(relay)}   (target p50 < 5 ms)")
    print(f"  throughput {throughput:,.0f} tokens/s (one stream, offline model at 0 ms)")
    print("\nTemporal history")
    print(f"  events per chat turn: {per_turn:.1f}")
    print(f"  tokens in history: {'none' if no_tokens else 'FOUND'}")


if __name__ == "__main__":
    asyncio.run(main())
