"""Idle WebSockets on one API process with the Redis bus: memory per socket, and fan-out.

    .venv/bin/python bench/sockets.py [--sockets 2000] [--deflate]

Starts a throwaway redis-server (ports 7500-7599 unless MCOS_TEST_REDIS_PORTS says
otherwise) and ONE API process (``mcos api``, no worker), opens N idle
authenticated WebSockets (one user each), then publishes one frame to every user through
the bus, as a worker would, and checks that every socket receives it. Prints the API's
RSS per idle socket against a baseline measured in the same run (after a warm-up of a
few sockets opened and closed), the Redis connections the API holds, and fan-out time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis.asyncio as redis  # noqa: E402
import websockets  # noqa: E402
from websockets.asyncio.client import ClientConnection  # noqa: E402
from websockets.typing import Subprotocol  # noqa: E402

from bench.serving import free_port  # noqa: E402
from mcos.infra.auth import issue_dev_token  # noqa: E402
from mcos.infra.bus_redis import RedisBus  # noqa: E402
from mcos.kernel.frames import Frame  # noqa: E402
from mcos.kernel.settings import Settings  # noqa: E402
from tests.support.redis_proc import RedisProcess  # noqa: E402


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def wait_http(port: int, within_s: float = 240) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            _, w = await asyncio.open_connection("127.0.0.1", port)
            w.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise TimeoutError("the API did not start")


async def open_socket(url: str, token: str, deflate: bool) -> ClientConnection:
    ws = await websockets.connect(
        url,
        subprotocols=[Subprotocol("bearer"), Subprotocol(token)],
        compression="deflate" if deflate else None,
        ping_interval=None,
        max_size=2**20,
    )
    await ws.send('{"type":"ping"}')
    while json.loads(await ws.recv())["type"] != "pong":
        pass
    return ws


async def open_many(url: str, tokens: list[str], deflate: bool, batch: int = 100) -> list:
    out = []
    for i in range(0, len(tokens), batch):
        out += await asyncio.gather(*(open_socket(url, t, deflate) for t in tokens[i : i + batch]))
    return out


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sockets", type=int, default=2000)
    parser.add_argument(
        "--deflate",
        action="store_true",
        help="permessage-deflate on: the API enables it, the clients offer it (as browsers do)",
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mcos-bench-sockets-"))
    server = RedisProcess(work, persist=False)
    server.start()
    port = free_port()
    settings = Settings(_env_file=None, data_dir=work)
    env = {
        **os.environ,
        "MCOS_BUS_URL": server.url,
        "MCOS_DATA_DIR": str(work),
        "MCOS_TEMPORAL_ADDRESS": "127.0.0.1:1",  # never reached: sockets need no Temporal
        "MCOS_LOG_LEVEL": "WARNING",
        "MCOS_EMBEDDED_WORKER": "false",
        "MCOS_HOST": "127.0.0.1",
        "MCOS_PORT": str(port),
        "MCOS_WS_PER_MESSAGE_DEFLATE": "true" if args.deflate else "false",
    }
    api = subprocess.Popen(  # noqa: ASYNC220 - started once, before any socket
        [str(Path(sys.executable).parent / "mcos"), "api"],  # as deployed: its uvicorn options
        cwd=ROOT,
        env=env,
        stdout=(work / "api.log").open("ab"),
        stderr=subprocess.STDOUT,
    )
    bus = RedisBus(server.url)
    try:
        await wait_http(port)
        url = f"ws://127.0.0.1:{port}/api/v1/ws"
        prefix = uuid.uuid4().hex[:6]
        users = [f"bench-{prefix}-{i}" for i in range(args.sockets)]
        tokens = [issue_dev_token(u, settings) for u in users]
        warm = await open_many(
            url, [issue_dev_token(f"warm-{i}", settings) for i in range(50)], args.deflate
        )
        for ws in warm:
            await ws.close()
        await asyncio.sleep(2)
        base = rss_kb(api.pid)
        started = time.monotonic()
        sockets = await open_many(url, tokens, args.deflate)
        opened_s = time.monotonic() - started
        await asyncio.sleep(3)
        loaded = rss_kb(api.pid)
        per_socket = (loaded - base) / args.sockets
        admin = redis.from_url(server.url, decode_responses=True)
        clients = await admin.client_list()
        await admin.aclose()

        async def receive(ws: ClientConnection, expect: int) -> bool:
            while True:
                frame = json.loads(await ws.recv())
                if frame["type"] == "state.updated" and frame["data"].get("n") == expect:
                    return True

        started = time.monotonic()
        waiting = [asyncio.create_task(receive(ws, i)) for i, ws in enumerate(sockets)]
        for i, user in enumerate(users):
            await bus.publish(user, [Frame(type="state.updated", data={"n": i})])
        published_s = time.monotonic() - started
        done, pending = await asyncio.wait(waiting, timeout=120)
        fanout_s = time.monotonic() - started
        got = sum(1 for t in done if not t.exception() and t.result())
        for t in pending:
            t.cancel()
        print(
            f"sockets: {args.sockets} idle on one API process (Redis bus), opened in "
            f"{opened_s:.1f} s; permessage-deflate {'on' if args.deflate else 'off'}"
        )
        print(
            f"API RSS: baseline {base / 1024:.1f} MB, with the sockets {loaded / 1024:.1f} MB "
            f"-> {per_socket:.1f} KB per idle socket (goal <= 64 KB)"
        )
        print(
            f"Redis connections (whole server, bench's own included): {len(clients)}; "
            f"pub/sub readers: {sum(1 for c in clients if int(c.get('sub', 0)) > 0)}"
        )
        print(
            f"fan-out: one frame to each of {args.sockets} users, {got}/{args.sockets} "
            f"received in {fanout_s:.2f} s (publishing took {published_s:.2f} s)"
        )
        for ws in sockets:
            await ws.close()
        if got != args.sockets:
            sys.exit(1)
    finally:
        await bus.close()
        api.terminate()
        api.wait(20)
        server.stop()


if __name__ == "__main__":
    asyncio.run(main())
