"""The real client against the real server: OpenAIProvider ↔ llama.cpp (xllamacpp) with the
pinned SmolLM2-135M model. These test the mechanics (streaming, usage, message shapes, tool
calls, cancellation, errors), not the model's wisdom: prompts are short, max_tokens small,
temperature 0, and a 135M model is shown the pattern it should follow."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from mcos.infra.llamaserver import LlamaServer, local_llm_server, static_prefix
from mcos.kernel.settings import Settings
from mcos.llm.base import (
    LlmError,
    LlmProvider,
    LlmRequest,
    TokenChunk,
    ToolCallChunk,
    UsageChunk,
)
from mcos.llm.local_model import PINNED, ModelError, resolve, sha256_file
from mcos.llm.openai_provider import LlamaCppTokenizer, OpenAIProvider
from mcos.llm.providers import make_provider
from mcos.llm.tools import TOOLS_BY_NAME
from tests.support.llama import MODEL_DIR, new_server, require_local_model
from tests.support.wait import eventually

# One llama.cpp server for these tests: under xdist they all run on one worker.
pytestmark = pytest.mark.xdist_group("llama")

CREATE_TASK = [TOOLS_BY_NAME["create_task"]]
HELLO = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello."}]


def provider_for(server: LlamaServer, **overrides: Any) -> OpenAIProvider:
    assert server.url
    values: dict[str, Any] = {"llm_provider": "local", "llm_local_url": server.url,
                              "llm_timeout_s": 120.0} | overrides  # fmt: skip
    return OpenAIProvider.for_local_server(Settings(_env_file=None, **values))


async def collect(provider: LlmProvider, request: LlmRequest) -> list[Any]:
    return [chunk async for chunk in provider.stream(request)]


def few_shot_tool_turns() -> list[dict[str, Any]]:
    """Two earlier turns that called create_task and then answered, then the new request:
    the real shapes the brain sends (content None next to tool_calls, tool results as JSON
    strings). A 135M model follows the pattern it is shown, which is all these tests need."""
    messages: list[dict[str, Any]] = []
    for n, title in enumerate(("Buy milk", "Walk the dog")):
        messages += [
            {"role": "user", "content": f"Remind me to {title.lower()}."},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": f"call_{n}", "type": "function",
                 "function": {"name": "create_task", "arguments": f'{{"title": "{title}"}}'}}]},
            {"role": "tool", "tool_call_id": f"call_{n}", "name": "create_task",
             "content": f'{{"status": "success", "task": {{"title": "{title}"}}}}'},
            {"role": "assistant", "content": f"Done: {title}."},
        ]  # fmt: skip
    messages.append({"role": "user", "content": "Remind me to call John."})
    return messages


async def test_streams_tokens_with_the_servers_usage_and_finish_reason(
    llama_server: LlamaServer,
) -> None:
    provider = provider_for(llama_server)
    started = time.monotonic()
    arrivals: list[float] = []
    out: list[Any] = []
    async for chunk in provider.stream(LlmRequest(messages=HELLO, max_tokens=12, temperature=0)):
        arrivals.append(time.monotonic() - started)
        out.append(chunk)
    tokens = [c.text for c in out if isinstance(c, TokenChunk)]
    usage = out[-1]
    assert len(tokens) >= 2 and "".join(tokens).strip()
    assert arrivals[0] < arrivals[-1]  # streamed, not one block at the end
    assert isinstance(usage, UsageChunk) and not usage.estimated
    assert usage.finish_reason in ("stop", "length")
    assert 1 <= usage.completion_tokens <= 12
    # The server's count is the tokenizer's count of the rendered prompt: same number.
    tokenizer = LlamaCppTokenizer(llama_server.url or "")
    assert usage.prompt_tokens == await tokenizer.count_prompt(HELLO, [])


async def test_token_counts_build_no_tls_context_per_call(
    llama_server: LlamaServer, contexts_built: list[object]
) -> None:
    """Each count is a new HTTP client: with its own TLS context that was ~31 ms of CPU a
    count, paid on every turn's usage estimate."""
    tokenizer = LlamaCppTokenizer(llama_server.url or "")
    counts = [await tokenizer.count_prompt(HELLO, []) for _ in range(3)]
    assert counts[0] > 0 and len(set(counts)) == 1
    assert await tokenizer.count_text("hello there") > 0
    assert contexts_built == []


