"""Connecting to Temporal from settings (every entry point uses this)."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import TLSConfig

from mcos.kernel.settings import Settings


async def connect_client(settings: Settings, address: str | None = None) -> Client:
    target = address or settings.temporal_address or f"127.0.0.1:{settings.temporal_dev_port}"
    tls: bool | TLSConfig = settings.temporal_tls or bool(settings.temporal_api_key)
    return await Client.connect(
        target,
        namespace=settings.temporal_namespace,
        api_key=settings.temporal_api_key,
        tls=tls,
        data_converter=pydantic_data_converter,
    )
