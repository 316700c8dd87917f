"""Determinism: recorded brain histories replay against the current workflow code, through
the ``mcos replay`` command CI runs (``workflows.replay`` underneath)."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from temporalio.client import WorkflowHistory

from tests.cli.helpers import mcos
from tests.conftest import Stack, user_id
from tests.workflows.scenario import run_scenario
from workflows.replay import replay_histories

HISTORIES = Path(__file__).parent / "histories"


async def replay_failures(histories: list[WorkflowHistory]) -> dict[str, str]:
    failures = {}
    replayed = 0
    async for outcome in replay_histories(histories):
        replayed += 1
        if not outcome.ok:
            failures[f"run {outcome.run_id}"] = f"event {outcome.event_id}: {outcome.error}"
    if failures:
        for n, h in enumerate(histories):  # kept to look at by hand
            (Path(tempfile.gettempdir()) / f"replay-failure-{n}.json").write_text(h.to_json())  # noqa: ASYNC240
    assert replayed == len(histories), "some histories were not replayed"
    return failures


async def test_fresh_histories_replay_without_nondeterminism(stack: Stack) -> None:
    histories = await run_scenario(stack.client, stack.settings, user_id())
    assert len(histories) >= 2, "the scenario must cross a continue-as-new"
    kinds = {e.WhichOneof("attributes") for h in histories for e in h.events}
    assert "activity_task_scheduled_event_attributes" in kinds  # LLM turns ran
    assert "workflow_execution_update_accepted_event_attributes" in kinds
    failures = await replay_failures(histories)
    assert not failures, failures


async def test_recorded_histories_replay_through_mcos_replay() -> None:
    files = sorted(HISTORIES.rglob("*.json"))  # every recorded version, old ones included
    assert files, "no recorded histories: run `python -m tests.workflows.record_history`"
    assert {f.parent.name for f in files} >= {"v1", "v2", "v3", "v4", "v5", "v6", "v7"}
    ran = await mcos("replay", "--file", str(HISTORIES), timeout=300)
    assert ran.rc == 0, ran.out + ran.err
    n = len(files)
    assert re.search(
        rf"replayed {n} run\(s\) of \d+ workflow\(s\), \d+ events: {n} ok, 0 ", ran.out
    )
