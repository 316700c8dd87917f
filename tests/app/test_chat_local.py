"""The whole stack with MCOS_LLM_PROVIDER=local: a chat message over the real WebSocket is
answered by the real model (llama.cpp + SmolLM2-135M), streamed token by token, and the
final message is recorded in the brain."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from temporalio.client import Client

from mcos.infra.llamaserver import LlamaServer, static_prefix
from mcos.kernel.settings import Settings
from tests.app.conftest import Api, recv_until, running_api
from tests.support.tokens import token_indexes

# One llama.cpp server for these tests: under xdist they all run on one worker.
pytestmark = pytest.mark.xdist_group("llama")


async def predicted_tokens(server: LlamaServer) -> float:
    async with httpx.AsyncClient(timeout=10) as http:
        metrics = (await http.get(f"{server.url}/metrics")).text
    match = re.search(r"^llamacpp:tokens_predicted_total\s+(\S+)$", metrics, re.MULTILINE)
    assert match, "llama.cpp exposes no tokens_predicted_total"
    return float(match.group(1))


@pytest.fixture
async def local_api(
    settings: Settings, temporal_client: Client, llama_server: LlamaServer
) -> AsyncIterator[Api]:
    # What `mcos dev --llm local` does after starting the server: warm the static prefix.
    await llama_server.warm(*static_prefix())
    cfg = settings.model_copy(
        update={
            "llm_provider": "local",
            "llm_local_url": llama_server.url,
            "llm_temperature": 0.0,
            "llm_max_tokens": 24,
            "llm_timeout_s": 300.0,
        }
    )
    async with running_api(cfg, temporal_client) as api:
        yield api


async def test_a_chat_message_is_answered_by_the_local_model_streamed(
    local_api: Api, user: str, llama_server: LlamaServer
) -> None:
    before = await predicted_tokens(llama_server)
    ws = await local_api.ws(user)
    await ws.send(json.dumps({"type": "message.send", "text": "Hello!", "client_action_id": "c1"}))
    frames = await recv_until(ws, lambda f: f["type"] == "message.completed", timeout=300)
    await ws.close()

    tokens = [f for f in frames if f["type"] == "llm.token"]
    completed = frames[-1]["data"]
    indexes = token_indexes(t["data"] for t in tokens)
    assert len(indexes) >= 2, "the reply was not streamed"
    assert indexes == list(range(len(indexes)))
    assert completed["text"] == "".join(t["data"]["text"] for t in tokens)
    assert completed["text"].strip()
    # The real server generated them (the offline model never touches llama.cpp).
    assert await predicted_tokens(llama_server) - before >= len(tokens)

    async with local_api.client(user) as http:
        state = (await http.get("/api/v1/state")).json()
    assert [m["role"] for m in state["messages"]] == ["user", "assistant"]
    assert state["messages"][1]["text"] == completed["text"]
    # The reply is capped at 24 tokens (llm_max_tokens): the prompt carries today's date, so
    # on some days the model runs into the cap — then the message says so, never "failed".
    reply = state["messages"][1]
    if reply["status"] == "truncated":
        assert len(indexes) == 24, f"truncated after {len(indexes)} tokens, not at the cap"
    else:
        assert reply["status"] == "completed", reply
