"""Determinism: recorded brain histories replay against the current workflow code."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from tests.conftest import Stack, user_id
from tests.workflows.scenario import run_scenario
from workflows.sandbox import workflow_classes, workflow_runner

HISTORIES = Path(__file__).parent / "histories"


async def replay_failures(histories: list[WorkflowHistory]) -> dict[str, str]:
    r = replayer()
    failures = {}
    for i, h in enumerate(histories):
        result = await r.replay_workflow(h, raise_on_replay_failure=False)
        if result.replay_failure is not None:
            failures[f"run {i}"] = repr(result.replay_failure)
            print(f"run {i} of {h.workflow_id}: {result.replay_failure}")  # full text on failure
            (Path(tempfile.gettempdir()) / f"replay-failure-{i}.json").write_text(h.to_json())  # noqa: ASYNC240
    return failures


def replayer() -> Replayer:
    return Replayer(
        workflows=workflow_classes(),
        data_converter=pydantic_data_converter,
        workflow_runner=workflow_runner(),
    )


async def test_fresh_histories_replay_without_nondeterminism(stack: Stack) -> None:
    histories = await run_scenario(stack.client, stack.settings, user_id())
    assert len(histories) >= 2, "the scenario must cross a continue-as-new"
    kinds = {e.WhichOneof("attributes") for h in histories for e in h.events}
    assert "activity_task_scheduled_event_attributes" in kinds  # LLM turns ran
    assert "workflow_execution_update_accepted_event_attributes" in kinds
    failures = await replay_failures(histories)
    assert not failures, failures


async def test_recorded_histories_replay() -> None:
    files = sorted(HISTORIES.rglob("*.json"))  # every recorded version, old ones included
    assert files, "no recorded histories: run `python -m tests.workflows.record_history`"
    histories = [
        WorkflowHistory.from_json(f"user-brain:{f.stem}", json.loads(f.read_text())) for f in files
    ]
    failures = await replay_failures(histories)
    assert not failures, failures
