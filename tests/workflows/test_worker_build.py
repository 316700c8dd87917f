"""Building the worker: CPython 3.11's import-lock race in the sandbox's validation is
retried once; any other validation failure is not."""

from __future__ import annotations

from typing import Any

import pytest

import worker
from workflows.sandbox import import_lock_race


def import_lock_key_error() -> KeyError:
    """A KeyError raised from a frame of importlib's bootstrap, as the race raises it."""
    try:
        exec(compile("raise KeyError(139628947032960)", "<frozen importlib._bootstrap>", "exec"))
    except KeyError as exc:
        return exc
    raise AssertionError("unreachable")


def validation_error(cause: BaseException) -> RuntimeError:
    try:
        raise RuntimeError("Failed validating workflow UserBrainWorkflow") from cause
    except RuntimeError as exc:
        return exc


def test_only_the_import_lock_key_error_counts_as_the_race() -> None:
    assert import_lock_race(validation_error(import_lock_key_error()))
    try:
        raise KeyError("missing")  # a KeyError in our own code: a real failure
    except KeyError as own:
        assert not import_lock_race(validation_error(own))
    assert not import_lock_race(validation_error(ValueError("bad workflow")))


@pytest.mark.parametrize(("first", "built"), [("race", True), ("other", False)])
def test_build_worker_retries_the_race_once_and_nothing_else(
    monkeypatch: pytest.MonkeyPatch, first: str, built: bool
) -> None:
    calls: list[int] = []

    def fake_worker(*args: Any) -> str:
        calls.append(1)
        if len(calls) == 1:
            cause = import_lock_key_error() if first == "race" else ValueError("bad workflow")
            raise validation_error(cause)
        return "worker"

    monkeypatch.setattr(worker, "_worker", fake_worker)
    if built:
        result: object = worker.build_worker(None, None, None, None, activities=[])  # type: ignore[arg-type]
        assert result == "worker"
        assert len(calls) == 2
    else:
        with pytest.raises(RuntimeError, match="Failed validating"):
            worker.build_worker(None, None, None, None, activities=[])  # type: ignore[arg-type]
        assert len(calls) == 1
