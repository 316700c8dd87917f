"""A brain scenario touching every path (chat turns with tools, commands, duplicates,
archival, continue-as-new), used by the replay test and to record histories."""

from __future__ import annotations

import functools
from typing import Any

from temporalio.client import Client, WorkflowHistory

from mcos.kernel.contracts import brain_workflow_id as workflow_id
from mcos.kernel.settings import Settings
from tests.support.wait import eventually
from tests.workflows.helpers import brain, settled_history, snapshot, task_event, user_message
from workflows.client import make_event


async def run_scenario(client: Client, settings: Settings, uid: str) -> list[WorkflowHistory]:
    b = brain(client, settings, message_limit=6, continue_as_new_events=12)
    await b.command(
        uid,
        "set_preference",
        make_event("preference.set", {"key": "timezone", "value": "America/Los_Angeles"}, None),
    )
    created = await b.command(uid, "create_task", task_event("Pay rent", client_action_id="a1"))
    await b.command(uid, "create_task", task_event("Pay rent", client_action_id="a1"))
    for text in [
        "Hello!",
        "Remind me to call John tomorrow at 3pm",
        "What's on my agenda today?",
        "My home airport is SFO",
    ]:
        event = user_message(text)
        await b.signal_event(uid, event)
        await b.signal_event(uid, event)  # a duplicate, dropped
        await eventually(functools.partial(_answered, client, uid, event.payload["message_id"]), 60)
    await b.command(
        uid,
        "update_task",
        make_event("task.updated", {"id": created.entity_id, "changes": {"status": "done"}}, None),
    )
    await _quiet(client, uid)
    # one more command, so that the newest run has processed a workflow task of its own
    await b.command(
        uid, "set_preference", make_event("preference.set", {"key": "seat", "value": "aisle"}, None)
    )
    await _quiet(client, uid)
    return await chain(client, uid)


async def _quiet(client: Client, uid: str) -> None:
    """Wait until the brain's current run is idle: a history fetched mid-task would end in
    a half-recorded workflow task, which is not a fair replay input."""
    await settled_history(client, uid)


async def _answered(client: Client, uid: str, message_id: str) -> bool:
    state = await snapshot(client, uid)
    seen = False
    for m in state.messages:
        if m.id == message_id:
            seen = True
        elif seen and m.role == "assistant":
            return True
    return False


async def chain(client: Client, uid: str) -> list[WorkflowHistory]:
    run_id: Any = (await client.get_workflow_handle(workflow_id(uid)).describe()).run_id
    histories = []
    while run_id:
        h = await client.get_workflow_handle(workflow_id(uid), run_id=run_id).fetch_history()
        histories.append(h)
        run_id = h.events[0].workflow_execution_started_event_attributes.continued_execution_run_id
    # A run that has not had a workflow task yet has nothing to replay (and the Replayer
    # waits forever on it), so it is left out.
    return [h for h in reversed(histories) if len(h.events) >= 3]
