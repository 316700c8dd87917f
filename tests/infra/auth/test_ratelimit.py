from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from mcos.infra.ratelimit import (
    MemoryRateLimiter,
    RateDecision,
    RateLimiter,
    RedisRateLimiter,
    decision_to_error,
    make_rate_limiter,
)
from mcos.kernel.errors import Unavailable
from tests.infra.auth.conftest import make_settings

REDIS_URL = os.environ.get("MCOS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
T0 = 1_700_000_000.0
WINDOW = 60.0
LIMIT = 60


async def _open_redis_prefix() -> tuple[aioredis.Redis, str]:
    """A client and a unique key prefix for one test. Skips when Redis is unreachable,
    except on CI where that is a failure."""
    client = aioredis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        await client.aclose()
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis unreachable at {REDIS_URL} on CI: {exc}")
        pytest.skip(f"Redis unreachable at {REDIS_URL}")
    return client, f"mcos-test:rl:{uuid.uuid4().hex}:"


async def _close_redis_prefix(client: aioredis.Redis, prefix: str) -> None:
    keys = [k async for k in client.scan_iter(match=prefix + "*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    client, prefix = await _open_redis_prefix()
    yield prefix
    await _close_redis_prefix(client, prefix)


Factory = Callable[[], RateLimiter]


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def make_limiter(request: pytest.FixtureRequest) -> AsyncIterator[Factory]:
    """Builds limiters sharing one store: one memory limiter, or Redis limiters (like
    several API processes) on one prefix."""
    if request.param == "memory":
        shared = MemoryRateLimiter()
        yield lambda: shared
        return
    client, prefix = await _open_redis_prefix()
    made: list[RedisRateLimiter] = []

    def factory() -> RateLimiter:
        made.append(RedisRateLimiter(REDIS_URL, prefix=prefix))
        return made[-1]

    yield factory
    for limiter in made:
        await limiter.aclose()
    await _close_redis_prefix(client, prefix)


async def test_sixty_allowed_then_refused(make_limiter: Factory) -> None:
    limiter = make_limiter()
    for i in range(LIMIT):
        d = await limiter.hit("user_1", LIMIT, WINDOW, now=T0 + i * 0.5)
        assert d == RateDecision(True, LIMIT, i + 1, LIMIT - i - 1, int(T0 + WINDOW), 0)
    refused = await limiter.hit("user_1", LIMIT, WINDOW, now=T0 + 30.0)
    assert refused == RateDecision(
        allowed=False, limit=60, current=61, remaining=0, reset_at=int(T0) + 60, retry_after=30
    )
    err = decision_to_error(refused, "messages_per_minute")
    assert err.details == {
        "limit_type": "messages_per_minute",
        "limit": 60,
        "current": 61,
        "reset_at": int(T0) + 60,
        "retry_after": 30,
    }
    assert err.headers()["X-RateLimit-Remaining"] == "0"
    assert err.headers()["Retry-After"] == "30"
    # other keys are independent
    assert (await limiter.hit("user_2", LIMIT, WINDOW, now=T0 + 30.0)).allowed


async def test_window_slides_and_refusals_do_not_extend_the_ban(make_limiter: Factory) -> None:
    limiter = make_limiter()
    for i in range(LIMIT):  # hits at T0, T0+0.5, ..., T0+29.5
        assert (await limiter.hit("k", LIMIT, WINDOW, now=T0 + i * 0.5)).allowed
    for j in range(200):  # hammering while limited is not counted
        assert not (await limiter.hit("k", LIMIT, WINDOW, now=T0 + 30 + j * 0.1)).allowed
    # the hit at T0 leaves the window at T0+60 exactly: one slot frees
    d = await limiter.hit("k", LIMIT, WINDOW, now=T0 + 60.0)
    assert (d.allowed, d.current, d.remaining, d.reset_at) == (True, 60, 0, int(T0) + 61)
    d = await limiter.hit("k", LIMIT, WINDOW, now=T0 + 60.2)
    assert (d.allowed, d.current, d.retry_after, d.reset_at) == (False, 61, 1, int(T0) + 61)
    assert (await limiter.hit("k", LIMIT, WINDOW, now=T0 + 60.5)).allowed
    # a whole window later everything has expired
    d = await limiter.hit("k", LIMIT, WINDOW, now=T0 + 200.0)
    assert (d.allowed, d.current, d.remaining) == (True, 1, LIMIT - 1)


async def test_instances_share_one_count(make_limiter: Factory) -> None:
    """Two limiter objects (two API processes with Redis) count together."""
    a, b = make_limiter(), make_limiter()
    for i in range(5):
        assert (await (a if i % 2 else b).hit("shared", 5, WINDOW, now=T0 + i)).allowed
    d = await a.hit("shared", 5, WINDOW, now=T0 + 5)
    assert (d.allowed, d.current) == (False, 6)
    d = await b.hit("shared", 5, WINDOW, now=T0 + 5)
    assert (d.allowed, d.current) == (False, 6)


async def test_real_clock_and_zero_limit(make_limiter: Factory) -> None:
    limiter = make_limiter()
    first = await limiter.hit("clock", 2, 10.0)
    assert first.allowed and first.remaining == 1 and first.retry_after == 0
    assert (await limiter.hit("clock", 2, 10.0)).allowed
    refused = await limiter.hit("clock", 2, 10.0)
    assert not refused.allowed and 1 <= refused.retry_after <= 10
    assert 0 <= refused.reset_at - first.reset_at <= 1
    zero = await limiter.hit("zero", 0, 10.0, now=T0)
    assert (zero.allowed, zero.retry_after, zero.reset_at) == (False, 10, int(T0) + 10)


async def test_invalid_arguments(make_limiter: Factory) -> None:
    limiter = make_limiter()
    with pytest.raises(ValueError):
        await limiter.hit("k", -1, 10.0)
    with pytest.raises(ValueError):
        await limiter.hit("k", 1, 0)


async def test_memory_limiter_bounded() -> None:
    limiter = MemoryRateLimiter(max_keys=100)
    for i in range(1000):
        await limiter.hit(f"user_{i}", 3, WINDOW, now=T0)
    assert len(limiter) == 100
    for _ in range(10):  # per key: never more timestamps than the limit
        await limiter.hit("hot", 3, WINDOW, now=T0)
    assert len(limiter._hits["hot"]) == 3
    await limiter.hit("hot", 3, WINDOW, now=T0 + WINDOW)  # expired ones pruned
    assert list(limiter._hits["hot"]) == [T0 + WINDOW]


@pytest.mark.redis
async def test_redis_keys_expire_and_use_prefix(redis_prefix: str) -> None:
    limiter = RedisRateLimiter(REDIS_URL, prefix=redis_prefix)
    await limiter.hit("ttl", 5, 30.0)
    client = aioredis.from_url(REDIS_URL)
    try:
        ttl_ms = await client.pttl(redis_prefix + "ttl")
        assert 0 < ttl_ms <= 30_000
        assert await client.zcard(redis_prefix + "ttl") == 1
    finally:
        await client.aclose()
        await limiter.aclose()


async def test_redis_down_is_unavailable_or_fail_open() -> None:
    down = "redis://127.0.0.1:1/0"
    limiter = RedisRateLimiter(down)
    with pytest.raises(Unavailable):
        await limiter.hit("k", 5, 10.0, now=T0)
    await limiter.aclose()
    lenient = RedisRateLimiter(down, fail_open=True)
    assert (await lenient.hit("k", 5, 10.0, now=T0)).allowed
    await lenient.aclose()


async def test_make_rate_limiter() -> None:
    assert isinstance(make_rate_limiter(make_settings()), MemoryRateLimiter)
    explicit = make_rate_limiter(make_settings(), redis_url=REDIS_URL)
    via_bus = make_rate_limiter(make_settings(bus_url=REDIS_URL))
    assert isinstance(explicit, RedisRateLimiter) and isinstance(via_bus, RedisRateLimiter)
    await explicit.aclose()
    await via_bus.aclose()
