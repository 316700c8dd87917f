"""The skills flows with the ``openai`` provider against a local OpenAI-compatible stand-in.

The stand-in plays a tool-calling model over real HTTP/SSE: it reads the user's local time
and zone from the prompt's CONTEXT block (as a real model must), answers a request with
native ``tool_calls`` deltas — or, for "book …", with a tool call written as JSON text (the
fallback some models need) — and, once tool results are in, with streamed text. It also
answers the flight activity's ranking request with a JSON ranking.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from temporalio.client import Client

from mcos.kernel.settings import Settings
from mcos.llm.base import LlmRequest
from mcos.llm.offline import respond, split_pieces
from tests.app import skills_scenarios as flows
from tests.app.conftest import Api, running_api
from tests.conftest import serving
from tests.llm.conftest import Script, StandIn, _app
from tests.llm.test_openai_provider import _chunk, text, tool_delta, usage

CONTEXT_RE = re.compile(r"<<<CONTEXT\n(?P<body>.*?)\n>>>", re.DOTALL)


def _context(messages: list[dict[str, Any]]) -> dict[str, Any]:
    system = "\n".join(m["content"] for m in messages if m["role"] == "system")
    m = CONTEXT_RE.search(system)
    data = json.loads(m.group("body")) if m else {}
    assert "now" in data and "timezone" in data, "the prompt must tell the model the time"
    return {"now": data["now"], "timezone": data["timezone"]}


def _ranking(messages: list[dict[str, Any]]) -> Script:
    options = json.loads(messages[-1]["content"])["options"]
    order = sorted(options, key=lambda o: (o["stops"], o["total"]))
    ranked = [
        {
            "flight_id": o["id"],
            "rank": i,
            "score": round(1 - i / 20, 2),
            "reasoning": "non-stop, best price" if o["stops"] == 0 else "has a connection",
        }
        for i, o in enumerate(order, start=1)
    ]
    return Script(chunks=[text(json.dumps({"ranked": ranked})), _chunk({}, "stop"), usage(200, 80)])


def answer(body: dict[str, Any]) -> Script:
    """What a tool-calling model would stream back for this chat-completions request."""
    messages = body["messages"]
    if messages[0]["content"].startswith("Rank flight options"):
        return _ranking(messages)
    ctx = _context(messages)
    last = messages[-1]
    # The tool choice is the offline model's, from only what the prompt tells a model.
    reply = respond(LlmRequest(messages=messages, tools=body.get("tools") or [], context=ctx))
    if reply.calls and last["role"] == "user":
        call = reply.calls[0]
        if call.name == "select_flight":  # a model that writes its tool call as text
            raw = json.dumps({"name": call.name, "arguments": call.arguments})
            return Script(
                chunks=[text(raw[:15]), text(raw[15:]), _chunk({}, "stop"), usage(300, 30)]
            )
        args = json.dumps(call.arguments)
        return Script(
            chunks=[
                tool_delta(0, id="call_1", name=call.name, arguments=args[:10]),
                tool_delta(0, arguments=args[10:]),
                _chunk({}, "tool_calls"),
                usage(300, 25),
            ]
        )
    return Script(
        chunks=[
            *map(text, split_pieces(reply.text)),
            _chunk({}, "stop"),
            usage(300, len(split_pieces(reply.text))),
        ]
    )


class ToolModel(StandIn):
    """The stand-in with its answer computed from each request."""

    @property
    def script(self) -> Script:
        return answer(self.requests[-1])

    @script.setter
    def script(self, value: Script) -> None:
        pass


@pytest.fixture
async def model() -> AsyncIterator[ToolModel]:
    stand_in = ToolModel()
    async with serving(_app(stand_in)) as url:
        stand_in.base_url = f"{url}/v1"
        yield stand_in


@pytest.fixture
async def openai_api(
    settings: Settings, temporal_client: Client, model: ToolModel
) -> AsyncIterator[Api]:
    cfg = settings.model_copy(
        update={
            "llm_provider": "openai",
            "llm_base_url": model.base_url,
            "llm_api_key": "test-key",
            "llm_model": "test-model",
        }
    )
    async with running_api(cfg, temporal_client) as api:
        yield api


async def test_tasks_with_openai_tool_calls(openai_api: Api, user: str, model: ToolModel) -> None:
    await flows.tasks_flow(openai_api, user)
    chat = [r for r in model.requests if r.get("tools")]
    assert chat and all(r["model"] == "test-model" and r["stream"] for r in chat)
    assert {t["function"]["name"] for t in chat[0]["tools"]} >= {"create_task", "search_flights"}


async def test_travel_with_openai_tool_calls_and_llm_ranking(
    openai_api: Api, user: str, model: ToolModel
) -> None:
    state = await flows.travel_flow(openai_api, user, ranked_by_llm=True)
    search = state["flight_searches"][0]
    assert all(
        r["reasoning"] in ("non-stop, best price", "has a connection") for r in search["ranking"]
    )  # the model's ranking, validated and kept
    assert any(
        r["messages"][0]["content"].startswith("Rank flight options") for r in model.requests
    )
    # Preferences learnt in chat reach later prompts.
    last_chat = [r for r in model.requests if r.get("tools")][-1]
    data = [m["content"] for m in last_chat["messages"] if m["role"] == "system"][-1]
    assert '"home_airport":"SFO"' in data  # in the data message after the history
