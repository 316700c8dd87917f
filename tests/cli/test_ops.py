"""``mcos send|tail|state|history|users`` against a real API + worker + Temporal dev server,
and the README's raw ``temporal workflow signal`` example run through the temporal CLI."""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.client import Client

from mcos.infra.bus import MemoryBus
from mcos.kernel.settings import Settings
from tests.app.chat_helpers import say
from tests.app.conftest import Api, running_api
from tests.cli.helpers import MCOS, ROOT, cli_env, mcos
from tests.conftest import eventually, user_id
from tests.workflows.helpers import snapshot

TEMPORAL = Path(sys.executable).parent / "temporal"


@pytest.fixture
async def api(settings: Settings, temporal_client: Client) -> AsyncIterator[Api]:
    async with running_api(settings, temporal_client) as a:
        yield a


def conn(api: Api) -> list[str]:
    return ["--api", api.base_url, "--address", api.settings.temporal_address or ""]


async def test_send_prints_the_streamed_answer_and_state_shows_the_task(api: Api) -> None:
    uid = user_id()
    ran = await mcos("send", uid, "Remind me to call John tomorrow at 3pm", *conn(api))
    assert ran.rc == 0, ran
    state = await snapshot(api.app.state.ctx.client, uid)
    reply = [m for m in state.messages if m.role == "assistant"][-1]
    assert reply.text.strip() and reply.text.strip() in ran.out  # the answer, printed
    titles = [t.title for t in state.tasks.values()]
    assert any("John" in t for t in titles), titles

    shown = await mcos("state", uid, *conn(api))
    assert shown.rc == 0, shown
    assert re.search(r"task task_[0-9a-f]{32} \[open\] '.*John.*'", shown.out), shown.out
    as_json = json.loads((await mcos("state", uid, "--json", *conn(api))).out)
    assert as_json["user_id"] == uid and len(as_json["tasks"]) == len(state.tasks)

    history = json.loads((await mcos("history", uid, "--json", *conn(api))).out)
    assert [m["role"] for m in history] == ["user", "assistant"]
    assert history[0]["text"] == "Remind me to call John tomorrow at 3pm"
    text = (await mcos("history", uid, *conn(api))).out
    assert "user      Remind me to call John tomorrow at 3pm" in text

    async def listed() -> dict | None:
        rows = json.loads((await mcos("users", "--json", *conn(api))).out)
        return next((r for r in rows if r["user_id"] == uid and r["messages"] == 2), None)

    row = await eventually(listed, 60, 1)  # visibility is eventually consistent
    assert row["status"] == "RUNNING" and row["open_tasks"] == 1


async def test_send_json_and_refusals(api: Api) -> None:
    uid = user_id()
    ran = await mcos("send", uid, "Hello!", "--json", *conn(api))
    assert ran.rc == 0, ran
    out = json.loads(ran.out)
    assert out["message"]["role"] == "assistant" and out["message"]["text"]
    too_long = await mcos("send", uid, "x" * 20000, *conn(api))
    assert too_long.rc == 1 and "refused" in too_long.err
    nobody = await mcos("state", user_id(), *conn(api))
    assert nobody.rc == 1 and "no brain" in nobody.err
    unreachable = await mcos("send", uid, "hi", "--api", "http://127.0.0.1:1")
    assert unreachable.rc == 2 and "cannot reach the API" in unreachable.err


async def test_tail_prints_the_frames_of_a_turn_sent_from_the_ui(api: Api) -> None:
    uid = user_id()
    proc = await asyncio.create_subprocess_exec(
        str(MCOS), "tail", uid, "--turns", "1", "--json", *conn(api),
        cwd=ROOT, env=cli_env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        await eventually(lambda: _subscribed(api, uid), 60)
        async with await api.ws(uid) as ws:  # the chat UI's socket
            turn = await say(ws, "Hello there")
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err
    frames = [json.loads(line) for line in out.decode().splitlines()]
    kinds = [f["type"] for f in frames]
    assert "llm.token" in kinds and kinds[-1] == "message.completed", kinds
    assert frames[-1]["data"]["text"] == turn.text
    assert "".join(f["data"]["text"] for f in frames if f["type"] == "llm.token") == turn.streamed


def _subscribed(api: Api, uid: str) -> bool:
    """True once a subscriber (the tail) follows ``uid`` on the bus."""
    assert isinstance(api.bus, MemoryBus)  # running_api's default bus
    stream = api.bus._streams.get(uid)
    return stream is not None and bool(stream.subscribers)


def readme_command(prefix: str) -> str:
    """The first shell command in the README starting with ``prefix`` (continuations
    joined)."""
    text = (ROOT / "README.md").read_text()
    match = re.search(rf"^{re.escape(prefix)}.*?(?<!\\)$", text, re.M | re.S)
    assert match, f"no `{prefix}` example in the README"
    return match.group(0).replace("\\\n", " ")


async def test_the_readme_signal_example_produces_an_answer(api: Api) -> None:
    uid = user_id()
    first = await mcos("send", uid, "Hello!", *conn(api))
    assert first.rc == 0, first
    command = readme_command(".venv/bin/temporal workflow signal ")
    assert "--address 127.0.0.1:7233" in command and "user-brain:alice" in command
    command = command.replace("127.0.0.1:7233", api.settings.temporal_address or "")
    command = command.replace("user-brain:alice", f"user-brain:{uid}")
    argv = shlex.split(command)
    proc = await asyncio.create_subprocess_exec(
        str(TEMPORAL), *argv[1:], stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, (out, err)
    client = api.app.state.ctx.client

    async def answered() -> list:
        state = await snapshot(client, uid)
        return [m for m in state.messages if m.role == "assistant"][1:]

    second = await eventually(answered, 60)
    assert second[0].text
    state = await snapshot(client, uid)
    asked = [m.text for m in state.messages if m.role == "user"]
    assert len(asked) == 2 and asked[1] in command

    update = readme_command(".venv/bin/temporal workflow update execute ")
    update = update.replace("127.0.0.1:7233", api.settings.temporal_address or "")
    update = update.replace("user-brain:alice", f"user-brain:{uid}")
    argv = shlex.split(update)
    proc = await asyncio.create_subprocess_exec(
        str(TEMPORAL), *argv[1:], stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, (out, err)
    tasks = (await snapshot(client, uid)).tasks
    assert [t.title for t in tasks.values()] == ["Buy milk"], tasks
