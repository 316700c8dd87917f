"""Continue-as-new under load and archival to SQL: nothing lost, nothing doubled."""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid

import pytest
from temporalio.client import Client

from mcos.infra import db
from mcos.kernel.contracts import brain_workflow_id as workflow_id
from mcos.kernel.errors import BrainUnavailable
from mcos.kernel.settings import Settings
from tests.conftest import POSTGRES_URL, Stack, require_service, running_worker, user_id
from tests.support.wait import eventually
from tests.workflows.helpers import brain, snapshot, task_event, user_message
from workflows.client import make_event


async def _runs(client: Client, uid: str) -> list:
    """The chain of runs, newest first, walked through ``continued_execution_run_id``."""
    run_id = (await client.get_workflow_handle(workflow_id(uid)).describe()).run_id
    chain = []
    while run_id:
        history = await client.get_workflow_handle(workflow_id(uid), run_id=run_id).fetch_history()
        chain.append(history)
        run_id = history.events[
            0
        ].workflow_execution_started_event_attributes.continued_execution_run_id
    return chain


async def _send_messages(b, uid: str, texts: list[str], concurrency: int = 40) -> None:  # noqa: ANN001
    sem = asyncio.Semaphore(concurrency)

    async def one(text: str) -> None:
        async with sem:
            await b.signal_event(uid, user_message(text))

    await asyncio.gather(*[one(t) for t in texts])


async def _send_acknowledged(
    b,
    client: Client,
    uid: str,
    texts: list[str],
    concurrency: int,
    ahead: int,  # noqa: ANN001
) -> None:
    """Bursts of ``ahead`` messages, each sent once the brain has applied all but the last
    burst, as a client whose sends are acknowledged keeps at most so many in flight. A flood
    that outruns the worker whatever it does (on a loaded machine) lands in one run: the
    server refuses a continue-as-new while new signals keep arriving, and a run of 2,000
    signals is over 1 MB by itself."""
    for start in range(0, len(texts), ahead):
        await _send_messages(b, uid, texts[start : start + ahead], concurrency)

        async def applied(upto: int = start) -> bool:
            return (await snapshot(client, uid)).counters.messages_total >= upto

        await eventually(applied, timeout=120, interval=0.1, what=f"{start} messages applied")


async def test_2000_messages_chain_runs_and_archive_exactly_1900(stack: Stack) -> None:
    uid = user_id()
    b = brain(
        stack.client,
        stack.settings,
        chat_replies=False,
        continue_as_new_events=500,
        writes_per_day=10_000,
    )
    texts = [f"message {i:04d}" for i in range(2000)]
    # Eight senders at once: hundreds of messages a second, far above what the gateway admits
    # for one user (60 a minute), in bursts of 200 with at most two bursts unapplied, so the
    # worker gets a turn however loaded the machine is (see _send_acknowledged).
    await _send_acknowledged(b, stack.client, uid, texts, concurrency=8, ahead=200)

    async def settled():  # noqa: ANN202
        try:
            s = await snapshot(stack.client, uid)
        except Exception:  # noqa: BLE001
            return None
        if s.counters.messages_total != 2000 or len(s.messages) != 100:
            return None
        # the chain is complete once the brain has continued at least once (the size check
        # below catches a run that held continue-as-new off for the whole burst)
        return s if len(await _runs(stack.client, uid)) >= 2 else None

    state = await eventually(settled, timeout=240, interval=0.5)
    archived = db.archived_page(stack.engine, uid, None, 5000)
    assert len(archived) == 1900
    assert db.count_archived(stack.engine, uid) == 1900
    archived_texts = {r.text for r in archived}
    live_texts = {m.text for m in state.messages}
    assert not archived_texts & live_texts, "a message is both archived and live"
    assert archived_texts | live_texts == set(texts), "a message was lost"
    assert state.counters.messages_archived == 1900
    # seq is gapless over every event: 2000 messages + the archival events
    assert state.seq == state.counters.events_applied

    runs = await _runs(stack.client, uid)
    assert len(runs) >= 2, "2,000 messages at 500 events a run must continue-as-new"
    for history in runs:
        assert len(history.events) < 10_240  # Temporal's history-count warning level
        size = sum(e.ByteSize() for e in history.events)
        # a burst must not hold continue-as-new off: every run stays near the threshold
        by_kind: dict[str, list[int]] = {}
        for e in history.events:
            by_kind.setdefault(e.WhichOneof("attributes") or "?", []).append(e.ByteSize())
        kinds = sorted(((sum(v), len(v), k) for k, v in by_kind.items()), reverse=True)[:5]
        assert size < 1_000_000, f"a run of {len(history.events)} events is {size:,} bytes: {kinds}"
        assert history.events[0].workflow_execution_started_event_attributes.attempt == 1
    # every run but the newest ended by continuing as new, handing its carry on packed (v8)
    for history in runs[1:]:
        assert history.events[-1].HasField("workflow_execution_continued_as_new_event_attributes")
    for history in runs[:-1]:
        started = history.events[0].workflow_execution_started_event_attributes
        handed = json.loads(started.input.payloads[0].data)
        assert handed["carry"] is None and handed["packed"], sorted(handed)


