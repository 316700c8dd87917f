"""Connecting to Temporal from settings (every entry point uses this)."""

from __future__ import annotations

from typing import Any

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import Runtime
from temporalio.service import TLSConfig

from mcos.infra.correlation import CorrelationInterceptor
from mcos.kernel.settings import Settings


async def connect_client(
    settings: Settings, address: str | None = None, runtime: Runtime | None = None
) -> Client:
    target = address or settings.temporal_address or f"127.0.0.1:{settings.temporal_dev_port}"
    tls: bool | TLSConfig = settings.temporal_tls or bool(settings.temporal_api_key)
    return await Client.connect(
        target,
        namespace=settings.temporal_namespace,
        api_key=settings.temporal_api_key,
        tls=tls,
        data_converter=pydantic_data_converter,
        interceptors=client_interceptors(settings),
        runtime=runtime,
    )


def client_interceptors(settings: Settings) -> list[Any]:
    """Correlation ids in headers, and tracing when enabled; a worker built on the client
    uses them too."""
    from mcos.infra.tracing import temporal_interceptors

    return [CorrelationInterceptor(), *temporal_interceptors(settings)]


def worker_interceptors(client: Client, settings: Settings) -> list[Any]:
    """What a worker needs that its client does not already bring (a test's bare client)."""
    have = {type(i) for i in client.config().get("interceptors", [])}
    return [i for i in client_interceptors(settings) if type(i) not in have]
