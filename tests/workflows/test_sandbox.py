"""The sandbox is on for the brain's logic: a wall-clock read or I/O in turn code, skills or
the brain core is refused inside a workflow, not silently allowed."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from temporalio.client import Client
from temporalio.worker import Worker

from tests.workflows.sandbox_probe import SandboxProbe
from workflows.sandbox import PASSTHROUGH, workflow_runner

# The probe imports these at run time, which the sandbox notes in a warning.
pytestmark = pytest.mark.filterwarnings("ignore:Module .* was imported after initial workflow")

# Modules of the brain that read `datetime` (their `datetime.now` must be the sandbox's).
TURN_CODE = [
    "workflows.turns",
    "mcos.skills.core",
    "mcos.skills.tasks",
    "mcos.skills.flights",
    "mcos.skills.when",
    "mcos.brain.limits",
    "mcos.brain.commands",
    "mcos.brain.eventlog",
    "mcos.brain.reducer",
]


async def test_wall_clock_and_io_in_turn_code_are_refused(temporal_client: Client) -> None:
    queue = f"sandbox-{uuid.uuid4().hex[:8]}"
    async with Worker(
        temporal_client,
        task_queue=queue,
        workflows=[SandboxProbe],
        workflow_runner=workflow_runner(),
    ):
        result = await temporal_client.execute_workflow(
            SandboxProbe.run,
            TURN_CODE,
            id=f"probe-{uuid.uuid4().hex}",
            task_queue=queue,
            execution_timeout=timedelta(seconds=30),
        )
    assert result == {
        **dict.fromkeys(TURN_CODE, "RestrictedWorkflowAccessError"),
        "open": "RestrictedWorkflowAccessError",
    }


async def test_a_passed_through_module_would_not_be_checked(temporal_client: Client) -> None:
    """The control: the same probe on a module that passes through reads the real clock —
    which is why only pure data and third-party modules may pass through."""
    queue = f"sandbox-{uuid.uuid4().hex[:8]}"
    async with Worker(
        temporal_client,
        task_queue=queue,
        workflows=[SandboxProbe],
        workflow_runner=workflow_runner(),
    ):
        result = await temporal_client.execute_workflow(
            SandboxProbe.run,
            ["mcos.kernel.models"],
            id=f"probe-{uuid.uuid4().hex}",
            task_queue=queue,
        )
    assert result["mcos.kernel.models"] == "allowed"


def test_only_pure_data_and_third_party_modules_pass_through() -> None:
    ours = [m for m in PASSTHROUGH if m.split(".")[0] in ("mcos", "workflows", "activities")]
    assert all(m.startswith(("mcos.kernel", "mcos.flights.", "mcos.llm.base")) for m in ours)
    assert not any(t == m or t.startswith(m + ".") for t in TURN_CODE for m in PASSTHROUGH), (
        "turn code must stay sandboxed"
    )
    assert all(reason.strip() for reason in PASSTHROUGH.values()), "say why each passes"