async def test_continue_as_new_under_concurrent_signals_and_updates(stack: Stack) -> None:
    uid = user_id()
    b = brain(stack.client, stack.settings, chat_replies=False, continue_as_new_events=40)
    messages = [user_message(f"m{i}", client_action_id=f"msg-{i}") for i in range(150)]
    tasks = [task_event(f"t{i}", client_action_id=f"task-{i}") for i in range(60)]

    async def send_all() -> list:
        return await asyncio.gather(
            *[b.signal_event(uid, m) for m in messages],
            *[b.command(uid, "create_task", t) for t in tasks],
        )

    results = await send_all()
    # Everything again: the dedup sets must have survived each continue-as-new.
    await asyncio.gather(*[b.signal_event(uid, m) for m in messages[-40:]])
    repeats = await asyncio.gather(*[b.command(uid, "create_task", t) for t in tasks[-40:]])
    assert all(r.duplicate for r in repeats)

    async def settled():  # noqa: ANN202
        s = await snapshot(stack.client, uid)
        settled.last = s.counters  # type: ignore[attr-defined]
        # ≥ 80: an update whose run continued-as-new under it is retried by the client into
        # the next run, where the carried dedup set answers it with the original result.
        return (
            s if s.counters.messages_total == 150 and s.counters.duplicates_dropped >= 80 else None
        )

    try:
        state = await eventually(settled, timeout=30, interval=0.3)
    except AssertionError:
        raise AssertionError(f"counters: {settled.last}") from None  # type: ignore[attr-defined]
    assert len(state.tasks) == 60
    assert sorted(t.title for t in state.tasks.values()) == sorted(f"t{i}" for i in range(60))
    archived = [r.text for r in db.archived_page(stack.engine, uid, None, 1000)]
    live = [m.text for m in state.messages]
    assert sorted(archived + live) == sorted(f"m{i}" for i in range(150))
    created = [r for r in results if r is not None]
    assert sorted(r.entity_id for r in created) == sorted(state.tasks)
    assert len(await _runs(stack.client, uid)) >= 2


