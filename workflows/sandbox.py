"""The workflow sandbox the worker and every replayer run the workflows in.

Temporal's sandbox re-imports workflow code for each run under restrictions, so a
wall-clock read, randomness or I/O in workflow code is refused at once instead of breaking
replay months later. Only modules that are third-party or hold pure data pass through
(imported once, shared by every run); the brain's logic — turns, skills, the reducer and
the other rules in ``mcos.brain`` — stays inside, checked.
"""

from __future__ import annotations

import traceback

from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from workflows.brain import UserBrainWorkflow
from workflows.calendar import CalendarSyncWorkflow
from workflows.retention import RetentionWorkflow

PASSTHROUGH: dict[str, str] = {
    # third-party
    "pydantic": "models are built once; re-importing pydantic per run is slow",
    "pydantic_core": "pydantic's compiled core",
    "annotated_types": "pydantic's constraint types",
    "typing_extensions": "typing back-ports used by pydantic",
    "uuid_utils": "compiled UUIDv7 helpers (ids are built from workflow.random)",
    "airportsdata": "a static data table",
    "rapidfuzz": "compiled, pure string-distance functions (the skills' typo tolerance)",
    "zoneinfo": "time-zone data (read-only)",
    "opentelemetry": "the tracing interceptor's spans (contrib.opentelemetry)",
    # our pure data
    "mcos.kernel": "the models, contracts, frames, ids and error types: pure data",
    "mcos.flights.airports": "the airport table, loaded once",
    "mcos.flights.errors": "exception classes shared with mcos.flights.models",
    "mcos.flights.models": "pydantic models of a flight request",
    "mcos.llm.base": "pydantic models of an LLM request and its chunks",
}


def workflow_runner() -> SandboxedWorkflowRunner:
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH)
    )


def workflow_classes() -> list[type]:
    return [UserBrainWorkflow, CalendarSyncWorkflow, RetentionWorkflow]


def import_lock_race(err: BaseException) -> bool:
    """Whether validating the workflows in the sandbox failed on CPython 3.11's module-lock
    bookkeeping: a ``KeyError`` raised inside ``importlib._bootstrap`` when imports nest in
    one thread (python/cpython#87712; fixed in 3.12 by python/cpython#94504). Nothing is
    wrong with the workflows then, and building the worker again succeeds."""
    seen: set[int] = set()
    cause: BaseException | None = err
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, KeyError) and any(
            "importlib._bootstrap" in frame.filename
            for frame in traceback.extract_tb(cause.__traceback__)
        ):
            return True
        cause = cause.__cause__ or cause.__context__
    return False
