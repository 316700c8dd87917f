"""The wait helper fails loudly: a condition that never holds is an error, not a return."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.wait import eventually


async def test_returns_the_first_truthy_value_of_a_sync_or_async_check() -> None:
    calls: list[int] = []

    def sync_check() -> list[int] | None:
        calls.append(1)
        return calls if len(calls) >= 3 else None

    assert await eventually(sync_check, timeout=5, interval=0) == [1, 1, 1]

    async def async_check() -> str:
        await asyncio.sleep(0)
        return "ready"

    assert await eventually(async_check, timeout=5) == "ready"


async def test_a_condition_that_never_holds_raises_with_the_last_value() -> None:
    with pytest.raises(AssertionError, match=r"the count: not met within 0.1s \(last: 0\)"):
        await eventually(lambda: 0, timeout=0.1, interval=0.01, what="the count")


async def test_errors_propagate_unless_retried_and_a_retried_error_is_reported() -> None:
    def boom() -> None:
        raise KeyError("x")

    with pytest.raises(KeyError):
        await eventually(boom, timeout=1)
    with pytest.raises(AssertionError, match="last error: KeyError"):
        await eventually(boom, timeout=0.1, interval=0.01, retry_on=(KeyError,))


async def test_a_wake_event_brings_the_next_check_before_the_interval() -> None:
    wake = asyncio.Event()
    box: list[str] = []
    loop = asyncio.get_running_loop()

    def arrive() -> None:
        box.append("frame")
        wake.set()

    loop.call_later(0.05, arrive)
    # a 30 s interval: only the wake-up can make this return within the 5 s timeout
    assert await eventually(lambda: box, timeout=5, interval=30, wake=wake) == ["frame"]
    with pytest.raises(AssertionError, match="not met within 0.1s"):  # never set: still fails
        await eventually(lambda: None, timeout=0.1, interval=30, wake=asyncio.Event())
