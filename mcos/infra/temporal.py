"""Connecting to Temporal from settings (every entry point uses this)."""

from __future__ import annotations

from temporalio.client import Client, RPCTimeoutOrCancelledError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RetryConfig, RPCError, RPCStatusCode, TLSConfig

from mcos.kernel.settings import Settings

# What a dependency outage looks like from the client: answered 503, never 500.
TRANSIENT = frozenset(
    {
        RPCStatusCode.UNAVAILABLE,
        RPCStatusCode.DEADLINE_EXCEEDED,
        RPCStatusCode.CANCELLED,
        RPCStatusCode.RESOURCE_EXHAUSTED,
        RPCStatusCode.ABORTED,
    }
)


def is_outage(exc: BaseException) -> bool:
    """Temporal is unreachable, overloaded or too slow (not a refusal of the request)."""
    if isinstance(exc, RPCTimeoutOrCancelledError):
        return True
    return isinstance(exc, RPCError) and exc.status in TRANSIENT


def api_retry_config(settings: Settings) -> RetryConfig:
    """The API's retries of an unreachable server: about a second, then a quick 503
    (the default, ten retries over ~10 s, answered 500 after 6-9 s)."""
    return RetryConfig(
        initial_interval_millis=100,
        multiplier=2.0,
        max_interval_millis=500,
        max_elapsed_time_millis=settings.temporal_api_retry_ms,
        max_retries=3,
    )


async def connect_client(
    settings: Settings, address: str | None = None, retry_config: RetryConfig | None = None
) -> Client:
    target = address or settings.temporal_address or f"127.0.0.1:{settings.temporal_dev_port}"
    tls: bool | TLSConfig = settings.temporal_tls or bool(settings.temporal_api_key)
    return await Client.connect(
        target,
        namespace=settings.temporal_namespace,
        api_key=settings.temporal_api_key,
        tls=tls,
        data_converter=pydantic_data_converter,
        retry_config=retry_config,
    )