@pytest.mark.postgres
async def test_archival_to_postgres(temporal_client: Client, settings: Settings) -> None:
    require_service("PostgreSQL", "127.0.0.1", 5432)
    pg = settings.model_copy(update={"database_url": POSTGRES_URL})
    async with running_worker(pg, temporal_client) as s:
        uid = f"pg-{uuid.uuid4().hex[:10]}"
        b = brain(s.client, pg, chat_replies=False, message_limit=20)
        texts = [f"pg message {i}" for i in range(60)]
        for t in texts:  # in order, so the oldest 40 are the archived ones
            await b.signal_event(uid, user_message(t))
        state = await eventually(lambda: _settled(s, uid, 60, 20), timeout=60, interval=0.3)
        rows = db.archived_page(s.engine, uid, None, 100)
        assert s.engine.dialect.name == "postgresql"
        assert sorted(r.text for r in rows) == sorted(texts[:40])
        assert [m.text for m in state.messages] == texts[40:]
        # the archive is idempotent: archiving the same rows again adds nothing
        again = db.archive_messages(
            s.engine,
            uid,
            [
                {
                    "id": r.id,
                    "role": r.role,
                    "text": r.text,
                    "created_at": r.created_at,
                    "seq": r.seq,
                }
                for r in rows
            ],
        )
        assert again == 0
        pref = make_event("preference.set", {"key": "seat", "value": "aisle"}, None)
        await b.command(uid, "set_preference", pref)
        backup = await eventually(lambda: db.load_profile(s.engine, uid))
        assert backup.preferences == {"seat": "aisle"}
        db.delete_user(s.engine, uid)


async def _settled(s: Stack, uid: str, total: int, live: int):  # noqa: ANN202
    try:
        state = await snapshot(s.client, uid)
    except Exception:  # noqa: BLE001
        return None
    return state if state.counters.messages_total == total and len(state.messages) == live else None


async def test_preferences_and_memories_backed_up_to_sql(stack: Stack) -> None:
    uid = user_id()
    b = brain(stack.client, stack.settings)
    await b.command(
        uid,
        "set_preference",
        make_event("preference.set", {"key": "home_airport", "value": "SFO"}, None),
    )
    mem = await b.command(
        uid,
        "pin_memory",
        make_event("memory.pinned", {"id": "mem_" + "1" * 32, "key": "wife", "value": "Ana"}, None),
    )

    def with_memories() -> db.ProfileBackup | None:
        p = db.load_profile(stack.engine, uid)
        return p if p is not None and p.memories else None

    def memories_cleared() -> bool:
        p = db.load_profile(stack.engine, uid)
        assert p is not None  # the backup stays, its memories go
        return p.memories == []

    backup = await eventually(with_memories)
    assert backup.preferences == {"home_airport": "SFO"}
    assert [m["value"] for m in backup.memories] == ["Ana"]
    await b.command(uid, "unpin_memory", make_event("memory.unpinned", {"id": mem.entity_id}, None))
    await eventually(memories_cleared)


async def test_a_stopped_brain_is_never_replaced_by_an_empty_one(stack: Stack) -> None:
    uid = user_id()
    b = brain(stack.client, stack.settings)
    await b.command(uid, "create_task", task_event("kept"))
    await stack.client.get_workflow_handle(workflow_id(uid)).terminate("operator test")

    with pytest.raises(BrainUnavailable) as refused:
        await b.signal_event(uid, user_message("hello?"))
    assert refused.value.status == 503 and refused.value.details == {"brain_status": "TERMINATED"}
    with pytest.raises(BrainUnavailable):
        await b.command(uid, "create_task", task_event("lost?"))
    desc = await stack.client.get_workflow_handle(workflow_id(uid)).describe()
    assert desc.status is not None and desc.status.name == "TERMINATED"  # no new run started
    state = await snapshot(stack.client, uid)  # the stopped run still answers queries
    assert [t.title for t in state.tasks.values()] == ["kept"]


async def test_an_erased_brain_may_start_again(stack: Stack) -> None:
    uid = user_id()
    b = brain(stack.client, stack.settings)
    await b.command(uid, "create_task", task_event("old"))
    await b.erase(uid, None)

    async def completed() -> bool:
        status = await b.status(uid)
        return status is not None and status.name == "COMPLETED"

    await eventually(completed)
    await b.signal_event(uid, user_message("fresh start"))

    async def fresh():  # noqa: ANN202
        s = await snapshot(stack.client, uid)
        return s if s.counters.messages_total == 1 else None

    state = await eventually(fresh)
    assert state.tasks == {}


