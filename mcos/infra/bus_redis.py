"""Redis Streams realtime bus: one bounded stream per user, shared by every process.

Cursors are Redis stream ids. One Lua script makes "skip if the key was seen, else XADD,
then PUBLISH a notice" atomic, so two workers retrying the same publish still append the
frame once.

Built for thousands of sockets per API process: every subscription of a process is fed
by ONE reader (:class:`_Hub`) holding one pub/sub connection, subscribed to one notice
channel per user with a live socket here. A notice carries the new entries (id and
frame), so fan-out costs no extra Redis call. Streams stay the source of truth: after a
reconnect, or when a slow socket overflows its queue, each subscription reads what it
missed from the stream by cursor (``resync`` when that is older than the buffer), so no
socket is ever left silent and no frame is skipped or repeated.

Keys (``<p>`` is the prefix): ``<p>:s:<user>`` the stream, ``<p>:d:<user>`` the dedup
keys (a sorted set scored by time, trimmed to ``DEDUP_TTL_S`` and ``DEDUP_KEYS_KEPT``),
channel ``<p>:n:<user>``. :meth:`RedisBus.forget` deletes them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any, cast

import redis.asyncio as redis
import structlog
from redis.exceptions import RedisError, ResponseError

from mcos.infra.bus import DEDUP_KEYS_KEPT, BusUnavailable, Resync, now_ts
from mcos.infra.redis_client import make_redis
from mcos.kernel.frames import Frame

log = structlog.get_logger(__name__)

_PUBLISH = """
local t = redis.call('TIME')
local now = tonumber(t[1])
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - ttl)
local published = {}
local notice = {}
local n = (#ARGV - 3) / 2
for i = 1, n do
  local key = ARGV[2 + 2 * i]
  local fresh = true
  if key ~= '' then
    if redis.call('ZSCORE', KEYS[2], key) then
      fresh = false
    else
      redis.call('ZADD', KEYS[2], now, key)
    end
  end
  if fresh then
    local body = ARGV[3 + 2 * i]
    local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', tonumber(ARGV[1]), '*', 'f', body)
    table.insert(published, i)
    table.insert(published, id)
    table.insert(notice, {id, body})
  end
end
if redis.call('ZCARD', KEYS[2]) > 0 then
  local extra = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[3])
  if extra > 0 then
    redis.call('ZREMRANGEBYRANK', KEYS[2], 0, extra - 1)
  end
  redis.call('EXPIRE', KEYS[2], ttl)
end
if #notice > 0 then
  redis.call('PUBLISH', KEYS[3], cjson.encode(notice))
