"""A workflow that tries the wall clock and the file system from inside the sandbox, in the
namespace of each module it is given (used by ``test_sandbox.py``)."""

from __future__ import annotations

import importlib

from temporalio import workflow


@workflow.defn(name="SandboxProbe", sandboxed=True)
class SandboxProbe:
    @workflow.run
    async def run(self, modules: list[str]) -> dict[str, str]:
        """For each module: what its own ``datetime.now()`` does here ("allowed" or the
        error's name); and what ``open()`` does."""
        out: dict[str, str] = {}
        for name in modules:
            clock = getattr(importlib.import_module(name), "datetime", None)
            if clock is None:
                out[name] = "no datetime"
                continue
            try:
                clock.now()
                out[name] = "allowed"
            except Exception as exc:  # noqa: BLE001 - the error's kind is the answer
                out[name] = type(exc).__name__
        try:
            with open(__file__) as f:  # noqa: ASYNC230 - the probe: it must be refused
                f.read(1)
            out["open"] = "allowed"
        except Exception as exc:  # noqa: BLE001
            out["open"] = type(exc).__name__
        return out
