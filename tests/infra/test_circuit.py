"""The circuit breaker: opens after N failures in a row, half-opens after the cool-down."""

from __future__ import annotations

from mcos.infra.circuit import CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_opens_after_threshold_failures_in_a_row() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=3, reset_after_s=30, clock=clock)
    breaker.record_failure()
    breaker.record_failure()
    assert not breaker.is_open
    breaker.record_failure()
    assert breaker.is_open
    clock.t += 29.9
    assert breaker.is_open


def test_a_success_resets_the_count() -> None:
    breaker = CircuitBreaker(failure_threshold=3, reset_after_s=30, clock=Clock())
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    breaker.record_failure()
    assert not breaker.is_open


def test_half_open_after_cool_down_then_closes_on_success_or_reopens_on_failure() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=2, reset_after_s=30, clock=clock)
    breaker.record_failure()
    breaker.record_failure()
    clock.t += 30
    assert not breaker.is_open  # one trial call may go through
    breaker.record_failure()  # the trial failed: open again for a full cool-down
    assert breaker.is_open
    clock.t += 30
    breaker.record_success()
    assert not breaker.is_open and breaker.failures == 0
