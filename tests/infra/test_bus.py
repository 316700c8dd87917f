"""Both realtime bus implementations pass the same tests (Redis at 127.0.0.1:6379)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from mcos.infra.bus import MemoryBus, RealtimeBus, Resync, Subscription, cursor_order
from mcos.kernel.frames import Frame
from tests.conftest import REDIS_URL, require_service


@pytest.fixture(params=["memory", "redis"])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[RealtimeBus]:
    if request.param == "memory":
        b: RealtimeBus = MemoryBus(buffer_frames=50)
    else:
        require_service("Redis", "127.0.0.1", 6379)
        from mcos.infra.bus_redis import RedisBus

        b = RedisBus(REDIS_URL, buffer_frames=50, prefix=f"mcos-test:{uuid.uuid4().hex[:8]}")
    yield b
    await b.close()


def frames(n: int, start: int = 0) -> list[Frame]:
    return [Frame(type="llm.token", data={"index": i}) for i in range(start, start + n)]


async def take(sub: Subscription, n: int, timeout: float = 5.0) -> list[Frame]:
    out: list[Frame] = []
    async with asyncio.timeout(timeout):
        async for f in sub:
            out.append(f)
            if len(out) == n:
                return out
    return out


async def test_publish_assigns_increasing_cursors_and_replays_in_order(bus: RealtimeBus) -> None:
    published = await bus.publish("u1", frames(5))
    orders = [cursor_order(f.cursor or "") for f in published]
    assert orders == sorted(orders) and len(set(orders)) == 5
    assert all(f.ts is not None and f.key is None for f in published)
    after_two = await bus.replay("u1", published[1].cursor)
    assert [f.data["index"] for f in after_two] == [2, 3, 4]
    assert [f.cursor for f in after_two] == [f.cursor for f in published[2:]]
    assert await bus.replay("u2", None) == []


async def test_frames_with_a_seen_key_are_published_once(bus: RealtimeBus) -> None:
    first = await bus.publish("u1", [Frame(type="task.created", seq=1, key="seq:1")])
    again = await bus.publish(
        "u1",
        [
            Frame(type="task.created", seq=1, key="seq:1"),
            Frame(type="task.created", seq=2, key="seq:2"),
        ],
    )
    assert len(first) == 1 and [f.seq for f in again] == [2]
    assert [f.seq for f in await bus.replay("u1", None)] == [1, 2]


async def test_subscribe_gets_backlog_then_live_frames_without_gaps(bus: RealtimeBus) -> None:
    published = await bus.publish("u1", frames(3))
    sub = await bus.subscribe("u1", published[0].cursor)
    got = asyncio.create_task(take(sub, 5))
    await asyncio.sleep(0.05)
    await bus.publish("u1", frames(3, start=3))
    result = await got
    await sub.close()
    assert [f.data["index"] for f in result] == [1, 2, 3, 4, 5]


async def test_live_subscription_starts_now(bus: RealtimeBus) -> None:
    await bus.publish("u1", frames(2))
    sub = await bus.subscribe("u1", None)
    got = asyncio.create_task(take(sub, 1))
    await asyncio.sleep(0.05)
    await bus.publish("u1", frames(1, start=7))
    assert [f.data["index"] for f in await got] == [7]
    await sub.close()


async def test_cursor_older_than_the_buffer_asks_for_resync(bus: RealtimeBus) -> None:
    first = await bus.publish("u1", frames(1))
    for _ in range(6):
        await bus.publish("u1", frames(50))
    with pytest.raises(Resync):
        await bus.replay("u1", first[0].cursor)
    with pytest.raises(Resync):
        await bus.replay("u1", "not-a-cursor")


async def test_users_are_isolated_and_forget_erases(bus: RealtimeBus) -> None:
    await bus.publish("alice", frames(2))
    await bus.publish("bob", frames(1))
    assert len(await bus.replay("bob", None)) == 1
    await bus.forget("alice")
    assert await bus.replay("alice", None) == []


async def test_a_slow_subscriber_catches_up_from_the_buffer() -> None:
    bus = MemoryBus(buffer_frames=500, queue_size=10)
    slow = await bus.subscribe("u", None)
    fast = await bus.subscribe("u", None)
    fast_got = asyncio.create_task(take(fast, 100))
    for i in range(100):
        await bus.publish("u", frames(1, start=i))
        await asyncio.sleep(0)
    assert [f.data["index"] for f in await fast_got] == list(range(100))
    # the slow one overflowed its queue of 10 but still sees all 100, in order, once
    assert [f.data["index"] for f in await take(slow, 100)] == list(range(100))