async def test_usage_estimate_uses_the_servers_tokenizer(llama_server: LlamaServer) -> None:
    provider = provider_for(llama_server)
    request = LlmRequest(messages=HELLO, tools=CREATE_TASK, max_tokens=4, temperature=0)
    [*_, usage] = await collect(provider, request)
    estimated, _ = await provider._estimate(request, "")
    assert estimated == usage.prompt_tokens  # exact, tools included


async def test_native_tool_call_under_required_and_the_tool_message_round_trip(
    llama_server: LlamaServer,
) -> None:
    provider = provider_for(llama_server)
    messages = few_shot_tool_turns()
    out = await collect(
        provider,
        LlmRequest(messages=messages, tools=CREATE_TASK, tool_choice="required",
                   max_tokens=48, temperature=0),
    )  # fmt: skip
    calls = [c for c in out if isinstance(c, ToolCallChunk)]
    assert not [c for c in out if isinstance(c, TokenChunk)]  # no raw <tool_call> text
    assert [c.name for c in calls] == ["create_task"]
    assert isinstance(calls[0].arguments, dict) and calls[0].id
    assert out[-1].finish_reason == "tool_calls"

    # The answer after the tool result: the assistant message with content None and
    # tool_calls, then the tool message, go back to the server; it answers in text.
    messages += [
        {"role": "assistant", "content": None, "tool_calls": [calls[0].as_message_tool_call()]},
        {"role": "tool", "tool_call_id": calls[0].id, "name": "create_task",
         "content": '{"status": "success", "task": {"title": "Call John"}}'},
    ]  # fmt: skip
    answer = await collect(
        provider,
        LlmRequest(messages=messages, tools=CREATE_TASK, tool_choice="none",
                   max_tokens=16, temperature=0),
    )  # fmt: skip
    assert "".join(c.text for c in answer if isinstance(c, TokenChunk)).strip()
    assert not [c for c in answer if isinstance(c, ToolCallChunk)]


async def test_cancel_mid_stream_stops_the_generation(llama_server: LlamaServer) -> None:
    provider = provider_for(llama_server)
    request = LlmRequest(
        messages=[{"role": "user", "content": "Write a very long story about the sea."}],
        max_tokens=400,
        temperature=0.8,
    )
    stream = cast(AsyncGenerator[Any, None], provider.stream(request))
    received = 0
    async for chunk in stream:
        received += isinstance(chunk, TokenChunk)
        if received == 3:
            break
    await stream.aclose()  # what a cancelled activity does: the HTTP stream is closed

    async def idle_after_few_tokens() -> bool:
        async with httpx.AsyncClient() as http:
            [slot] = (await http.get(f"{llama_server.url}/slots")).json()
        return not slot["is_processing"] and slot["next_token"][0]["n_decoded"] < 400

    await eventually(idle_after_few_tokens, timeout=10)


async def test_over_context_is_a_permanent_error(llama_server: LlamaServer) -> None:
    provider = provider_for(llama_server)
    long = [{"role": "user", "content": "word " * 5000}]  # more than the 4096-token context
    with pytest.raises(LlmError) as err:
        await collect(provider, LlmRequest(messages=long, max_tokens=4))
    assert err.value.status_code == 400 and err.value.retryable is False
    assert "context" in str(err.value)


async def test_a_request_the_server_refuses_is_not_retried(llama_server: LlamaServer) -> None:
    broken = [{"type": "function", "function": {"name": "x", "parameters": {
        "type": "object", "properties": {"a": {"type": "strin"}}}}}]  # fmt: skip
    with pytest.raises(LlmError) as err:
        await collect(
            provider_for(llama_server),
            LlmRequest(messages=HELLO, tools=broken, tool_choice="required", max_tokens=4),
        )
    assert err.value.status_code == 400 and err.value.retryable is False


