"""Redis clients that survive a Redis restart: stale pooled connections are retried.

Without a retry policy the first command after Redis comes back fails on the pooled
connection the server closed (a 503 for nothing). Every Redis client of the project is
built here: bounded connect time, a few retries with exponential backoff on connection
errors, and periodic health checks of idle connections.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

CONNECT_TIMEOUT_S = 2.0
COMMAND_TIMEOUT_S = 5.0
RETRIES = 3


MAX_CONNECTIONS = 32  # per client: bursts wait for a connection instead of opening hundreds


def make_redis(
    url: str, *, socket_timeout: float | None = COMMAND_TIMEOUT_S, **kw: Any
) -> redis.Redis:
    pool = redis.BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        timeout=CONNECT_TIMEOUT_S + COMMAND_TIMEOUT_S,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        socket_timeout=socket_timeout,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), RETRIES),
        retry_on_error=[RedisConnectionError, RedisTimeoutError, ConnectionResetError, OSError],
        health_check_interval=15,
        **kw,
    )
    return redis.Redis.from_pool(pool)
