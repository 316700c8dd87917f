"""The local LLM on this machine: load time, memory, first token cold and warm, tokens/s.

    .venv/bin/mcos model install && .venv/bin/python bench/local_llm.py [--runs 3]

Starts the llama.cpp server (xllamacpp) with the pinned model the way `mcos dev --llm local`
does, then sends the app's real prompt shape (system prompt, the 7 tool schemas, history,
the changing context, the user's message) with streaming:

- cold: nothing cached, the whole prompt is evaluated before the first token;
- warm: after the static prefix (system prompt + tools) was evaluated once, as at start,
  each new turn only evaluates its changing tail. The ratio warm/cold is the prompt
  cache's effect, measured in the same run.

Figures: time to first streamed token (wall clock, client side), the server's prompt
evaluation and generation rates, and the server process's resident memory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from mcos.infra.llamaserver import LlamaServer, static_prefix  # noqa: E402
from mcos.kernel.settings import Settings  # noqa: E402
from mcos.llm.local_model import resolve  # noqa: E402
from mcos.llm.openai_provider import normalize_messages  # noqa: E402
from mcos.llm.prompt import SYSTEM_PROMPT, build_messages  # noqa: E402
from mcos.llm.tools import TOOL_SCHEMAS  # noqa: E402

HISTORY = [
    {"role": "user", "text": "Remind me to call John tomorrow at 3pm"},
    {"role": "assistant", "text": "Done: Call John, tomorrow at 3:00 PM."},
]


def turn(n: int) -> list[dict[str, Any]]:
    context = {
        "now": f"2026-11-25T10:{n:02d}-08:00",
        "weekday": "Wednesday",
        "timezone": "America/Los_Angeles",
        "open_tasks": [
            {
                "id": "tsk_1",
                "title": "Call John",
                "due": "2026-11-26T15:00:00-08:00",
                "priority": "normal",
            }
        ],  # fmt: skip
        "calendar": [
            {
                "title": "Team sync",
                "start": "2026-11-25T14:00:00-08:00",
                "end": "2026-11-25T14:30:00-08:00",
                "location": None,
            }
        ],  # fmt: skip
        "travel": [],
        "latest_flight_search": None,
    }
    prefs = {"home_airport": "SFO", "seat": "aisle"}
    return build_messages(SYSTEM_PROMPT, prefs, [], context, HISTORY, f"What is on today? ({n})")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def one(url: str, messages: list[dict[str, Any]], max_tokens: int) -> dict[str, Any]:
    body = {"messages": normalize_messages(messages), "tools": TOOL_SCHEMAS, "stream": True,
            "stream_options": {"include_usage": True}, "max_tokens": max_tokens,
            "temperature": 0, "cache_prompt": True}  # fmt: skip
    sent = time.perf_counter()
    first: float | None = None
    timings: dict[str, Any] = {}
    async with httpx.AsyncClient(timeout=600) as http:
        async with http.stream("POST", f"{url}/v1/chat/completions", json=body) as r:
            async for line in r.aiter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                chunk = json.loads(line[6:])
                delta = (chunk.get("choices") or [{}])[0].get("delta") or {}
                if first is None and (delta.get("content") or delta.get("tool_calls")):
                    first = time.perf_counter() - sent
                timings = chunk.get("timings") or timings
    return {"ttft_s": first, **timings}


async def main(runs: int, max_tokens: int) -> None:
    model = resolve(Settings(_env_file=None))
    log = Path(tempfile.mkdtemp()) / "llama-server.log"
    server = LlamaServer(model, ctx=8192, log_file=log)
    started = time.perf_counter()
    server.start()
    url = await server.wait_ready(300)
    assert server.process is not None
    load_s = time.perf_counter() - started
    print(f"model {model.path.name}  threads {server.threads}  load {load_s:.1f} s"
          f"  RSS {rss_mib(server.process.pid):.0f} MiB")  # fmt: skip
    try:
        cold = await one(url, turn(0), max_tokens)
        print(f"cold: first token {cold['ttft_s']:.2f} s  prompt {cold['prompt_n']} tokens "
              f"at {cold['prompt_per_second']:.0f} tok/s  generation "
              f"{cold['predicted_per_second']:.1f} tok/s")  # fmt: skip
        warm_at = time.perf_counter()
        await server.warm(*static_prefix())
        print(f"warm-up of the static prefix: {time.perf_counter() - warm_at:.1f} s")
        warm = [await one(url, turn(n), max_tokens) for n in range(1, runs + 1)]
        ttft = statistics.median(w["ttft_s"] for w in warm)
        print(
            f"warm: first token {ttft:.2f} s (median of {runs})  prompt evaluated "
            f"{statistics.median(w['prompt_n'] for w in warm):.0f} of "
            f"{statistics.median(w['prompt_n'] + w['cache_n'] for w in warm):.0f} tokens  "
            f"generation {statistics.median(w['predicted_per_second'] for w in warm):.1f} tok/s"
        )
        print(f"ratio warm/cold first token: {ttft / cold['ttft_s']:.3f}")
        print(f"RSS after {runs + 2} requests: {rss_mib(server.process.pid):.0f} MiB")
    finally:
        server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=48)
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.max_tokens))
