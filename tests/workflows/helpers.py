"""Helpers to drive a brain directly through the Temporal client (no API)."""

from __future__ import annotations

from typing import Any

from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHandle

from mcos.kernel.contracts import BrainInput
from mcos.kernel.contracts import brain_workflow_id as workflow_id
from mcos.kernel.ids import new_id
from mcos.kernel.models import BrainState, Event
from mcos.kernel.settings import Settings
from tests.support.wait import eventually
from workflows.client import BrainClient, make_event


def brain(client: Client, settings: Settings, **config: Any) -> BrainClient:
    b = BrainClient(client, settings)
    b.config = b.config.model_copy(update=config)
    return b


def user_message(text: str, client_action_id: str | None = None) -> Event:
    return make_event(
        "user.message",
        {"message_id": new_id("msg"), "text": text},
        new_id("req"),
        client_action_id,
    )


def task_event(title: str, client_action_id: str | None = None, **fields: Any) -> Event:
    return make_event(
        "task.created",
        {"id": new_id("task"), "title": title, **fields},
        new_id("req"),
        client_action_id,
    )


def handle(client: Client, user_id: str) -> WorkflowHandle[Any, Any]:
    return client.get_workflow_handle(workflow_id(user_id))


async def snapshot(client: Client, user_id: str) -> BrainState:
    return await handle(client, user_id).query("snapshot", result_type=BrainState)


async def history_event_types(client: Client, user_id: str, run_id: str | None = None) -> list[str]:
    h = client.get_workflow_handle(workflow_id(user_id), run_id=run_id)
    history = await h.fetch_history()
    return [_event_type(e) for e in history.events]


def _event_type(event: HistoryEvent) -> str:
    kind = event.WhichOneof("attributes")
    assert kind is not None, event  # every history event carries its attributes
    return kind


async def settled_history(client: Client, user_id: str) -> list[str]:
    """The current run's event types once the brain is idle (nothing in flight): the same
    history on two polls in a row, not ending in a scheduled or started task."""
    busy = {
        "workflow_task_scheduled_event_attributes",
        "workflow_task_started_event_attributes",
        "activity_task_scheduled_event_attributes",
        "activity_task_started_event_attributes",
    }
    last: list[str] = []

    async def idle() -> list[str] | None:
        nonlocal last
        types = await history_event_types(client, user_id)
        same, last = types == last, types
        return types if same and types[-1] not in busy else None

    return await eventually(idle, timeout=30, interval=0.2, what="the brain settled")


__all__ = [
    "BrainInput",
    "brain",
    "handle",
    "history_event_types",
    "settled_history",
    "snapshot",
    "task_event",
    "user_message",
]