end
return published
"""

DEDUP_TTL_S = 3600
QUEUE_FRAMES = 1000  # per subscription; on overflow it reads the rest from the stream
CONNECT_WAIT_S = 3.0  # Redis unreachable for this long: the socket is told to come back
ACK_WAIT_S = 15.0  # connected but busy (a burst of new sockets on a loaded machine)
BACKOFF_S = (0.1, 0.2, 0.5, 1.0, 2.0)


class _RedisSubscription:
    """One socket's view: a bounded queue the hub fills, caught up from the stream when
    the hub reconnected or the queue overflowed."""

    def __init__(self, bus: RedisBus, user_id: str, last: str, backlog: list[Frame]) -> None:
        self._bus = bus
        self.user_id = user_id
        self._last = _id_tuple(last)
        self.last = last
        self._backlog = backlog
        self._queue: asyncio.Queue[Frame] = asyncio.Queue(maxsize=QUEUE_FRAMES)
        self._catch_up = False
        self._closed = False
        self._wakeup = asyncio.Event()

    def offer(self, frame: Frame) -> None:
        try:
            self._queue.put_nowait(frame)
        except asyncio.QueueFull:
            self._catch_up = True
        self._wakeup.set()

    def disrupted(self) -> None:
        """The hub lost notices (reconnected): read the missed frames from the stream."""
        self._catch_up = True
        self._wakeup.set()

    def __aiter__(self) -> AsyncIterator[Frame]:
        return self._iterate()

    def _fresh(self, frame: Frame) -> bool:
        order = _id_tuple(frame.cursor or "0-0")
        if order <= self._last:
            return False
        self._last, self.last = order, frame.cursor or self.last
        return True

    async def _iterate(self) -> AsyncIterator[Frame]:
        for frame in self._backlog:
            if self._fresh(frame):
                yield frame
        self._backlog = []
        while not self._closed:
            while not self._queue.empty():
                frame = self._queue.get_nowait()
                if self._fresh(frame):
                    yield frame
            if self._catch_up:
                self._catch_up = False
                try:
                    missed = await self._bus.replay(self.user_id, self.last)
                except RedisError:
                    self._catch_up = True  # Redis still down: wait for the hub's reconnect
                    await self._bus._hub.wait_connected()
                    continue
                for frame in missed:  # Resync (trimmed past our cursor) propagates
                    if self._fresh(frame):
                        yield frame
                continue
            self._wakeup.clear()
            if self._queue.empty() and not self._catch_up and not self._closed:
                await self._wakeup.wait()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._wakeup.set()
        await self._bus._hub.remove(self)


class _Hub:
    """The process's one Redis reader: one pub/sub connection, one channel per user that
    has a subscription here, notices fanned out to that user's subscriptions."""

    def __init__(self, bus: RedisBus, url: str) -> None:
        self._bus = bus
        self._url = url
        self._subs: dict[str, set[_RedisSubscription]] = {}
        self._acked: dict[str, asyncio.Event] = {}
        self._pubsub: Any = None
        self._client: redis.Redis | None = None
        self._task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._lock = asyncio.Lock()
        self.reconnects = 0

    async def wait_connected(self) -> None:
        self._ensure_task()
        await self._connected.wait()

    def _ensure_task(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="redis-bus-hub")

    async def add(self, sub: _RedisSubscription) -> None:
        """Registers ``sub`` and waits until its channel is subscribed (so no notice
        published from now on is missed); raises :class:`BusUnavailable` when Redis is
        unreachable."""
        self._ensure_task()
        channel = self._bus._channel(sub.user_id)
        subs = self._subs.setdefault(channel, set())
        subs.add(sub)
        acked = self._acked.setdefault(channel, asyncio.Event())
        try:
            async with asyncio.timeout(CONNECT_WAIT_S):
                await self._connected.wait()
            async with asyncio.timeout(ACK_WAIT_S):
                if len(subs) == 1 and not acked.is_set():
                    async with self._lock:
                        await self._pubsub.subscribe(channel)
                await acked.wait()
        except (TimeoutError, RedisError, OSError) as exc:
            await self.remove(sub)
            raise BusUnavailable("the realtime bus (Redis) is unreachable") from exc

    async def remove(self, sub: _RedisSubscription) -> None:
        channel = self._bus._channel(sub.user_id)
        subs = self._subs.get(channel)
        if subs is None:
            return
        subs.discard(sub)
        if subs:
            return
        del self._subs[channel]
        self._acked.pop(channel, None)
        if self._connected.is_set():
            with contextlib.suppress(RedisError, OSError):
                async with self._lock:
                    await self._pubsub.unsubscribe(channel)

    async def _run(self) -> None:
        attempt = 0
        while True:
            try:
                await self._connect()
                attempt = 0
                await self._read()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any bus error: reconnect, never go silent
                self._connected.clear()
                for event in self._acked.values():
                    event.clear()
                log.warning("bus.reader_lost", error=type(exc).__name__, sockets=self.sockets())
                await self._drop()
                await asyncio.sleep(BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)])
                attempt += 1

    async def _connect(self) -> None:
        self._client = make_redis(self._url, socket_timeout=None, decode_responses=True)
        self._pubsub = self._client.pubsub()
        channels = list(self._subs)
        await self._pubsub.ping()
        if channels:
            await self._pubsub.subscribe(*channels)
        self._connected.set()
        if self.reconnects or channels:
            log.info("bus.reader_connected", channels=len(channels), reconnects=self.reconnects)
        self.reconnects += 1
        for subs in list(self._subs.values()):
            for sub in list(subs):
                sub.disrupted()  # catch up on what was published while we were away

    async def _read(self) -> None:
        while True:
            message = await self._pubsub.get_message(timeout=5.0)
            if message is None:
                if not self._subs:
                    await self._pubsub.ping()
                continue
            kind, channel = message["type"], message.get("channel")
            if kind == "subscribe":
                self._acked.setdefault(channel, asyncio.Event()).set()
            elif kind == "message":
                self._deliver(channel, message["data"])

    def _deliver(self, channel: str, data: str) -> None:
        subs = self._subs.get(channel)
        if not subs:
            return
        try:
            entries = json.loads(data)
            frames = [self._bus._decode(i, {"f": body}) for i, body in entries]
        except (ValueError, TypeError):
            log.warning("bus.bad_notice", channel=channel)
            for sub in list(subs):
                sub.disrupted()
            return
        for sub in list(subs):
            for frame in frames:
                sub.offer(frame)

    async def _drop(self) -> None:
        pubsub, client = self._pubsub, self._client
        self._pubsub = self._client = None
        with contextlib.suppress(Exception):
            if pubsub is not None:
                await pubsub.aclose()
        with contextlib.suppress(Exception):
            if client is not None:
                await client.aclose()

    def sockets(self) -> int:
        return sum(len(s) for s in self._subs.values())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self._drop()


