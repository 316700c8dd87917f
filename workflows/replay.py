"""Replaying recorded histories against the current workflow code (``mcos replay``, CI).

The replayer uses exactly what the worker uses: the pydantic data converter, the sandbox
runner and the workflow classes. A history whose recorded commands no longer match what the
code does now (a reordered activity, a renamed activity type, a missing ``workflow.patched``
guard) fails with a nondeterminism error; :class:`ReplayOutcome` keeps the workflow id, the
run id, the event id the error names and the SDK's own words about what differed.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import Runtime, TelemetryConfig
from temporalio.worker import Replayer

from mcos.kernel.contracts import brain_workflow_id
from workflows.sandbox import workflow_classes, workflow_runner

BRAIN_PREFIX = brain_workflow_id("")
# Core's nondeterminism messages name the event as "HistoryEvent(id: 11, …)" or "event 11"
# / "event_id 11"; the first one found is reported.
_EVENT_ID = re.compile(r"(?:HistoryEvent\(id: |event[ _]id[:= ]+|event )(\d+)", re.IGNORECASE)


@dataclass
class ReplayOutcome:
    workflow_id: str
    run_id: str | None
    events: int
    error: str | None = None  # the SDK's message when the replay failed
    event_id: int | None = None  # the history event the failure names, when it names one

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def user_id(self) -> str | None:
        wid = self.workflow_id
        return wid[len(BRAIN_PREFIX) :] if wid.startswith(BRAIN_PREFIX) else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "workflow_id": self.workflow_id,
            "user_id": self.user_id,
            "run_id": self.run_id,
            "events": self.events,
            "ok": self.ok,
            "event_id": self.event_id,
            "error": self.error,
        }


_QUIET: Runtime | None = None


def _quiet_runtime() -> Runtime:
    """A runtime without core's console log: the failure is reported once, by us."""
    global _QUIET
    if _QUIET is None:
        _QUIET = Runtime(telemetry=TelemetryConfig(logging=None))
    return _QUIET


def replayer() -> Replayer:
    return Replayer(
        workflows=workflow_classes(),
        data_converter=pydantic_data_converter,
        workflow_runner=workflow_runner(),
        runtime=_quiet_runtime(),
        # no deadlock timer: on a busy machine the sandbox's first imports can take over
        # its 2 s, and a replay checks determinism, not speed
        debug_mode=True,
    )


def _run_id(history: WorkflowHistory) -> str | None:
    """The run id recorded in the history's first event (exported files keep it)."""
    if not history.events:
        return None
    started = history.events[0].workflow_execution_started_event_attributes
    return started.original_execution_run_id or started.first_execution_run_id or None


_INNER = re.compile(r'message: "(.*?)", source:')
_QUOTED = re.compile(r"'([^']+)'")


def _event_values(event: Any) -> set[str]:
    """The names and ids a nondeterminism message may quote for this event."""
    kind = event.WhichOneof("attributes")
    if kind is None:
        return set()
    attrs = getattr(event, kind)
    values: set[str] = set()
    for field in ("activity_id", "timer_id", "marker_name", "workflow_id", "signal_name"):
        if hasattr(attrs, field) and getattr(attrs, field):
            values.add(str(getattr(attrs, field)))
    for field in ("activity_type", "workflow_type"):
        if attrs.HasField(field) if hasattr(attrs, field) else False:
            values.add(getattr(attrs, field).name)
    return values


def failure_event(history: WorkflowHistory, message: str) -> int | None:
    """The history event a nondeterminism message is about: the id it names, else the first
    command event carrying the value it quotes from the history ("scheduled event 'x'")."""
    match = _EVENT_ID.search(message)
    if match:
        return int(match.group(1))
    quoted = _QUOTED.findall(message)
    if not quoted:
        return None
    for event in history.events:
        if quoted[0] in _event_values(event):
            return int(event.event_id)
    return None


def _message(err: BaseException) -> str:
    text = str(err) or type(err).__name__
    inner = _INNER.search(text)  # core wraps the reason in a Rust debug dump
    if inner:
        return inner.group(1)
    cause = err.__cause__
    while cause is not None:
        text += f" (caused by: {cause})"
        cause = cause.__cause__
    return text


async def replay_histories(
    histories: AsyncIterator[WorkflowHistory] | Iterable[WorkflowHistory],
) -> AsyncIterator[ReplayOutcome]:
    """Each history's outcome as it is replayed (one replay worker for them all)."""

    async def as_async() -> AsyncIterator[WorkflowHistory]:
        if hasattr(histories, "__aiter__"):
            async for h in histories:
                yield h
        else:
            for h in histories:
                yield h

    async with replayer().workflow_replay_iterator(as_async()) as results:
        async for result in results:
            h = result.history
            failure = result.replay_failure
            message = _message(failure) if failure is not None else None
            yield ReplayOutcome(
                workflow_id=h.workflow_id,
                run_id=_run_id(h),
                events=len(h.events),
                error=message,
                event_id=failure_event(h, message) if message else None,
            )


def history_from_file(path: Path) -> WorkflowHistory:
    """A history exported by ``temporal workflow show --output json`` or
    ``WorkflowHistory.to_json()``; the workflow id is the file's stem unless the first event
    says otherwise (a brain's file is named ``user-brain:<user>.json`` or ``<user>.json``)."""
    data = json.loads(path.read_text())
    stem = path.stem
    workflow_id = stem if stem.startswith(BRAIN_PREFIX) else brain_workflow_id(stem)
    return WorkflowHistory.from_json(workflow_id, data)


def user_query(users: Iterable[str]) -> str:
    """A visibility query for every run (closed ones too) of these users' brains."""
    ids = [brain_workflow_id(u) for u in users]
    return " OR ".join(f'WorkflowId = "{_quoted(i)}"' for i in ids)


def all_query() -> str:
    names = [getattr(c, "__temporal_workflow_definition").name for c in workflow_classes()]
    return " OR ".join(f'WorkflowType = "{n}"' for n in names)


def _quoted(value: str) -> str:
    if '"' in value or "\\" in value:
        raise ValueError(f"not a valid user id: {value!r}")
    return value


async def fetch_histories(client: Client, query: str) -> AsyncIterator[WorkflowHistory]:
    """The histories of every workflow execution (every run) the visibility query lists."""
    async for execution in client.list_workflows(query):
        handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
        yield await handle.fetch_history()


async def count(client: Client, query: str) -> int:
    return (await client.count_workflows(query)).count
