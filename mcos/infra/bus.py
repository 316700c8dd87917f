"""The realtime bus: per-user ordered frame streams with a bounded replay buffer.

Two implementations share this interface: :class:`MemoryBus` (worker and API in one
process) and :class:`mcos.infra.bus_redis.RedisBus` (Redis Streams, separate processes).

Frames are :class:`~mcos.kernel.frames.Frame` models. Publishers may set ``key``: a frame
whose key was already published for that user is dropped, so a retried publishing
activity never shows a client the same frame twice. ``key`` never reaches a client.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol

from mcos.kernel.frames import Frame

DEDUP_KEYS_KEPT = 5000


class Resync(Exception):
    """The requested cursor is older than the buffer: the client must refetch state."""


class BusUnavailable(Exception):
    """The bus cannot be reached (Redis down): the caller answers 503 / closes 1013."""


class Subscription(Protocol):
    def __aiter__(self) -> AsyncIterator[Frame]: ...
    async def close(self) -> None: ...


class RealtimeBus(Protocol):
    async def publish(self, user_id: str, frames: list[Frame]) -> list[Frame]:
        """Append frames (skipping already-seen keys); return them with cursor and ts."""
        ...

    async def replay(self, user_id: str, after: str | None) -> list[Frame]:
        """Frames after ``after`` (all buffered when None); raises :class:`Resync`."""
        ...

    async def subscribe(self, user_id: str, after: str | None = None) -> Subscription:
        """Live frames after ``after`` (or from now when None), buffered ones first."""
        ...

    async def forget(self, user_id: str) -> None:
        """Drop the user's buffer (account erased)."""
        ...

    async def close(self) -> None: ...


def now_ts() -> float:
    return round(time.time(), 3)


@dataclass
class _UserStream:
    next_cursor: int = 1
    buffer: deque[Frame] = field(default_factory=deque)
    keys: OrderedDict[str, None] = field(default_factory=OrderedDict)
    subscribers: set[_MemorySubscription] = field(default_factory=set)


class _MemorySubscription:
    """A bounded queue per connection: a slow client overflows its own queue only.

    On overflow the subscription stops taking live frames and, when drained, replays
    the missed ones from the buffer (or raises :class:`Resync`) — never silently drops.
    """

    def __init__(self, bus: MemoryBus, user_id: str, last: int, maxsize: int) -> None:
        self._bus = bus
        self._user_id = user_id
        self._last = last
        self._queue: asyncio.Queue[Frame] = asyncio.Queue(maxsize=maxsize)
        self._overflowed = False
        self._closed = False
        self._wakeup = asyncio.Event()

    def offer(self, frame: Frame) -> None:
        if self._overflowed:
            return
        try:
            self._queue.put_nowait(frame)
        except asyncio.QueueFull:
            self._overflowed = True
        self._wakeup.set()

    def __aiter__(self) -> AsyncIterator[Frame]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Frame]:
        while not self._closed:
            while not self._queue.empty():
                frame = self._queue.get_nowait()
                if int(frame.cursor or 0) > self._last:
                    self._last = int(frame.cursor or 0)
                    yield frame
            if self._overflowed:
                self._overflowed = False
                for frame in await self._bus.replay(self._user_id, str(self._last)):
                    self._last = int(frame.cursor or 0)
                    yield frame
                continue
            self._wakeup.clear()
            if self._queue.empty() and not self._overflowed:
                await self._wakeup.wait()

    async def close(self) -> None:
        self._closed = True
        self._wakeup.set()
        stream = self._bus._streams.get(self._user_id)
        if stream is not None:
            stream.subscribers.discard(self)


class MemoryBus:
    """In-process bus. Cursors are decimal strings of a per-user counter."""

    def __init__(self, buffer_frames: int = 2000, queue_size: int = 1000) -> None:
        self._streams: dict[str, _UserStream] = {}
        self._buffer_frames = buffer_frames
        self._queue_size = queue_size

    def _stream(self, user_id: str) -> _UserStream:
        return self._streams.setdefault(user_id, _UserStream())

    async def publish(self, user_id: str, frames: list[Frame]) -> list[Frame]:
        stream = self._stream(user_id)
        out: list[Frame] = []
        for frame in frames:
            key = frame.key
            if key is not None:
                if key in stream.keys:
                    continue
                stream.keys[key] = None
                if len(stream.keys) > DEDUP_KEYS_KEPT:
                    stream.keys.popitem(last=False)
            published = frame.model_copy(
                update={"cursor": str(stream.next_cursor), "ts": now_ts(), "key": None}
            )
            stream.next_cursor += 1
            stream.buffer.append(published)
            if len(stream.buffer) > self._buffer_frames:
                stream.buffer.popleft()
            for sub in list(stream.subscribers):
                sub.offer(published)
            out.append(published)
        return out

    async def replay(self, user_id: str, after: str | None) -> list[Frame]:
        stream = self._stream(user_id)
        if after is None:
            return list(stream.buffer)
        try:
            last = int(after)
        except ValueError as exc:
            raise Resync(f"unknown cursor {after!r}") from exc
        if last >= stream.next_cursor:
            raise Resync("cursor from the future (server restarted?)")
        oldest = int(stream.buffer[0].cursor or 0) if stream.buffer else stream.next_cursor
        if last < oldest - 1:
            raise Resync("cursor older than the buffer")
        return [f for f in stream.buffer if int(f.cursor or 0) > last]

    async def subscribe(self, user_id: str, after: str | None = None) -> _MemorySubscription:
        stream = self._stream(user_id)
        backlog = await self.replay(user_id, after) if after is not None else []
        last = int(after) if after is not None else stream.next_cursor - 1
        sub = _MemorySubscription(self, user_id, last, self._queue_size)
        for frame in backlog:
            sub.offer(frame)
        stream.subscribers.add(sub)
        return sub

    async def forget(self, user_id: str) -> None:
        stream = self._streams.pop(user_id, None)
        if stream:
            for sub in list(stream.subscribers):
                await sub.close()

    async def close(self) -> None:
        for user_id in list(self._streams):
            await self.forget(user_id)


def cursor_order(cursor: str) -> tuple[int, int]:
    """A sortable key for either bus's cursors ("42" in memory, "1718-0" in Redis)."""
    head, _, tail = cursor.partition("-")
    return int(head), int(tail or 0)
