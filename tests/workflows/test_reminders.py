"""Reminders that fire: one durable timer in the brain.

On the dev server: a reminder seconds ahead fires on time (real timers). Everything that
needs time to pass, or must show that something does NOT happen later (no second firing,
a cancelled reminder stays silent), runs on the time-skipping test server, where hours go
by in a call and a later command proves the brain saw the skipped time."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from mcos.infra.bus import MemoryBus
from mcos.kernel.frames import Frame
from mcos.kernel.settings import Settings
from tests.conftest import Stack, running_worker, user_id
from tests.support.wait import eventually
from tests.workflows.helpers import brain, snapshot, task_event
from workflows.client import BrainClient, make_event

TEST_SERVER = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "temporal-test-server"


async def _frames(bus: MemoryBus, uid: str, kind: str) -> list[Frame]:
    return [f for f in await bus.replay(uid, None) if f.type == kind]


async def _due(bus: MemoryBus, uid: str, count: int = 1) -> list[Frame]:
    async def arrived() -> list[Frame] | None:
        frames = await _frames(bus, uid, "reminder.due")
        return frames if len(frames) >= count else None

    return await eventually(arrived, timeout=30)


async def test_a_reminder_fires_at_its_time_without_a_message(stack: Stack) -> None:
    uid = user_id()
    b = brain(stack.client, stack.settings)
    remind_at = datetime.now(UTC) + timedelta(seconds=2)
    created = await b.command(
        uid, "create_task", task_event("Call John", remind_at=remind_at.isoformat())
    )
    assert created.entity_id is not None
    [frame] = await _due(stack.bus, uid)
    late = datetime.now(UTC) - remind_at
    assert timedelta(0) <= late < timedelta(seconds=2), late
    assert frame.data["id"] == created.entity_id and frame.data["title"] == "Call John"
    state = await snapshot(stack.client, uid)
    task = state.tasks[created.entity_id]
    assert task.reminded_at is not None and task.reminded_at >= remind_at
    assert state.messages == []  # the user asked for it: no chat message, no LLM call


# --- time-skipping ----------------------------------------------------------------------


@pytest.fixture(scope="module")
async def skipping() -> AsyncIterator[WorkflowEnvironment]:
    """One time-skipping test server for this module; each test has its own task queue and
    user, and time only moves when a test skips it (``env.sleep``)."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(TEST_SERVER),
        data_converter=pydantic_data_converter,
        # the SDK waits 5 s by default; with the whole suite running, starting it took longer
        test_server_startup_timeout=timedelta(seconds=60),
    )
    async with env:
        yield env


def _skipping_settings(tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,
        data_dir=tmp_path,
        temporal_task_queue=f"ts-{uuid.uuid4().hex[:8]}",
        offline_token_delay_ms=0,
    )


async def _barrier(b: BrainClient, uid: str) -> None:
    """A command after a skip: once it is answered, the brain has handled every timer that
    fell due before it (their events precede the update in the history)."""
    await b.command(uid, "create_task", task_event(f"barrier {uuid.uuid4().hex[:6]}"))


async def _skip(env: WorkflowEnvironment, b: BrainClient, uid: str, by: timedelta) -> None:
    await env.sleep(by)
    await _barrier(b, uid)


async def test_a_reminder_hours_ahead_fires_once_when_time_skips(
    skipping: WorkflowEnvironment, tmp_path: Path
) -> None:
    env, settings = skipping, _skipping_settings(tmp_path)
    bus, uid = MemoryBus(), user_id()
    b = brain(env.client, settings)
    async with running_worker(settings, env.client, bus=bus):
        now: Any = await env.get_current_time()
        remind_at = now + timedelta(hours=3)
        created = await b.command(
            uid, "create_task", task_event("Take the cake out", remind_at=remind_at.isoformat())
        )
        assert created.entity_id is not None
        await _skip(env, b, uid, timedelta(hours=2))
        assert await _frames(bus, uid, "reminder.due") == []
        assert (await snapshot(env.client, uid)).tasks[created.entity_id].reminded_at is None
        await _skip(env, b, uid, timedelta(hours=1, minutes=1))
        [frame] = await _due(bus, uid)
        assert frame.data["id"] == created.entity_id
        fired = (await snapshot(env.client, uid)).tasks[created.entity_id].reminded_at
        assert fired is not None and fired >= remind_at
        await _skip(env, b, uid, timedelta(days=2))  # it must not fire a second time
        assert (await snapshot(env.client, uid)).tasks[created.entity_id].reminded_at == fired
        assert len(await _frames(bus, uid, "reminder.due")) == 1


async def test_snooze_rearms_and_done_cancels(
    skipping: WorkflowEnvironment, tmp_path: Path
) -> None:
    env, settings = skipping, _skipping_settings(tmp_path)
    bus, uid = MemoryBus(), user_id()
    b = brain(env.client, settings)
    async with running_worker(settings, env.client, bus=bus):
        now: Any = await env.get_current_time()
        first = await b.command(
            uid,
            "create_task",
            task_event("Stretch", remind_at=(now + timedelta(hours=1)).isoformat()),
        )
        later = await b.command(
            uid,
            "create_task",
            task_event("Water plants", remind_at=(now + timedelta(hours=3)).isoformat()),
        )
        assert later.entity_id is not None
        await _skip(env, b, uid, timedelta(hours=1, minutes=1))
        await _due(bus, uid)
        again: Any = await env.get_current_time() + timedelta(hours=1)
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
            make_event(
                "task.updated", {"id": later.entity_id, "changes": {"status": "done"}}, None
            ),
        )
        await _skip(env, b, uid, timedelta(hours=1, minutes=1))
        frames = await _due(bus, uid, 2)
        assert [f.data["id"] for f in frames] == [first.entity_id, first.entity_id]
        await _skip(env, b, uid, timedelta(days=1))  # past the done task's time: silent
        state = await snapshot(env.client, uid)
        assert state.tasks[later.entity_id].reminded_at is None
        assert len(await _frames(bus, uid, "reminder.due")) == 2


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
        assert created.entity_id is not None
    # the reminder's time passes while no worker runs
    await eventually(lambda: datetime.now(UTC) > remind_at + timedelta(milliseconds=500), 10)
    assert await _frames(bus, uid, "reminder.due") == []
    async with running_worker(settings, temporal_client, bus=bus):
        [frame] = await _due(bus, uid)
        assert frame.data["id"] == created.entity_id
        fired = (await snapshot(temporal_client, uid)).tasks[created.entity_id].reminded_at
        await _barrier(b, uid)  # a later command: a second firing would precede its answer
        assert (await snapshot(temporal_client, uid)).tasks[created.entity_id].reminded_at == fired
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
