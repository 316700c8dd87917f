"""Per-process application objects, created in the app's lifespan and read by deps."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from temporalio.client import Client

from mcos.infra.auth import TokenVerifier
from mcos.infra.bus import RealtimeBus
from mcos.infra.ratelimit import RateLimiter
from mcos.infra.temporal import api_retry_config, connect_client
from mcos.kernel.errors import Unavailable
from mcos.kernel.settings import Settings
from workflows.client import BrainClient


@dataclass
class AppContext:
    settings: Settings
    bus: RealtimeBus
    engine: Engine
    limiter: RateLimiter
    verifier: TokenVerifier
    client: Client | None = None
    worker_running: bool = False
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    extras: dict[str, Any] = field(default_factory=dict)

    async def temporal(self) -> Client:
        """The Temporal client, connected on first use so the API starts without Temporal."""
        if self.client is not None:
            return self.client
        async with self._lock:
            if self.client is None:
                try:
                    self.client = await connect_client(
                        self.settings, retry_config=api_retry_config(self.settings)
                    )
                except Exception as exc:  # noqa: BLE001 - any connect failure is a 503
                    raise Unavailable("the assistant's engine (Temporal) is unreachable") from exc
        return self.client

    async def brain(self) -> BrainClient:
        return BrainClient(await self.temporal(), self.settings)
