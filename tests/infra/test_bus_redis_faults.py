"""The Redis bus against a real, throwaway redis-server that the tests kill and restart."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as redis

from mcos.infra.bus import BusUnavailable, Resync, Subscription
from mcos.infra.bus_redis import RedisBus
from mcos.infra.ratelimit import RedisRateLimiter, make_rate_limiter
from mcos.kernel.errors import Unavailable
from mcos.kernel.frames import Frame
from tests.infra.auth.conftest import make_settings
from tests.support.redis_proc import RedisProcess, throwaway_redis
from tests.support.wait import eventually

pytestmark = pytest.mark.redis


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisProcess]:
    with throwaway_redis(tmp_path / "redis") as s:
        yield s


@pytest.fixture
async def bus(server: RedisProcess) -> AsyncIterator[RedisBus]:
    b = RedisBus(server.url, buffer_frames=100)
    yield b
    await b.close()


def frames(n: int, start: int = 0) -> list[Frame]:
    return [Frame(type="llm.token", data={"index": i}) for i in range(start, start + n)]


async def collect(sub: Subscription, into: list[Frame], errors: list[BaseException]) -> None:
    try:
        async for f in sub:
            into.append(f)
    except BaseException as exc:  # noqa: BLE001
        errors.append(exc)
        raise


async def publish_retrying(bus: RedisBus, user: str, batch: list[Frame]) -> None:
    """What the publish activity does: retry until Redis takes the frames."""
    while True:
        try:
            await bus.publish(user, batch)
            return
        except Exception:  # noqa: BLE001
            await asyncio.sleep(0.1)


async def test_one_reader_connection_serves_hundreds_of_subscriptions(
    bus: RedisBus, server: RedisProcess
) -> None:
    subs = [await bus.subscribe(f"user-{i}") for i in range(300)]
    got: dict[int, list[Frame]] = {i: [] for i in range(300)}
    tasks = [asyncio.create_task(collect(s, got[i], [])) for i, s in enumerate(subs)]
    for i in range(300):
        await bus.publish(f"user-{i}", frames(1, start=i))
    await eventually(lambda: all(len(v) == 1 for v in got.values()), 15, 0.02)
    assert all(v[0].data["index"] == i for i, v in got.items())
    admin = redis.from_url(server.url, decode_responses=True)
    clients = await admin.client_list()
    await admin.aclose()
    # the admin connection, the publishing pool (a connection or two) and ONE reader
    assert len(clients) <= 4, [c.get("cmd") for c in clients]
    assert sum(1 for c in clients if int(c.get("sub", 0)) > 0) == 1
    for t in tasks:
        t.cancel()
    for s in subs:
        await s.close()


@pytest.mark.parametrize("down_s", [3.0])
async def test_redis_killed_mid_stream_subscription_resumes_without_gap_or_duplicate(
    bus: RedisBus, server: RedisProcess, down_s: float
) -> None:
    sub = await bus.subscribe("u")
    got: list[Frame] = []
    errors: list[BaseException] = []
    reader = asyncio.create_task(collect(sub, got, errors))
    await bus.publish("u", frames(5))
    await eventually(lambda: len(got) == 5, 15, 0.02)
    server.kill()
    # frames "published" during the outage wait in the publisher's retry, as in the outbox
    during = asyncio.create_task(publish_retrying(bus, "u", frames(5, start=5)))
    await asyncio.sleep(down_s)  # the outage itself
    server.start()
    await during
    await bus.publish("u", frames(5, start=10))
    await eventually(lambda: len(got) == 15 or bool(errors), 15, 0.02)
    assert not errors
    assert [f.data["index"] for f in got] == list(range(15))
    assert bus._hub.reconnects >= 2
    reader.cancel()
    await sub.close()


async def test_redis_back_empty_the_subscriber_streams_again(tmp_path: Path) -> None:
    with throwaway_redis(tmp_path / "r", persist=False) as server:
        bus = RedisBus(server.url)
        sub = await bus.subscribe("u")
        got: list[Frame] = []
        errors: list[BaseException] = []
        reader = asyncio.create_task(collect(sub, got, errors))
        await bus.publish("u", frames(2))
        await eventually(lambda: len(got) == 2, 15, 0.02)
        server.kill()
        server.start()  # all buffers lost
        await publish_retrying(bus, "u", frames(1, start=2))
        await eventually(lambda: len(got) == 3 or bool(errors), 15, 0.02)
        assert [f.data["index"] for f in got] == [0, 1, 2] and not errors
        reader.cancel()
        await sub.close()
        await bus.close()


async def test_a_subscriber_that_fell_behind_the_buffer_is_asked_to_resync(
    server: RedisProcess,
) -> None:
    bus = RedisBus(server.url, buffer_frames=100)
    sub = await bus.subscribe("u")
    for i in range(0, 1500, 100):  # nobody reads: the queue (1000) overflows, Redis trims
        await bus.publish("u", frames(100, start=i))
    got: list[Frame] = []
    errors: list[BaseException] = []
    with pytest.raises(Resync):
        await collect(sub, got, errors)
    assert [f.data["index"] for f in got] == list(range(1000))  # what was queued, in order
    await sub.close()
    await bus.close()


async def test_subscribing_while_redis_is_down_fails_fast_and_clearly(
    bus: RedisBus, server: RedisProcess
) -> None:
    server.kill()
    started = time.monotonic()
    with pytest.raises(BusUnavailable):
        await bus.subscribe("u")
    assert time.monotonic() - started < 5
    server.start()
    sub = await bus.subscribe("u")  # and works again once Redis is back
    await sub.close()


@pytest.mark.parametrize(
    "cursor",
    ["99999999999999999999999999-0", "18446744073709551616-0", "abc", "1-2-3", "-1", ""],
)
async def test_bad_cursors_ask_for_resync_never_a_redis_error(bus: RedisBus, cursor: str) -> None:
    await bus.publish("u", frames(3))
    with pytest.raises(Resync):
        await bus.subscribe("u", cursor)
    with pytest.raises(Resync):
        await bus.replay("u", cursor)


async def test_rate_limiter_recovers_its_connection_after_a_restart(
    server: RedisProcess,
) -> None:
    limiter = RedisRateLimiter(server.url)
    assert (await limiter.hit("k", 10, 60)).allowed
    server.kill()
    server.start()
    # the pooled connection is stale: the first hit after the restart must still pass
    assert (await limiter.hit("k", 10, 60)).allowed
    await limiter.aclose()


async def test_rate_limits_go_on_locally_while_redis_is_down(server: RedisProcess) -> None:
    """The default (``rate_limit_redis_down=local``): while Redis is down this process
    counts its own window (chat goes on, still limited), skipping Redis for a second after
    each error; once back, Redis counts again. ``refuse``: 503."""
    settings = make_settings(rate_limit_redis_down="local")
    limiter = make_rate_limiter(settings, server.url)
    refusing = make_rate_limiter(make_settings(rate_limit_redis_down="refuse"), server.url)
    assert isinstance(limiter, RedisRateLimiter) and isinstance(refusing, RedisRateLimiter)
    assert (await limiter.hit("k", 3, 60)).current == 1  # in Redis
    server.kill()
    started = time.monotonic()
    local = [await limiter.hit("k", 3, 60) for _ in range(4)]
    took = time.monotonic() - started
    assert [d.allowed for d in local] == [True, True, True, False]  # its own window of 3
    assert took < 2.0, took  # one failed Redis call, then Redis skipped
    with pytest.raises(Unavailable):
        await refusing.hit("k", 3, 60)
    server.start()
    # the skip period (1 s) over, the next hit tries Redis again
    await eventually(lambda: not limiter._circuit.is_open, 5, 0.02)
    assert (await limiter.hit("k", 3, 60)).current == 2  # Redis's count: the hit before
    await limiter.aclose()
    await refusing.aclose()


async def test_forget_deletes_stream_and_dedup_keys(bus: RedisBus, server: RedisProcess) -> None:
    await bus.publish("gone", [Frame(type="task.created", seq=1, key="seq:1")])
    await bus.publish("kept", [Frame(type="task.created", seq=1, key="seq:1")])
    admin = redis.from_url(server.url, decode_responses=True)
    await admin.set("mcos:rt:gone:k:seq:9", "1")  # the earlier layout's dedup keys
    await admin.set("mcos:rt:gone", "x")
    await bus.forget("gone")
    left = sorted(await admin.keys("*gone*"))
    assert left == [], left
    assert sorted(await admin.keys("*kept*")) == sorted(bus.keys_of("kept"))
    await admin.aclose()
    # a fresh brain's first frames (same seq, same keys) are published again
    again = await bus.publish("gone", [Frame(type="task.created", seq=1, key="seq:1")])
    assert len(again) == 1