async def test_tasks_past_the_cap_move_to_sql_not_away(stack: Stack) -> None:
    uid = user_id()
    b = brain(stack.client, stack.settings, chat_replies=False, tasks_cap=5)
    ids = [
        (await b.command(uid, "create_task", task_event(f"task {i}"))).entity_id for i in range(5)
    ]
    for task_id in ids[:3]:
        await b.command(
            uid,
            "update_task",
            make_event("task.updated", {"id": task_id, "changes": {"status": "done"}}, None),
        )
    for i in range(5, 8):  # three more: eight in all, five kept
        await b.command(uid, "create_task", task_event(f"task {i}"))

    async def bounded():  # noqa: ANN202
        s = await snapshot(stack.client, uid)
        return s if len(s.tasks) == 5 else None

    state = await eventually(bounded)
    archived = db.archived_tasks(stack.engine, uid)
    assert sorted(t["title"] for t in archived) == ["task 0", "task 1", "task 2"]
    assert all(t["archived"] and t["status"] == "done" for t in archived)
    assert {t.title for t in state.tasks.values()} == {f"task {i}" for i in range(3, 8)}
    assert db.archive_tasks(stack.engine, uid, archived) == 0  # a retry adds nothing


async def test_completed_tasks_past_the_keep_period_move_to_sql(stack: Stack) -> None:
    uid = user_id()
    b = brain(stack.client, stack.settings, chat_replies=False, done_tasks_kept_days=0)
    done = await b.command(uid, "create_task", task_event("filed taxes"))
    await b.command(uid, "create_task", task_event("still open"))
    await b.command(
        uid,
        "update_task",
        make_event("task.updated", {"id": done.entity_id, "changes": {"status": "done"}}, None),
    )

    async def moved():  # noqa: ANN202
        s = await snapshot(stack.client, uid)
        return s if done.entity_id not in s.tasks else None

    state = await eventually(moved)
    assert [t.title for t in state.tasks.values()] == ["still open"]
    assert [t["title"] for t in db.archived_tasks(stack.engine, uid)] == ["filed taxes"]


async def test_a_carried_state_larger_than_the_size_trigger_does_not_continue_again_at_once(
    stack: Stack,
) -> None:
    """40 tasks of ~4.5 KB: the state handed to the next run is larger than the 100 KB size
    trigger. A run continues by size only once it added half the trigger (v7), so the next
    run stays; before, every new run was due at once and the brain continued as new again
    and again, re-sending its state each time. The notes are random hex: the carry travels
    compressed (v8), and repeated letters would pack into a few KB."""
    uid = user_id()
    b = brain(stack.client, stack.settings, chat_replies=False, continue_as_new_bytes=100_000)
    titles = [f"task {i:02d} " + "t" * 480 for i in range(40)]
    for title in titles:
        await b.command(uid, "create_task", task_event(title, notes=secrets.token_hex(2000)))

    async def settled():  # noqa: ANN202
        s = await snapshot(stack.client, uid)
        return s if len(s.tasks) == 40 and len(await _runs(stack.client, uid)) >= 2 else None

    await eventually(settled, timeout=60, interval=0.3)
    runs = await _runs(stack.client, uid)
    await asyncio.sleep(3)  # idle: nothing should happen now
    later = await _runs(stack.client, uid)
    # ~9 KB of history a task (the update and its result), 50 KB a run: about 8 runs
    assert len(later) == len(runs) <= 12, f"{len(runs)} runs, then {len(later)} 3 s later"
    carried = later[0].events[0].ByteSize()
    assert carried > 100_000, f"the test meant a carried input over the trigger, not {carried:,}"
    state = await snapshot(stack.client, uid)
    assert sorted(t.title for t in state.tasks.values()) == titles
