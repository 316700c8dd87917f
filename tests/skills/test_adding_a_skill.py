"""Adding a skill is one module plus a registry line: the water skill (``water_skill.py``,
registered in these tests only) is offered to the model, recognised by the offline model,
dispatched by the turn, applied by the brain and answered — with nothing else changed."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from mcos.infra.bus import MemoryBus
from mcos.infra.db import get_engine
from mcos.kernel.models import BrainState
from mcos.kernel.settings import Settings
from mcos.llm.base import LlmRequest
from mcos.llm.offline import OfflineProvider, respond
from mcos.skills import core
from mcos.skills.base import Conversation, Intent, SkillContext
from mcos.skills.registry import REGISTRY, Registry
from tests.app.chat_helpers import say
from tests.app.conftest import running_api
from tests.skills import water_skill
from worker import build_activities
from workflows.sandbox import workflow_classes

WITH_WATER = REGISTRY.with_skills(water_skill.SKILL)
NOW = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)
_ids = itertools.count()


def conv() -> Conversation:
    return Conversation(now=NOW)


def test_the_registry_offers_its_tool_and_says_what_it_can_do() -> None:
    assert "log_water" in {t["function"]["name"] for t in WITH_WATER.schemas()}
    assert "log the water you drink" in WITH_WATER.capabilities()
    # Registered in the tests only: the product's registry does not know it.
    assert "log_water" not in REGISTRY.names
    assert "water" not in REGISTRY.capabilities()


def test_the_offline_model_recognises_it_typos_included() -> None:
    for text in ("I drank 3 glasses of water", "i drank 3 glases of watter"):
        assert WITH_WATER.recognise(text, conv()) == [Intent("log_water", {"glasses": 3})]
    assert REGISTRY.recognise("I drank 3 glasses of water", conv()) == []
    request = LlmRequest(
        messages=[{"role": "user", "content": "I drank 2 glasses of water"}],
        tools=WITH_WATER.schemas(),
        context={"now": NOW.isoformat()},
    )
    [call] = respond(request, WITH_WATER).calls
    assert (call.name, call.arguments) == ("log_water", {"glasses": 2})


def test_the_dispatch_runs_its_handler_and_refuses_bad_arguments() -> None:
    state = BrainState(user_id="u", preferences={"water_glasses": 2})
    ctx = SkillContext(state=state, now=NOW, timezone="UTC", new_id=lambda p: f"{p}_{next(_ids)}")
    out = WITH_WATER.run_state_tool(ctx, "log_water", {"glasses": "3"})
    assert out.status == "success"
    assert out.events == [("preference.set", {"key": "water_glasses", "value": 5})]
    assert WITH_WATER.reply("log_water", out.result, conv()) == (
        "Logged — 5 glasses of water so far."
    )
    refused = WITH_WATER.run_state_tool(ctx, "log_water", {"glasses": 99})
    assert refused.status == "error" and not refused.events
    assert REGISTRY.run_state_tool(ctx, "log_water", {"glasses": 3}).result["code"] == (
        "unknown_tool"
    )


def test_two_skills_cannot_declare_the_same_tool() -> None:
    with pytest.raises(ValueError, match="log_water"):
        Registry([water_skill.SKILL, water_skill.SKILL])


async def test_a_chat_turn_picks_it_up_end_to_end(
    settings: Settings, temporal_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real brain workflow and turn code with the extended registry: the workflow runs
    unsandboxed here only so the test's registration reaches it (sandboxed runs re-import
    the registry, which is the point of the sandbox)."""
    monkeypatch.setattr(core, "REGISTRY", WITH_WATER)
    bus = MemoryBus()
    activities = build_activities(
        temporal_client,
        settings,
        bus,
        get_engine(settings.sql_url),
        OfflineProvider(token_delay_ms=0, registry=WITH_WATER),
    )
    worker = Worker(
        temporal_client,
        task_queue=settings.temporal_task_queue,
        workflows=workflow_classes(),
        activities=activities,
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    async with (
        worker,
        running_api(settings, temporal_client, bus=bus, embedded_worker=False) as api,
    ):
        ws = await api.ws("water-user")
        try:
            turn = await say(ws, "I drank 3 glasses of water")
            assert [a["name"] for a in turn.actions] == ["log_water"], turn.frames
            assert turn.tool_results[0]["status"] == "success"
            assert turn.text == "Logged — 3 glasses of water so far."
            turn = await say(ws, "I had two glasses of water")
            assert turn.text == "Logged — 5 glasses of water so far."
        finally:
            await ws.close()
        async with api.client("water-user") as http:
            state = (await http.get("/api/v1/state")).json()
    assert state["preferences"]["water_glasses"] == 5
