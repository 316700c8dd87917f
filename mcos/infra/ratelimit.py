"""Sliding-window rate limiting (a log of hit timestamps per key), in memory or in Redis.

Semantics shared by both backends:

- A hit at ``now`` counts the hits in ``(now - window_s, now]``; it is allowed when fewer
  than ``limit`` are there, and only then recorded. A refused hit is *not* recorded, so a
  client hammering while limited does not extend its own ban: it is allowed again as soon
  as its oldest accepted hit leaves the window (at most ``window_s`` after it was limited).
- ``current`` is the count including this hit (``limit + 1`` when refused, as in the 429
  body), ``remaining`` what is left after it, ``reset_at`` the unix second when the oldest
  counted hit leaves the window (a slot frees up), ``retry_after`` the seconds until then
  (0 when allowed, at least 1 when refused).
- Time is unix time (``time.time()``), injectable with ``now`` for tests. The Redis backend
  uses the Redis server clock when ``now`` is None, so API processes with skewed clocks
  still share one timeline.
"""

from __future__ import annotations

import math
import time
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Protocol

import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError

from mcos.infra.circuit import CircuitBreaker
from mcos.infra.redis_client import make_redis
from mcos.kernel.errors import RateLimited, Unavailable
from mcos.kernel.settings import Settings

log = structlog.get_logger(__name__)

DEFAULT_MAX_KEYS = 100_000
DEFAULT_REDIS_PREFIX = "mcos:rl:"


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    limit: int
    current: int
    remaining: int
    reset_at: int  # unix seconds
    retry_after: int  # seconds; 0 when allowed


class RateLimiter(Protocol):
    async def hit(
        self, key: str, limit: int, window_s: float, now: float | None = None
    ) -> RateDecision: ...

    async def forget(self, key: str) -> None:
        """Drops ``key``'s hits (an erased account leaves nothing behind)."""
        ...

    async def aclose(self) -> None: ...


def decide(
    *, allowed: bool, count: int, limit: int, oldest: float, now: float, window_s: float
) -> RateDecision:
    """The decision for a hit, given the in-window ``count`` after it (it included when
    allowed) and the timestamp of the oldest counted hit (``now`` when none)."""
    frees_at = oldest + window_s
    return RateDecision(
        allowed=allowed,
        limit=limit,
        current=count if allowed else count + 1,
        remaining=max(0, limit - count) if allowed else 0,
        reset_at=math.ceil(frees_at),
        retry_after=0 if allowed else max(1, math.ceil(frees_at - now)),
    )


def decision_to_error(decision: RateDecision, limit_type: str) -> RateLimited:
    return RateLimited(
        limit_type=limit_type,
        limit=decision.limit,
        current=decision.current,
        reset_at=decision.reset_at,
        retry_after=decision.retry_after,
    )


def _check_args(limit: int, window_s: float) -> None:
    if limit < 0:
        raise ValueError("limit must be >= 0")
    if window_s <= 0:
        raise ValueError("window_s must be > 0")


class MemoryRateLimiter:
    """One process's limiter. Memory is bounded: per key at most ``limit`` timestamps
    (expired ones pruned on each hit), and at most ``max_keys`` keys, the least recently
    hit evicted first (an evicted key starts afresh: under key pressure the limit errs on
    the side of allowing). No ``await`` inside ``hit``, so it is atomic on the event loop."""

    def __init__(self, max_keys: int = DEFAULT_MAX_KEYS) -> None:
        self._max_keys = max_keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    async def hit(
        self, key: str, limit: int, window_s: float, now: float | None = None
    ) -> RateDecision:
        _check_args(limit, window_s)
        now = time.time() if now is None else now
        hits = self._hits.get(key)
        if hits is None:
            hits = self._hits[key] = deque()
            while len(self._hits) > self._max_keys:
                self._hits.popitem(last=False)
        else:
            self._hits.move_to_end(key)
        cutoff = now - window_s
        while hits and hits[0] <= cutoff:
            hits.popleft()
        allowed = len(hits) < limit
        if allowed:
            hits.append(now)
        return decide(
            allowed=allowed,
            count=len(hits),
            limit=limit,
            oldest=hits[0] if hits else now,
            now=now,
            window_s=window_s,
        )

    def __len__(self) -> int:
        return len(self._hits)

    async def forget(self, key: str) -> None:
        self._hits.pop(key, None)

    async def aclose(self) -> None:
        self._hits.clear()


