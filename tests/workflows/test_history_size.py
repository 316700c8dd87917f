"""What a chat turn costs in Temporal history, turn after turn (issue 13's targets: a plain
turn ≤ 12 events and ≤ 8 KB, a tool turn ≤ 16 KB), measured as ``bench/history.py`` does:
not only the first turn, and in the steady state where each turn also archives the oldest
messages (a small message limit gets there in two turns)."""

from __future__ import annotations

from typing import Any

from temporalio.client import Client

from bench.history import TARGETS, PromptModel, measure, missed
from mcos.infra import db
from mcos.kernel.settings import Settings
from mcos.llm.prompt import SYSTEM_PROMPT
from tests.conftest import running_worker, user_id
from workflows.client import BrainClient

LIMIT = 6  # messages the brain keeps: from the second turn on, every turn archives two
TURNS = 5  # of each kind: the 5th plain turn and the 5th tool turn are measured too


def scheduled(figures: dict[str, Any], activity: str) -> int:
    return sum(k.startswith(f"activity_task_scheduled:{activity} ") for k in figures["kinds"])


def assert_within_targets(results: dict[str, list[dict[str, Any]]]) -> None:
    for kind, runs in results.items():
        figures = [(r["events"], r["proto_bytes"]) for r in runs]
        assert not any(missed(kind, r) for r in runs), (kind, TARGETS[kind], figures)
        assert len(runs) == TURNS


async def test_every_turn_stays_within_the_targets_once_archival_is_steady(
    settings: Settings, temporal_client: Client
) -> None:
    settings = settings.model_copy(update={"brain_message_limit": LIMIT})
    uid = user_id()
    async with running_worker(settings, temporal_client) as stack:
        brain = BrainClient(temporal_client, settings)
        results = await measure(brain, temporal_client, uid, TURNS)
        state = await brain.snapshot(uid)
    assert_within_targets(results)
    turns = [*results["plain"], *results["tool"]]
    # the LLM call archives the turn's oldest messages: no archive activity of its own
    assert all(scheduled(r, "archive_messages") == 0 for r in turns), [r["kinds"] for r in turns]
    assert all(scheduled(r, "publish_frames") == 0 for r in turns)
    # ... and the archive has them all, once: nothing lost, nothing doubled
    archived = db.archived_page(stack.engine, uid, None, 1000)
    assert len(state.messages) == LIMIT
    total = 2 * (2 * TURNS + 1)  # the first, uncounted turn too
    assert state.counters.messages_archived == len(archived) == total - LIMIT
    assert len({r.id for r in archived} | {m.id for m in state.messages}) == total
    # flat: the fifth turn of each kind costs what the second one did (archival included)
    for runs in results.values():
        assert abs(runs[-1]["proto_bytes"] - runs[1]["proto_bytes"]) < 256, runs


async def test_a_real_model_gets_its_whole_prompt_within_the_targets(
    settings: Settings, temporal_client: Client
) -> None:
    """The brain's settings say offline (it packs the offline script) but the worker has a
    real model: the first call says so without answering, and from then on the brain packs
    the prompt, which reaches the model whole: the system prompt, the history, the turn."""
    settings = settings.model_copy(update={"brain_message_limit": LIMIT})
    provider, uid = PromptModel(), user_id()
    async with running_worker(settings, temporal_client, provider=provider):
        brain = BrainClient(temporal_client, settings)
        results = await measure(brain, temporal_client, uid, TURNS)
        history = await temporal_client.get_workflow_handle(f"user-brain:{uid}").fetch_history()
    assert_within_targets(results)
    calls = [
        e for e in history.events if e.HasField("activity_task_scheduled_event_attributes")
        and e.activity_task_scheduled_event_attributes.activity_type.name == "llm_reply"
    ]  # fmt: skip
    # one refused call (the first turn's first), then every call reached the model
    assert len(calls) == len(provider.requests) + 1
    last = provider.requests[-1].messages  # the 5th tool turn's answer after its tool result
    assert last[0] == {"role": "system", "content": SYSTEM_PROMPT}
    said = [m["content"] for m in last if m["role"] == "user"]
    assert said[-1] == f"Remind me to call John{TURNS - 1} tomorrow at 3pm"
    assert said.count("Hello!") >= 2  # the history came along
    assert last[-1]["role"] == "tool" and provider.requests[-1].context == {}
