"""Load across processes: N users × M turns over two APIs and two workers (a benchmark, not a
timed test; one run prints figures).

    .venv/bin/python bench/load.py [--users 50] [--turns 10] [--token-delay-ms 5]

The processes are those of the fault suite (tests/faults/cluster.py), started the
documented way: a Temporal dev server, a throwaway Redis (the bus) and PostgreSQL, two
`mcos worker` and two `mcos api`. Each user keeps a WebSocket (half on each API) and sends
its turns one after the other over REST, each when the previous reply's
`message.completed` arrived. Afterwards every user's /state and /history must hold exactly
its 2×M messages in order, each reply completed and in full (tests/faults/chat.py).
Prints turns/s and p50/p99 send → final message (`message.completed` on the socket).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.faults.chat import Chatter  # noqa: E402
from tests.faults.cluster import Fleet, Infra  # noqa: E402
from tests.faults.helpers import new_user, text_for  # noqa: E402


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def run(users: int, turns: int, token_delay_ms: float) -> int:
    root = Path(tempfile.mkdtemp(prefix="mcos-load-"))
    infra = Infra(root)
    await infra.start()
    fleet = Fleet(infra, root, "load", MCOS_OFFLINE_TOKEN_DELAY_MS=str(token_delay_ms),
                  MCOS_LIMIT_MESSAGES_PER_MINUTE="600", MCOS_LOG_JSON="false")  # fmt: skip
    chatters: list[Chatter] = []
    try:
        await fleet.start()
        apis = [fleet.api_url("api1"), fleet.api_url("api2")]
        chatters = [Chatter(new_user(f"load{i}"), apis[i % 2 :] + apis[: i % 2])
                    for i in range(users)]  # fmt: skip
        await asyncio.gather(*(c.connect() for c in chatters))

        async def chat(c: Chatter) -> None:
            for i in range(1, turns + 1):
                await c.chat(text_for(c.user_id, i), timeout=300)

        started = time.monotonic()
        await asyncio.gather(*(chat(c) for c in chatters))
        wall = time.monotonic() - started
        checked = 0
        for c in chatters:
            checked += await c.check()
            state = (await c.state())["messages"]
            assert len(state) == 2 * turns, f"{c.user_id}: {len(state)} messages in /state"
        latencies = [t.done_at - t.sent_at for c in chatters for t in c.turns if t.done_at]
        total = users * turns
        print(f"load: {users} users × {turns} turns = {total} turns over 2 APIs + 2 workers "
              f"(offline model, {token_delay_ms:g} ms/token, 159 tokens a reply)")  # fmt: skip
        print(f"  wall {wall:.1f} s, {total / wall:.2f} turns/s")
        print(f"  send → final message: p50 {percentile(latencies, 50):.2f} s, "
              f"p99 {percentile(latencies, 99):.2f} s, max {max(latencies):.2f} s")  # fmt: skip
        print(f"  every user's state: exactly its {2 * turns} messages in order "
              f"({checked} messages checked in /state and /history)")  # fmt: skip
        return 0
    finally:
        await asyncio.gather(*(c.close(http=True) for c in chatters))
        fleet.stop()
        infra.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--token-delay-ms", type=float, default=5.0)
    args = parser.parse_args()
    return asyncio.run(run(args.users, args.turns, args.token_delay_ms))


if __name__ == "__main__":
    raise SystemExit(main())