# Integer milliseconds throughout: Lua 5.1 turns numbers into strings with %.14g, which
# keeps 13-digit epoch milliseconds exact but would round fractional ones.
_HIT_LUA = """
local key = KEYS[1]
local window_ms = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local now_ms
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
else
  now_ms = tonumber(ARGV[1])
end
redis.call('ZREMRANGEBYSCORE', key, '-inf', now_ms - window_ms)
local count = redis.call('ZCARD', key)
local allowed = 0
if count < limit then
  redis.call('ZADD', key, now_ms, now_ms .. '-' .. ARGV[4])
  count = count + 1
  allowed = 1
end
local oldest_ms = now_ms
local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
if first[2] then
  oldest_ms = tonumber(first[2])
end
if count > 0 then
  redis.call('PEXPIRE', key, window_ms)
end
return {allowed, count, oldest_ms, now_ms}
"""


class RedisRateLimiter:
    """Shared by every API process using the same Redis and prefix: one sorted set per key
    (score and member = hit time in ms), updated atomically by one Lua script. Each key
    expires ``window_s`` after its last accepted hit.

    While Redis cannot be reached, hits go to ``fallback`` (a process's own window: chat
    goes on through a Redis outage, each API process admitting up to the limit, so N
    processes admit at most N times it), or allowed when ``fail_open``, or else refused
    with ``Unavailable`` (503). After an error Redis is skipped for ``retry_after_s``, then
    tried again, so an outage does not add Redis's retries to every message."""

    def __init__(
        self,
        redis_url: str,
        prefix: str = DEFAULT_REDIS_PREFIX,
        *,
        fail_open: bool = False,
        fallback: RateLimiter | None = None,
        retry_after_s: float = 1.0,
        client: aioredis.Redis | None = None,
    ) -> None:
        self._redis = client or make_redis(redis_url)
        self._owns_client = client is None
        self._prefix = prefix
        self._fail_open = fail_open
        self._fallback = fallback
        self._circuit = CircuitBreaker(failure_threshold=1, reset_after_s=retry_after_s)
        self._script = self._redis.register_script(_HIT_LUA)

    async def hit(
        self, key: str, limit: int, window_s: float, now: float | None = None
    ) -> RateDecision:
        _check_args(limit, window_s)
        if self._circuit.is_open:
            return await self._redis_down(key, limit, window_s, now, None)
        window_ms = max(1, round(window_s * 1000))
        now_arg = "" if now is None else str(math.floor(now * 1000))
        try:
            allowed, count, oldest_ms, now_ms = await self._script(
                keys=[self._prefix + key],
                args=[now_arg, window_ms, limit, uuid.uuid4().hex],
            )
        except RedisError as exc:
            if self._circuit.failures == 0:
                log.warning(
                    "ratelimit.redis_error",
                    error=type(exc).__name__,
                    fallback="local" if self._fallback else "open" if self._fail_open else None,
                )
            self._circuit.record_failure()
            return await self._redis_down(key, limit, window_s, now, exc)
        if self._circuit.failures:
            log.info("ratelimit.redis_back")
        self._circuit.record_success()
        return decide(
            allowed=bool(allowed),
            count=int(count),
            limit=limit,
            oldest=int(oldest_ms) / 1000,
            now=int(now_ms) / 1000,
            window_s=window_ms / 1000,
        )

    async def _redis_down(
        self, key: str, limit: int, window_s: float, now: float | None, exc: Exception | None
    ) -> RateDecision:
        if self._fallback is not None:
            return await self._fallback.hit(key, limit, window_s, now)
        if not self._fail_open:
            raise Unavailable("rate limiter unavailable") from exc
        t = time.time() if now is None else now
        return RateDecision(True, limit, 0, limit, math.ceil(t + window_s), 0)

    async def forget(self, key: str) -> None:
        await self._redis.delete(self._prefix + key)

    async def aclose(self) -> None:
        if self._owns_client:
            await self._redis.aclose()


def make_rate_limiter(settings: Settings, redis_url: str | None = None) -> RateLimiter:
    """Redis when ``redis_url`` is given or the bus already runs on Redis (several API
    processes must share counts), otherwise in memory (one process)."""
    url = redis_url
    if url is None and settings.bus_url.startswith(("redis://", "rediss://", "unix://")):
        url = settings.bus_url
    if url:
        local = settings.rate_limit_redis_down == "local"
        return RedisRateLimiter(url, fallback=MemoryRateLimiter() if local else None)
    return MemoryRateLimiter()
