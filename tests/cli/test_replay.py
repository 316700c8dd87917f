"""``mcos replay``: live histories replay (exit 0); an altered one fails naming the event."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.cli.helpers import mcos
from tests.conftest import Stack, eventually, user_id
from tests.workflows.helpers import brain, snapshot, user_message
from tests.workflows.scenario import _quiet


async def _chat(stack: Stack, uid: str, text: str) -> None:
    b = brain(stack.client, stack.settings)
    await b.signal_event(uid, user_message(text))

    async def answered() -> bool:
        return any(m.role == "assistant" for m in (await snapshot(stack.client, uid)).messages)

    await eventually(answered, 60)
    await _quiet(stack.client, uid)


async def test_a_live_history_replays_and_exits_0(stack: Stack) -> None:
    uid = user_id()
    await _chat(stack, uid, "Remind me to call John tomorrow at 3pm")
    assert stack.settings.temporal_address is not None  # the session's dev server
    ran = await mcos("replay", uid, "--address", stack.settings.temporal_address)
    assert ran.rc == 0, ran
    assert re.search(r"replayed 1 run\(s\) of 1 workflow\(s\), \d+ events: 1 ok, 0 nondet", ran.out)

    as_json = await mcos("replay", uid, "--json", "--address", stack.settings.temporal_address)
    result = json.loads(as_json.out)
    assert (as_json.rc, result["replayed"], result["failed"]) == (0, 1, 0)
    assert result["results"][0]["user_id"] == uid and result["results"][0]["events"] > 5


async def test_an_altered_history_exits_non_zero_naming_the_event(
    stack: Stack, tmp_path: Path
) -> None:
    uid = user_id()
    await _chat(stack, uid, "Hello!")
    history = await stack.client.get_workflow_handle(f"user-brain:{uid}").fetch_history()
    exported = json.loads(history.to_json())
    scheduled = [
        e for e in exported["events"] if e["eventType"] == "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED"
    ]
    assert scheduled, "the turn scheduled no activity"
    target = scheduled[0]
    old = target["activityTaskScheduledEventAttributes"]["activityType"]["name"]
    target["activityTaskScheduledEventAttributes"]["activityType"]["name"] = old + "_renamed"
    good, bad = tmp_path / f"{uid}.json", tmp_path / "bad" / f"{uid}.json"
    bad.parent.mkdir()
    good.write_text(history.to_json())
    bad.write_text(json.dumps(exported))

    ok = await mcos("replay", "--file", str(good))
    assert ok.rc == 0, ok

    ran = await mcos("replay", "--file", str(bad))
    assert ran.rc == 1, ran
    line = next(line for line in ran.out.splitlines() if line.startswith("NONDETERMINISM"))
    run_id = history.events[0].workflow_execution_started_event_attributes.original_execution_run_id
    assert f"user {uid} run {run_id} " in line, line
    assert f"event {target['eventId']}:" in line, line
    assert f"{old}_renamed" in line and old in line  # what differed
    assert "0 ok, 1 nondeterministic" in ran.out


async def test_bad_arguments_exit_2(stack: Stack, tmp_path: Path) -> None:
    neither = await mcos("replay")
    assert neither.rc == 2 and "exactly one" in neither.err
    assert stack.settings.temporal_address is not None  # the session's dev server
    nobody = await mcos("replay", user_id(), "--address", stack.settings.temporal_address)
    assert nobody.rc == 2 and "no histories" in nobody.err
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    unreadable = await mcos("replay", "--file", str(broken))
    assert unreadable.rc == 2 and "cannot read" in unreadable.err
