"""Redis Streams realtime bus: one bounded stream per user, shared by every process.

Cursors are Redis stream ids. A Lua script makes "skip if the key was seen, else XADD"
atomic, so two workers retrying the same publish still append the frame once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import redis.asyncio as redis

from mcos.infra.bus import Resync, now_ts
from mcos.kernel.frames import Frame

_PUBLISH = """
local published = {}
local n = (#ARGV - 2) / 2
for i = 1, n do
  local key = ARGV[1 + 2 * i]
  local fresh = true
  if key ~= '' then
    fresh = redis.call('SET', KEYS[2] .. key, '1', 'NX', 'EX', tonumber(ARGV[2]))
  end
  if fresh then
    local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', tonumber(ARGV[1]), '*',
                          'f', ARGV[2 + 2 * i])
    table.insert(published, i)
    table.insert(published, id)
  end
end
return published
"""

DEDUP_TTL_S = 3600


class _RedisSubscription:
    def __init__(self, bus: RedisBus, user_id: str, last: str, backlog: list[Frame]) -> None:
        self._bus = bus
        self._user_id = user_id
        self._last = last
        self._backlog = backlog
        self._closed = False

    def __aiter__(self) -> AsyncIterator[Frame]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Frame]:
        for frame in self._backlog:
            self._last = frame.cursor or self._last
            yield frame
        self._backlog = []
        stream = self._bus._key(self._user_id)
        while not self._closed:
            result = await self._bus._redis.xread({stream: self._last}, block=1000, count=500)
            streams = cast(list[tuple[str, Any]], result or [])
            for _name, raw in streams:
                for entry_id, fields in _entries(raw):
                    self._last = entry_id
                    yield self._bus._decode(entry_id, fields)

    async def close(self) -> None:
        self._closed = True


class RedisBus:
    def __init__(self, url: str, buffer_frames: int = 2000, prefix: str = "mcos:rt") -> None:
        self._redis = redis.from_url(url, decode_responses=True)
        self._buffer_frames = buffer_frames
        self._prefix = prefix
        self._script = self._redis.register_script(_PUBLISH)

    def _key(self, user_id: str) -> str:
        return f"{self._prefix}:{user_id}"

    @staticmethod
    def _decode(entry_id: str, fields: dict[str, str]) -> Frame:
        return Frame.model_validate_json(fields["f"]).model_copy(update={"cursor": entry_id})

    async def publish(self, user_id: str, frames: list[Frame]) -> list[Frame]:
        if not frames:
            return []
        ts = now_ts()
        bodies = [frame.model_copy(update={"ts": ts, "key": None}) for frame in frames]
        args: list[str | int] = [self._buffer_frames, DEDUP_TTL_S]
        for frame, body in zip(frames, bodies, strict=True):
            args += [frame.key or "", body.model_dump_json(exclude_none=True)]
        raw = await self._script(keys=[self._key(user_id), f"{self._key(user_id)}:k:"], args=args)
        return [
            bodies[int(raw[i]) - 1].model_copy(update={"cursor": raw[i + 1]})
            for i in range(0, len(raw), 2)
        ]

    async def replay(self, user_id: str, after: str | None) -> list[Frame]:
        key = self._key(user_id)
        if after is None:
            return [self._decode(i, f) for i, f in _entries(await self._redis.xrange(key))]
        if not _is_stream_id(after):
            raise Resync(f"unknown cursor {after!r}")
        first = _entries(await self._redis.xrange(key, count=1))
        last = _entries(await self._redis.xrevrange(key, count=1))
        if last and _id_tuple(after) > _id_tuple(last[0][0]):
            raise Resync("cursor from the future")
        if not last and after != "0-0":
            raise Resync("the stream was trimmed or erased")
        if first and _id_tuple(after) < _id_tuple(first[0][0]):
            raise Resync("cursor older than the buffer")
        entries = _entries(await self._redis.xrange(key, min=f"({after}"))
        return [self._decode(i, f) for i, f in entries]

    async def subscribe(self, user_id: str, after: str | None = None) -> _RedisSubscription:
        if after is None:
            last = _entries(await self._redis.xrevrange(self._key(user_id), count=1))
            return _RedisSubscription(self, user_id, last[0][0] if last else "0-0", [])
        backlog = await self.replay(user_id, after)
        return _RedisSubscription(self, user_id, after, backlog)

    async def forget(self, user_id: str) -> None:
        await self._redis.delete(self._key(user_id))

    async def close(self) -> None:
        await self._redis.aclose()


def _entries(raw: Any) -> list[tuple[str, dict[str, str]]]:
    """Stream entries as the client returns them with ``decode_responses=True``."""
    return cast(list[tuple[str, dict[str, str]]], raw or [])


def _is_stream_id(value: str) -> bool:
    parts = value.split("-")
    return len(parts) == 2 and all(p.isdigit() for p in parts)


def _id_tuple(value: str) -> tuple[int, int]:
    a, b = value.split("-")
    return int(a), int(b)
