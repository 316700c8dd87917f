"""Choosing the realtime bus from its URL: ``memory`` (one process) or ``redis://…``."""

from __future__ import annotations

from mcos.infra.bus import MemoryBus, RealtimeBus
from mcos.infra.bus_redis import RedisBus


def make_bus(url: str, buffer_frames: int = 2000) -> RealtimeBus:
    if url == "memory":
        return MemoryBus(buffer_frames=buffer_frames)
    return RedisBus(url, buffer_frames=buffer_frames)
