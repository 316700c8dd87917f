"""Reminders that fire: one durable timer in the brain, on the dev server and time-skipping."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from mcos.infra.bus import MemoryBus
from mcos.kernel.frames import Frame
from mcos.kernel.settings import Settings
from tests.conftest import Stack, running_worker, user_id
from tests.support.wait import eventually
from tests.workflows.helpers import brain, snapshot, task_event
from workflows.client import make_event

TEST_SERVER = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "temporal-test-server"


async def _frames(bus: MemoryBus, uid: str, kind: str) -> list[Frame]:
    return [f for f in await bus.replay(uid, None) if f.type == kind]


async def _due(bus: MemoryBus, uid: str, count: int = 1) -> list[Frame]:
    async def arrived() -> list[Frame] | None:
        frames = await _frames(bus, uid, "reminder.due")
        return frames if len(frames) >= count else None

    return await eventually(arrived, timeout=30)


async def test_a_reminder_fires_once_at_its_time_without_a_message(stack: Stack) -> None:
    uid = user_id()
    b = brain(stack.client, stack.settings)
    remind_at = datetime.now(UTC) + timedelta(seconds=2)
    created = await b.command(
        uid, "create_task", task_event("Call John", remind_at=remind_at.isoformat())
    )
    [frame] = await _due(stack.bus, uid)
    late = datetime.now(UTC) - remind_at
    assert timedelta(0) <= late < timedelta(seconds=2), late
    assert frame.data["id"] == created.entity_id and frame.data["title"] == "Call John"
    state = await snapshot(stack.client, uid)
    task = state.tasks[created.entity_id]
    assert task.reminded_at is not None and task.reminded_at >= remind_at
    assert state.messages == []  # the user asked for it: no chat message, no LLM call
    await asyncio.sleep(1.5)  # it must not fire a second time
    assert len(await _frames(stack.bus, uid, "reminder.due")) == 1


async def test_snooze_rearms_and_done_cancels(stack: Stack) -> None:
    uid = user_id()
    b = brain(stack.client, stack.settings)
    soon = datetime.now(UTC) + timedelta(seconds=1)
    first = await b.command(uid, "create_task", task_event("Stretch", remind_at=soon.isoformat()))
    later = await b.command(
        uid,
        "create_task",
        task_event("Water plants", remind_at=(soon + timedelta(seconds=2)).isoformat()),
    )
    await _due(stack.bus, uid)
    again = datetime.now(UTC) + timedelta(seconds=1)
    await b.command(
        uid,
        "update_task",
        make_event(
            "task.updated",
            {"id": first.entity_id, "changes": {"remind_at": again.isoformat()}},
            None,
        ),
    )
    await b.command(
        uid,
        "update_task",
        make_event("task.updated", {"id": later.entity_id, "changes": {"status": "done"}}, None),
    )
    frames = await _due(stack.bus, uid, 2)
    assert [f.data["id"] for f in frames] == [first.entity_id, first.entity_id]
    await asyncio.sleep(2.5)  # past the done task's time: it must not fire
    assert len(await _frames(stack.bus, uid, "reminder.due")) == 2


async def test_a_reminder_due_while_no_worker_runs_arrives_once_after(
    settings: Settings, temporal_client: Client
) -> None:
    uid = user_id()
    bus = MemoryBus()
    b = brain(temporal_client, settings)
    remind_at = datetime.now(UTC) + timedelta(seconds=2)
    async with running_worker(settings, temporal_client, bus=bus):
        created = await b.command(
            uid, "create_task", task_event("Passport", remind_at=remind_at.isoformat())
        )
    await asyncio.sleep(3)  # the reminder's time passes while no worker runs
    assert await _frames(bus, uid, "reminder.due") == []
    async with running_worker(settings, temporal_client, bus=bus):
        [frame] = await _due(bus, uid)
        assert frame.data["id"] == created.entity_id
        await asyncio.sleep(1)
        assert len(await _frames(bus, uid, "reminder.due")) == 1


async def test_reminders_survive_continue_as_new(stack: Stack) -> None:
    uid = user_id()
    b = brain(stack.client, stack.settings, chat_replies=False, continue_as_new_events=20)
    remind_at = datetime.now(UTC) + timedelta(seconds=3)
    created = await b.command(
        uid, "create_task", task_event("Dentist", remind_at=remind_at.isoformat())
    )
    for i in range(15):  # several runs go by before the reminder's time
        await b.command(uid, "create_task", task_event(f"filler {i}"))
    [frame] = await _due(stack.bus, uid)
    assert frame.data["id"] == created.entity_id
    diag = await b.diagnostics(uid)
    assert diag is not None and diag.run > 1


async def test_a_reminder_hours_ahead_fires_when_time_skips(tmp_path: Path) -> None:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(TEST_SERVER),
        data_converter=pydantic_data_converter,
    )
    async with env:
        settings = Settings(
            _env_file=None,
            data_dir=tmp_path,
            temporal_task_queue=f"ts-{uuid.uuid4().hex[:8]}",
            offline_token_delay_ms=0,
        )
        bus = MemoryBus()
        uid = user_id()
        b = brain(env.client, settings)
        async with running_worker(settings, env.client, bus=bus):
            now: Any = await env.get_current_time()
            remind_at = now + timedelta(hours=3)
            created = await b.command(
                uid, "create_task", task_event("Take the cake out", remind_at=remind_at.isoformat())
            )
            await env.sleep(timedelta(hours=2))
            assert await _frames(bus, uid, "reminder.due") == []
            await env.sleep(timedelta(hours=1, minutes=1))
            [frame] = await _due(bus, uid)
            assert frame.data["id"] == created.entity_id
