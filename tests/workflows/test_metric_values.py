"""What the brain does shows in the worker's metrics, by value: the workflow never touches
Prometheus (it is replayed), so the activities count what their frames show and the
duplicates the brain reports with a publish (v6)."""

from __future__ import annotations

from prometheus_client import REGISTRY

from mcos.kernel.contracts import brain_workflow_id
from tests.conftest import Stack, user_id
from tests.support.wait import eventually
from tests.workflows.helpers import brain, snapshot, task_event, user_message


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def counts() -> dict[str, float]:
    return {
        "user": sample("messages_created_total", role="user"),
        "assistant": sample("messages_created_total", role="assistant"),
        "create_task": sample("tool_invocations_total", tool="create_task", status="success"),
        "duplicates": sample("duplicate_events_dropped_total"),
        "writes": sample("rate_limit_rejections_total", limit_type="writes_per_day"),
    }


def delta(before: dict[str, float]) -> dict[str, float]:
    after = counts()
    return {k: after[k] - before[k] for k in before if after[k] != before[k]}


async def test_a_turn_counts_its_two_messages_and_its_tool_call(stack: Stack) -> None:
    uid, b = user_id(), brain(stack.client, stack.settings)
    before = counts()
    await b.signal_event(uid, user_message("Remind me to call John tomorrow at 3pm"))

    async def answered() -> bool:
        return (await snapshot(stack.client, uid)).counters.turns == 1

    await eventually(answered, 30)
    await eventually(lambda: delta(before).get("assistant") == 1, 10, what="the reply's frame")
    assert delta(before) == {"user": 1, "assistant": 1, "create_task": 1}


async def test_duplicates_the_brain_drops_are_counted_once_each(stack: Stack) -> None:
    uid, b = user_id(), brain(stack.client, stack.settings, chat_replies=False)
    before = counts()
    message = user_message("hello", client_action_id="m-1")
    await b.signal_event(uid, message)
    created = await b.command(uid, "create_task", task_event("Pay rent", client_action_id="t-1"))
    await b.signal_event(uid, message)  # a repeated signal: no frame, no reply
    again = await b.command(uid, "create_task", task_event("Pay rent", client_action_id="t-1"))
    assert again.duplicate and again.entity_id == created.entity_id

    async def reported() -> dict[str, float] | None:
        state = await snapshot(stack.client, uid)
        return delta(before) if state.counters.duplicates_dropped == 2 else None

    await eventually(reported, 15)
    await eventually(lambda: delta(before).get("duplicates") == 2, 15, what="reported")
    await eventually(lambda: delta(before).get("user") == 1, 15, what="the message's frame")
    assert delta(before) == {"duplicates": 2, "user": 1}  # the repeat was not created again
    # the report went out as a publish of its own (no frame to carry it)
    history = await stack.client.get_workflow_handle(brain_workflow_id(uid)).fetch_history()
    summaries = [e.user_metadata.summary.data.decode() for e in history.events]
    assert any("duplicate(s) dropped" in s for s in summaries), summaries


async def test_a_chat_message_the_brain_refuses_counts_as_a_rate_limit(stack: Stack) -> None:
    uid, b = user_id(), brain(stack.client, stack.settings, writes_per_day=1)
    await b.command(uid, "create_task", task_event("Pay rent"))  # the day's one write
    before = counts()
    await b.signal_event(uid, user_message("Remind me to call John tomorrow at 3pm"))
    await eventually(lambda: delta(before).get("writes") == 1, 15, what="the refusal frame")
    assert delta(before) == {"writes": 1}