class RedisBus:
    def __init__(self, url: str, buffer_frames: int = 2000, prefix: str = "mcos:rt") -> None:
        self._redis = make_redis(url, decode_responses=True)
        self._buffer_frames = buffer_frames
        self._prefix = prefix
        self._script = self._redis.register_script(_PUBLISH)
        self._hub = _Hub(self, url)

    def _key(self, user_id: str) -> str:
        return f"{self._prefix}:s:{user_id}"

    def _dedup_key(self, user_id: str) -> str:
        return f"{self._prefix}:d:{user_id}"

    def _channel(self, user_id: str) -> str:
        return f"{self._prefix}:n:{user_id}"

    def keys_of(self, user_id: str) -> list[str]:
        """The Redis keys holding anything of ``user_id`` (what :meth:`forget` deletes)."""
        return [self._key(user_id), self._dedup_key(user_id)]

    @staticmethod
    def _decode(entry_id: str, fields: dict[str, str]) -> Frame:
        return Frame.model_validate_json(fields["f"]).model_copy(update={"cursor": entry_id})

    async def publish(self, user_id: str, frames: list[Frame]) -> list[Frame]:
        if not frames:
            return []
        ts = now_ts()
        bodies = [frame.model_copy(update={"ts": ts, "key": None}) for frame in frames]
        args: list[str | int] = [self._buffer_frames, DEDUP_TTL_S, DEDUP_KEYS_KEPT]
        for frame, body in zip(frames, bodies, strict=True):
            args += [frame.key or "", body.model_dump_json(exclude_none=True)]
        keys = [self._key(user_id), self._dedup_key(user_id), self._channel(user_id)]
        raw = await self._script(keys=keys, args=args)
        return [
            bodies[int(raw[i]) - 1].model_copy(update={"cursor": raw[i + 1]})
            for i in range(0, len(raw), 2)
        ]

    async def replay(self, user_id: str, after: str | None) -> list[Frame]:
        key = self._key(user_id)
        if after is None:
            return [self._decode(i, f) for i, f in _entries(await self._redis.xrange(key))]
        if not _is_stream_id(after):
            raise Resync(f"unknown cursor {after[:64]!r}")
        try:
            info = await self._redis.xinfo_stream(key)
        except ResponseError:  # no such stream (never written, erased, or Redis lost it)
            if after == "0-0":
                return []
            raise Resync("the stream was erased or lost") from None
        cursor = _id_tuple(after)
        if cursor > _id_tuple(str(info.get("last-generated-id") or "0-0")):
            raise Resync("cursor from the future")
        # Every entry after the cursor must still be there: a cursor before the oldest
        # entry is fine only when nothing was ever trimmed or deleted.
        first = info.get("first-entry")
        added = info.get("entries-added")  # Redis >= 7; before, assume trimmed
        removed = added is None or int(added) > int(info.get("length") or 0)
        if first and cursor < _id_tuple(first[0]) and removed:
            raise Resync("cursor older than the buffer")
        entries = _entries(await self._redis.xrange(key, min=f"({after}"))
        return [self._decode(i, f) for i, f in entries]

    async def subscribe(self, user_id: str, after: str | None = None) -> _RedisSubscription:
        """Live frames after ``after``; :class:`Resync` for a bad or stale cursor,
        :class:`BusUnavailable` when Redis cannot be reached."""
        if after is not None and not _is_stream_id(after):
            raise Resync(f"unknown cursor {after[:64]!r}")
        sub = _RedisSubscription(self, user_id, after or "0-0", [])
        await self._hub.add(sub)  # subscribed before reading: nothing falls in between
        try:
            if after is None:
                last = _entries(await self._redis.xrevrange(self._key(user_id), count=1))
                start = last[0][0] if last else "0-0"
                sub._last, sub.last = _id_tuple(start), start
            else:
                sub._backlog = await self.replay(user_id, after)
        except RedisError as exc:
            await sub.close()
            raise BusUnavailable("the realtime bus (Redis) is unreachable") from exc
        except Resync:
            await sub.close()
            raise
        return sub

    async def forget(self, user_id: str) -> None:
        legacy = f"{self._prefix}:{user_id}"
        await self._redis.delete(*self.keys_of(user_id), legacy)
        pattern = _glob_escape(legacy) + ":k:*"
        async for key in self._redis.scan_iter(match=pattern, count=1000):
            await self._redis.delete(key)  # dedup keys of the earlier one-key-per-frame layout
        channel = self._channel(user_id)
        for sub in list(self._hub._subs.get(channel, ())):
            await sub.close()

    async def close(self) -> None:
        await self._hub.close()
        await self._redis.aclose()


def _entries(raw: Any) -> list[tuple[str, dict[str, str]]]:
    """Stream entries as the client returns them with ``decode_responses=True``."""
    return cast(list[tuple[str, dict[str, str]]], raw or [])


def _is_stream_id(value: str) -> bool:
    parts = value.split("-")
    return (
        len(value) <= 42
        and len(parts) == 2
        and all(p.isdigit() and p.isascii() for p in parts)
        and int(parts[0]) < 2**64
        and int(parts[1]) < 2**64
    )


def _id_tuple(value: str) -> tuple[int, int]:
    a, _, b = value.partition("-")
    return int(a), int(b or 0)


def _glob_escape(value: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in value)
