"""The brain on a real Temporal dev server: idempotency, validators, queries."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from mcos.kernel.errors import NotFoundError, RateLimited, ValidationFailed
from tests.conftest import Stack, user_id
from tests.support.wait import eventually
from tests.workflows.helpers import (
    brain,
    history_event_types,
    settled_history,
    snapshot,
    task_event,
    user_message,
)
from workflows.client import make_event


async def test_same_event_twice_changes_state_once(stack: Stack) -> None:
    uid = user_id()
    b = brain(stack.client, stack.settings, chat_replies=False)
    event = user_message("hello")
    await b.signal_event(uid, event)
    await b.signal_event(uid, event)
    await b.signal_event(uid, user_message("second"))

    state = await eventually(
        lambda: _state_with(
            stack, uid, lambda s: len(s.messages) == 2 and s.counters.duplicates_dropped == 1
        )
    )
    assert [m.text for m in state.messages] == ["hello", "second"]
    assert state.seq == 2
    diag = await b.diagnostics(uid)
    assert diag is not None and diag.duplicates_dropped == 1
    assert event.event_id in diag.last_event_ids


async def _state_with(stack: Stack, uid: str, pred):  # noqa: ANN001, ANN202
    try:
        state = await snapshot(stack.client, uid)
    except Exception:  # noqa: BLE001 - not started yet
        return None
    return state if pred(state) else None


async def test_repeated_client_action_returns_the_original_result(stack: Stack) -> None:
    uid = user_id()
    b = brain(stack.client, stack.settings)
    first = await b.command(uid, "create_task", task_event("Pay rent", client_action_id="ca-1"))
    again = await b.command(uid, "create_task", task_event("Pay rent", client_action_id="ca-1"))
    assert not first.duplicate and again.duplicate
    assert again.entity_id == first.entity_id and again.event_id == first.event_id
    state = await snapshot(stack.client, uid)
    assert list(state.tasks) == [first.entity_id]
    assert state.counters.duplicates_dropped == 1


async def test_refused_commands_leave_no_trace_in_history(stack: Stack) -> None:
    uid = user_id()
    b = brain(stack.client, stack.settings)
    created = await b.command(uid, "create_task", task_event("Real task"))
    before = await settled_history(stack.client, uid)

    missing = "task_" + "0" * 32
    with pytest.raises(NotFoundError):
        await b.command(
            uid,
            "update_task",
            make_event("task.updated", {"id": missing, "changes": {"title": "x"}}, None),
        )
    with pytest.raises(NotFoundError):
        await b.command(uid, "delete_task", make_event("task.deleted", {"id": missing}, None))
    with pytest.raises(ValidationFailed):  # the event type does not fit the command
        await b.command(uid, "create_task", make_event("task.deleted", {"id": missing}, None))
    with pytest.raises(ValidationFailed):  # a title that is too long
        await b.command(uid, "create_task", task_event("x" * 501))
    with pytest.raises(ValidationFailed):  # a bad priority
        await b.command(uid, "create_task", task_event("ok", priority="urgent!"))

    after = await history_event_types(stack.client, uid)
    assert after == before, "a refused update must not add history events"
    state = await snapshot(stack.client, uid)
    assert list(state.tasks) == [created.entity_id] and state.seq == 1


async def test_task_lifecycle_and_queries(stack: Stack) -> None:
    uid = user_id()
    b = brain(stack.client, stack.settings)
    created = await b.command(uid, "create_task", task_event("Write report", priority="high"))
    tid = created.entity_id
    done = await b.command(
        uid,
        "update_task",
        make_event("task.updated", {"id": tid, "changes": {"status": "done"}}, None),
    )
    assert done.data["status"] == "done" and done.data["completed_at"]
    pref = await b.command(
        uid,
        "set_preference",
        make_event("preference.set", {"key": "home_airport", "value": "SFO"}, None),
    )
    assert pref.data == {"preferences": {"home_airport": "SFO"}}
    await b.command(uid, "delete_task", make_event("task.deleted", {"id": tid}, None))

    state = await snapshot(stack.client, uid)
    assert state.tasks == {} and state.preferences == {"home_airport": "SFO"}
    delta = await b.delta(uid, 1)
    assert [e.type for e in delta.events] == ["task.updated", "preference.set", "task.deleted"]
    assert [e.seq for e in delta.events] == [2, 3, 4]
    assert (await b.delta(uid, 4)).events == []
    window = await b.event_window(uid)
    assert [e.seq for e in window] == [1, 2, 3, 4]


async def test_daily_write_limit_refuses_commands(stack: Stack) -> None:
    uid = user_id()
    b = brain(stack.client, stack.settings, writes_per_day=3)
    for i in range(3):
        await b.command(uid, "create_task", task_event(f"t{i}"))
    with pytest.raises(RateLimited) as err:
        await b.command(uid, "create_task", task_event("one too many"))
    assert err.value.details["limit_type"] == "writes_per_day"
    assert err.value.details["limit"] == 3
    assert len((await snapshot(stack.client, uid)).tasks) == 3


async def test_concurrent_commands_all_apply_once(stack: Stack) -> None:
    uid = user_id()
    b = brain(stack.client, stack.settings)
    results = await asyncio.gather(
        *[b.command(uid, "create_task", task_event(f"task {i}")) for i in range(30)]
    )
    seqs = sorted(r.seq for r in results)
    assert seqs == list(range(1, 31))
    state = await snapshot(stack.client, uid)
    assert len(state.tasks) == 30


async def test_a_malformed_signal_is_counted_logged_once_and_replays(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    import shutil

    from temporalio.worker import Replayer

    from workflows.sandbox import workflow_classes, workflow_runner

    uid = user_id()
    b = brain(stack.client, stack.settings, chat_replies=False)
    await b.signal_event(uid, user_message("before"))
    caplog.set_level("WARNING")
    # what an operator types by hand: the real temporal CLI against the test's dev server
    temporal = shutil.which("temporal") or str(Path(sys.executable).with_name("temporal"))
    address = stack.settings.temporal_address or ""
    proc = await asyncio.create_subprocess_exec(
        temporal,
        "workflow",
        "signal",
        "--address",
        address,
        "--workflow-id",
        f"user-brain:{uid}",
        "--name",
        "submit",
        "--input",
        '"x"',
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, stderr.decode()
    await stack.client.get_workflow_handle(f"user-brain:{uid}").signal("submit", {"type": 7})
    await b.signal_event(uid, user_message("after"))

    state = await eventually(
        lambda: _state_with(
            stack, uid, lambda s: [m.text for m in s.messages] == ["before", "after"]
        )
    )
    assert state.counters.invalid_dropped == 2
    diag = await b.diagnostics(uid)
    assert diag is not None and diag.invalid_events_dropped == 2
    lines = [r for r in caplog.records if "malformed submit signal" in r.getMessage()]
    assert len(lines) == 2 and all("\n" not in r.getMessage() for r in lines)

    history = await stack.client.get_workflow_handle(f"user-brain:{uid}").fetch_history()
    replayer = Replayer(
        workflows=workflow_classes(),
        workflow_runner=workflow_runner(),
        data_converter=stack.client.data_converter,
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure
