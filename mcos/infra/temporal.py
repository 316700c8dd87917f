"""Connecting to Temporal from settings (every entry point uses this)."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable
from typing import Any, NoReturn

import structlog
from temporalio.client import Client, RPCTimeoutOrCancelledError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import Runtime
from temporalio.service import RetryConfig, RPCError, RPCStatusCode, TLSConfig

from mcos.infra.correlation import CorrelationInterceptor
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


log = structlog.get_logger(__name__)


def temporal_target(settings: Settings, address: str | None = None) -> str:
    return address or settings.temporal_address or f"127.0.0.1:{settings.temporal_dev_port}"


async def connect_client(
    settings: Settings,
    address: str | None = None,
    retry_config: RetryConfig | None = None,
    runtime: Runtime | None = None,
) -> Client:
    target = temporal_target(settings, address)
    tls: bool | TLSConfig = settings.temporal_tls or bool(settings.temporal_api_key)
    return await Client.connect(
        target,
        namespace=settings.temporal_namespace,
        api_key=settings.temporal_api_key,
        tls=tls,
        data_converter=pydantic_data_converter,
        retry_config=retry_config,
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


class TemporalUnreachable(RuntimeError):
    """Temporal could not be reached within ``temporal_connect_timeout_s``."""


async def connect_with_retry(
    settings: Settings,
    *,
    timeout_s: float | None = None,
    on_error: Callable[[str], None] | None = None,
    retry_config: RetryConfig | None = None,
    runtime: Runtime | None = None,
) -> Client:
    """Connect, retrying with backoff (0.25 s doubling to 5 s) until ``timeout_s``.

    Every failed attempt is logged with the address and the error; ``on_error(str)`` (if
    given) is told the latest reason, e.g. for ``/ready``. Raises :class:`TemporalUnreachable`.
    """
    target = temporal_target(settings)
    budget = settings.temporal_connect_timeout_s if timeout_s is None else timeout_s
    deadline = time.monotonic() + budget
    delay, attempt = 0.25, 0
    while True:
        attempt += 1
        try:
            client = await connect_client(settings, retry_config=retry_config, runtime=runtime)
            await client.service_client.check_health()
        except Exception as exc:  # noqa: BLE001 - any failure is retried until the deadline
            reason = f"Temporal at {target} unreachable: {str(exc)[:200] or type(exc).__name__}"
            if on_error is not None:
                on_error(reason)
            left = deadline - time.monotonic()
            if left <= 0:
                log.error("temporal unreachable, giving up", address=target, attempts=attempt,
                          waited_s=round(budget, 1), error=str(exc)[:200])  # fmt: skip
                raise TemporalUnreachable(f"{reason} (gave up after {budget:.0f} s)") from exc
            log.warning("temporal not reachable yet, retrying", address=target, attempt=attempt,
                        retry_in_s=round(min(delay, left), 2), error=str(exc)[:200])  # fmt: skip
            await asyncio.sleep(min(delay, left))
            delay = min(delay * 2, 5.0)
            continue
        if attempt > 1:
            log.info("temporal reachable", address=target, attempts=attempt)
        return client


def exit_now(code: int) -> NoReturn:
    """End the process without interpreter finalization, traces and logs flushed first.

    The Temporal SDK's native threads can still reach for Python while it tears down. Seen:
    "Fatal Python error: PyGILState_Release" (exit -6 instead of the command's code), and a
    worker stopped while connecting hanging for ever: its runtime, dropped during
    finalization, waits for a thread that finalization parked."""
    from mcos.infra.logging import flush_logs
    from mcos.infra.tracing import shutdown_tracing

    shutdown_tracing()
    flush_logs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
