"""The one way tests wait for something: poll a condition until it holds, or fail.

``eventually`` never returns silently on a timeout: it raises ``AssertionError`` with what
it waited for and the last value (or error) seen. Tests do not sleep in place of waiting;
where they must show that something does NOT happen they move time on (a time-skipping
test server) or wait for a later event that proves the earlier one was handled.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 20.0
DEFAULT_INTERVAL_S = 0.05


# A check returns the value waited for, or something falsy (often None) for "not yet": the
# result is the first truthy value, typed without the None.
@overload
async def eventually(
    check: Callable[[], Awaitable[T | None]],
    timeout: float = ...,
    interval: float = ...,
    *,
    what: str | None = ...,
    retry_on: tuple[type[BaseException], ...] = ...,
    wake: asyncio.Event | None = ...,
) -> T: ...
@overload
async def eventually(
    check: Callable[[], T | None],
    timeout: float = ...,
    interval: float = ...,
    *,
    what: str | None = ...,
    retry_on: tuple[type[BaseException], ...] = ...,
    wake: asyncio.Event | None = ...,
) -> T: ...
async def eventually(
    check: Callable[[], Any],
    timeout: float = DEFAULT_TIMEOUT_S,
    interval: float = DEFAULT_INTERVAL_S,
    *,
    what: str | None = None,
    retry_on: tuple[type[BaseException], ...] = (),
    wake: asyncio.Event | None = None,
) -> Any:
    """Call ``check`` (sync or async) until it returns a truthy value, and return that value.

    Raises ``AssertionError`` after ``timeout`` seconds. Exceptions of the types in
    ``retry_on`` count as "not yet" (reported if the wait fails); any other propagates.
    With ``wake``, the next check comes as soon as that event is set (a frame arrived, say),
    ``interval`` at the latest.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: Any = None
    error: BaseException | None = None
    while True:
        try:
            value = check()
            if inspect.isawaitable(value):
                value = await value
            error = None
        except retry_on as exc:
            value, error = None, exc
        if value:
            return value
        last = value
        if loop.time() >= deadline:
            name = what or getattr(check, "__qualname__", repr(check))
            seen = f"last error: {error!r}" if error is not None else f"last: {last!r}"
            raise AssertionError(f"{name}: not met within {timeout}s ({seen})")
        if wake is None:
            await asyncio.sleep(interval)
            continue
        wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), min(interval, deadline - loop.time()))