async def test_the_static_prefix_is_served_from_the_cache(llama_server: LlamaServer) -> None:
    """The app's layout (static system prompt, tools, then the changing data) lets the
    server reuse the evaluated prefix: a later turn evaluates only its changing tail. One
    tool instead of seven keeps the test short; the full prompt is the end-to-end test's."""
    messages, _ = static_prefix()
    await llama_server.warm(messages, CREATE_TASK)
    provider = provider_for(llama_server)
    follow_up = [messages[0], {"role": "system", "content": "Current time: 10:05."},
                 {"role": "user", "content": "Hello!"}]  # fmt: skip
    kwargs = provider.request_kwargs(LlmRequest(messages=follow_up, tools=CREATE_TASK,
                                                max_tokens=1))  # fmt: skip
    body = {**kwargs.pop("extra_body"), **kwargs, "stream": False}  # as the SDK sends it
    async with httpx.AsyncClient(timeout=300) as http:
        r = await http.post(f"{llama_server.url}/v1/chat/completions", json=body)
    timings = r.json()["timings"]
    # Only the changing tail is evaluated; the system prompt + tools come from the cache.
    assert timings["cache_n"] > 400 and timings["prompt_n"] < 40


async def test_a_server_that_dies_mid_stream_is_a_retryable_error(tmp_path: Any) -> None:
    server = new_server(require_local_model(), tmp_path / "server.log", ctx=512)
    server.start()
    try:
        await server.wait_ready(120)
        provider = provider_for(server)
        request = LlmRequest(
            messages=[{"role": "user", "content": "Count from one to one hundred."}],
            max_tokens=300,
        )
        received = 0
        with pytest.raises(LlmError) as err:
            async for chunk in provider.stream(request):
                received += isinstance(chunk, TokenChunk)
                if received == 2:
                    assert server.process is not None
                    os.killpg(server.process.pid, signal.SIGKILL)
        assert err.value.retryable is True
    finally:
        server.stop()


def test_a_model_file_that_is_not_the_pinned_one_is_refused(tmp_path: Any) -> None:
    require_local_model()
    fake = tmp_path / PINNED.filename
    fake.write_bytes(b"GGUF not really")
    with pytest.raises(ModelError, match="sha256"):
        resolve(Settings(_env_file=None, llm_local_model_dir=tmp_path))
    assert sha256_file(MODEL_DIR / PINNED.filename) == PINNED.sha256


async def test_the_child_stops_when_its_parent_is_killed(tmp_path: Any) -> None:
    """The server is a child like the Temporal dev server: it never outlives its parent."""
    model = require_local_model()
    script = (
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from mcos.infra.llamaserver import LlamaServer\n"
        "from mcos.llm.local_model import LocalModel\n"
        f"s = LlamaServer(LocalModel(Path({str(model.path)!r}), 'x', None), ctx=256)\n"
        "s.start()\n"
        "print('READY', asyncio.run(s.wait_ready(120)), s.process.pid, flush=True)\n"
        "import time; time.sleep(600)\n"
    )
    parent = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, stdout=asyncio.subprocess.PIPE
    )
    assert parent.stdout is not None
    line: list[str] = []
    while not line or line[0] != "READY":  # log lines come first
        line = (await asyncio.wait_for(parent.stdout.readline(), 120)).decode().split()
    url, child_pid = line[1], int(line[2])
    async with httpx.AsyncClient() as http:
        assert (await http.get(f"{url}/health")).status_code == 200
    parent.kill()
    await parent.wait()

    def child_gone() -> bool:
        try:  # gone, or a zombie waiting for its new parent to reap it
            return "\tZ" in Path(f"/proc/{child_pid}/status").read_text().split("State:")[1][:4]
        except (FileNotFoundError, ProcessLookupError):
            return True

    await eventually(child_gone, timeout=10)


async def test_the_entry_points_server_is_started_used_and_stopped(tmp_path: Path) -> None:
    """What `mcos dev --llm local` and `worker.py` do: start, point the provider, stop."""
    require_local_model()
    settings = Settings(_env_file=None, llm_provider="local", data_dir=tmp_path,
                        llm_local_model_dir=MODEL_DIR, llm_local_ctx=2048)  # fmt: skip
    async with local_llm_server(settings) as running:
        assert running.llm_local_url and running.llm_local_model_alias == PINNED.alias
        out = await collect(
            make_provider(running),
            LlmRequest(messages=HELLO, max_tokens=4, temperature=0),
        )
        assert [c for c in out if isinstance(c, TokenChunk)]
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as http:
            await http.get(f"{running.llm_local_url}/health")


def test_local_without_a_server_or_a_model_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="mcos dev"):
        make_provider(Settings(_env_file=None, llm_provider="local"))
    with pytest.raises(ModelError, match="mcos model install"):
        resolve(Settings(_env_file=None, llm_local_model_dir=tmp_path))
