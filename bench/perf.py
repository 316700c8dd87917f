"""Performance at load, in one run against its own Temporal dev server (issue 15).

    .venv/bin/python -m bench.perf [--quick] [--only ttft,saturation,relay,idle,chain,cpu]

Every figure that depends on the machine is a ratio against a baseline taken in the same
run, interleaved with the subject: the bare Temporal floor (a signal that starts an
activity, ``bench/floor.py``) runs between this project's rounds. Parts:

- ``ttft``: time to first token (``message.send`` on the WebSocket → first ``llm.token``,
  offline model at zero delay) for 1, 50 and 200 users, p50/p99 and the ratio to the floor.
- ``saturation``: turns/s with 50 users sending in a closed loop (each waits for its
  ``message.completed``), against the floor's signal→activity round trips/s.
- ``relay``: aggregate ``llm.token`` frames/s relayed through the API's WebSocket for one
  and 100 concurrent long answers (offline model at zero delay); every token is checked to
  arrive, in order (coalesced frames count their tokens).
- ``idle``: RSS per idle WebSocket with 1,000 connections (in-process bus; the clients run
  in a child process so their memory is not counted).
- ``chain``: one user after 10,000 messages (chat replies off: signals only), then the
  state query's p50 (``GET /api/v1/state``) and the runs in the continue-as-new chain.
- ``cpu``: CPU per turn with 50 users in the worker+API process (event loop, workflow
  threads, SDK core threads), the Temporal server and the floor, from process CPU times.

``--profile FILE`` runs py-spy (``pip install .[bench]``) over this process during the
``cpu`` part's project rounds only, writes the collapsed stacks to FILE and prints where
the samples went (inclusive share of the busiest functions).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import gc
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import psutil  # noqa: E402
import websockets  # noqa: E402
from temporalio.client import Client  # noqa: E402
from temporalio.contrib.pydantic import pydantic_data_converter  # noqa: E402
from temporalio.service import RPCError  # noqa: E402
from temporalio.worker import Worker  # noqa: E402
from websockets.typing import Subprotocol  # noqa: E402

from app.main import create_app  # noqa: E402
from bench.floor import STARTED, FloorWorkflow, floor_activity  # noqa: E402
from bench.serving import served  # noqa: E402
from mcos.infra.auth import issue_dev_token  # noqa: E402
from mcos.infra.bus import MemoryBus  # noqa: E402
from mcos.infra.devserver import DevServer  # noqa: E402
from mcos.kernel.contracts import SEARCH_ATTRIBUTES  # noqa: E402
from mcos.kernel.settings import Settings  # noqa: E402
from mcos.llm.base import Chunk, LlmRequest, TokenChunk, UsageChunk  # noqa: E402
from mcos.llm.offline import OfflineProvider  # noqa: E402
from workflows.client import BrainClient, make_event  # noqa: E402
from workflows.sandbox import workflow_runner  # noqa: E402

STALL_S = 60.0
PARTS = ("ttft", "saturation", "relay", "idle", "chain", "cpu")
STREAM = "#stream "  # "#stream 5000": the bench model answers with that many tokens


class BenchModel:
    """The offline model at zero delay; ``#stream N`` answers with N one-word tokens."""

    billable = False

    def __init__(self) -> None:
        self.offline = OfflineProvider(token_delay_ms=0)

    async def stream(self, request: LlmRequest) -> AsyncIterator[Chunk]:
        last: dict[str, Any] = next(
            (m for m in reversed(request.messages) if m.get("role") == "user"), {}
        )
        text = str(last.get("content") or "")
        if not text.startswith(STREAM):
            async for chunk in self.offline.stream(request):
                yield chunk
            return
        count = int(text[len(STREAM) :].split()[0])
        for index in range(count):
            if index:
                await asyncio.sleep(0)  # what the offline model does at zero delay
            yield TokenChunk(text="tok ")
        yield UsageChunk(prompt_tokens=1, completion_tokens=count)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def ms(value: float) -> str:
    return f"{value * 1000:8.1f} ms"


async def gather_limited(jobs: list[Callable[[], Awaitable[Any]]], limit: int) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def one(job: Callable[[], Awaitable[Any]]) -> Any:
        async with gate:
            return await job()

    return await asyncio.gather(*[one(j) for j in jobs])


class Turn:
    """One chat turn as the client saw it."""

    def __init__(self) -> None:
        self.sent = time.perf_counter()
        self.first: float | None = None
        self.last: float | None = None
        self.tokens = 0
        self.frames = 0
        self.restarts = 0

    @property
    def ttft(self) -> float:
        assert self.first is not None
        return self.first - self.sent


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.quick = args.quick
        self.lines: list[str] = []
        self.sockets: dict[str, Any] = {}
        self.floors: list[str] = []
        self.stalls = 0

    def say(self, line: str = "") -> None:
        print(line, flush=True)
        self.lines.append(line)

    # --- setup ------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        port = self.args.port
        server = DevServer(None, port=port, ui_port=None, search_attributes=SEARCH_ATTRIBUTES)
        server.start()
        self.server = server
        try:
            await server.wait_healthy()
            assert server.process is not None
            self.server_proc = psutil.Process(server.process.pid)
            client = await Client.connect(server.address, data_converter=pydantic_data_converter)
            self.client = client
            self.floor_tq = f"floor-{uuid.uuid4().hex[:6]}"
            floor_worker = Worker(
                client,
                task_queue=self.floor_tq,
                workflows=[FloorWorkflow],
                activities=[floor_activity],
                workflow_runner=workflow_runner(),
                max_concurrent_activities=200,
            )
            with tempfile.TemporaryDirectory() as tmp:
                self.settings = Settings(
                    _env_file=None,
                    data_dir=Path(tmp),
                    temporal_address=server.address,
                    temporal_task_queue=f"bench-{uuid.uuid4().hex[:6]}",
                    offline_token_delay_ms=0,
                    embedded_worker=True,
                    port=port + 1,
                    web_dist=Path(tmp) / "none",
                    limit_messages_per_minute=1_000_000,
                    limit_writes_per_day=1_000_000,
                    log_level="WARNING",
                    limit_ws_frames_per_minute=100_000_000,  # measure the relay, not the budget
                    temporal_search_attributes=True,
                )
                self.bus = MemoryBus()
                app = create_app(self.settings, bus=self.bus, client=client, provider=BenchModel())
                # keep-alive pings off: a starved loop is measured, not ended
                api = served(app, self.settings, port + 1, backlog=4096, ws_ping_interval=None)
                async with api as self.base:
                    try:
                        async with floor_worker:
                            yield
                    finally:
                        for ws in list(self.sockets.values()):
                            await ws.close()
                        for wid in self.floors:
                            with contextlib.suppress(Exception):
                                await client.get_workflow_handle(wid).signal(FloorWorkflow.stop)
        finally:
            server.stop()

    # --- the floor --------------------------------------------------------------------

    async def floor_ids(self, n: int) -> list[str]:
        while len(self.floors) < n:
            wid = f"floor-{uuid.uuid4().hex[:8]}"
            await self.client.start_workflow(FloorWorkflow.run, id=wid, task_queue=self.floor_tq)
            self.floors.append(wid)
            await self.floor_once(wid)  # warm
        return self.floors[:n]

    async def floor_once(self, wid: str) -> float:
        key = uuid.uuid4().hex
        future = STARTED[key] = asyncio.get_running_loop().create_future()
        sent = time.perf_counter()
        for attempt in range(3):  # an overloaded machine drops an RPC now and then
            try:
                await self.client.get_workflow_handle(wid).signal(FloorWorkflow.ping, key)
                break
            except RPCError:
                if attempt == 2:
                    raise
                await asyncio.sleep(0.5)
        try:
            started = await asyncio.wait_for(future, 60)
        finally:
            STARTED.pop(key, None)
        return started - sent

    # --- this project -------------------------------------------------------------------

    async def connect(self, user: str) -> Any:
        token = issue_dev_token(user, self.settings)
        ws = await websockets.connect(
            self.base.replace("http", "ws") + "/api/v1/ws",
            subprotocols=[Subprotocol("bearer"), Subprotocol(token)],
            max_size=None,
            open_timeout=60,
            ping_interval=None,  # a starved event loop must not end the bench's own sockets
        )
        await ws.send(json.dumps({"type": "ping"}))
        while json.loads(await ws.recv())["type"] != "pong":
            pass
        return ws

    async def users(self, n: int) -> list[Any]:
        """n connected users whose brains have answered once (warm)."""
        names = [f"bench-{i}" for i in range(n)]
        missing = [u for u in names if u not in self.sockets]

        async def start(user: str) -> None:
            self.sockets[user] = await self.connect(user)
            await self.go(user)

        t0 = time.perf_counter()
        await gather_limited([functools.partial(start, u) for u in missing], 20)
        if missing and self.args.verbose:
            print(f"  [{len(missing)} brains started in {time.perf_counter() - t0:.1f} s]")
        return names

    async def go(self, user: str) -> Turn | None:
        """One turn of a user's; a turn with no frame for STALL_S is counted as stalled
        (the user reconnects) instead of ending the run."""
        try:
            return await self.turn(self.sockets[user], patience=STALL_S)
        except TimeoutError:
            self.stalls += 1
            with contextlib.suppress(Exception):
                await self.sockets[user].close()
            self.sockets[user] = await self.connect(user)
            return None

    async def turn(
        self, ws: Any, text: str = "Hello! What can you do?", patience: float = 120
    ) -> Turn:
        turn = Turn()
        await ws.send(
            json.dumps({"type": "message.send", "text": text, "client_action_id": uuid.uuid4().hex})
        )
        expected: int | None = None
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), patience))
            kind = frame["type"]
            if kind == "llm.token":
                now = time.perf_counter()
                data = frame["data"]
                first = data.get("first_index", data["index"])
                if expected is not None and first != expected:
                    raise AssertionError(f"token {expected} missing (got {frame})")
                expected = data["index"] + 1
                turn.tokens += data.get("count", 1)
                turn.frames += 1
                turn.first = turn.first or now
                turn.last = now
            elif kind == "llm.restarted":  # a retried attempt: its tokens start again
                expected = frame["data"]["from_index"]
                turn.tokens = expected
                turn.restarts += 1
            elif kind == "message.completed" and frame["data"].get("role") == "assistant":
                if turn.first is None:
                    raise AssertionError(f"a reply without tokens: {frame}")
                return turn
            elif kind in ("error", "busy", "rate_limited", "resync"):
                raise AssertionError(f"unexpected frame {frame}")

    # --- parts --------------------------------------------------------------------------

    async def ttft(self) -> None:
        self.say(
            "Time to first token (floor: signal → activity start; project: message.send "
            "→ first llm.token)"
        )
        rounds = {
            1: 10 if self.quick else 30,
            50: 2 if self.quick else 4,
            200: 1 if self.quick else 2,
        }
        for n, count in rounds.items():
            names, floors = await self.users(n), await self.floor_ids(n)
            floor: list[float] = []
            project: list[float] = []
            t0 = time.perf_counter()
            for _ in range(count):
                floor += await asyncio.gather(*[self.floor_once(w) for w in floors])
                turns = await asyncio.gather(*[self.go(u) for u in names])
                project += [t.ttft for t in turns if t is not None]
            took = time.perf_counter() - t0
            f50, p50 = pct(floor, 50), pct(project, 50)
            self.say(
                f"  {n:>3} user(s)  floor p50 {ms(f50)} p99 {ms(pct(floor, 99))}   project "
                f"p50 {ms(p50)} p99 {ms(pct(project, 99))}   ratio p50 {p50 / f50:4.2f}  "
                f"p99 {pct(project, 99) / pct(floor, 99):4.2f}   ({len(project)} turns, "
                f"{took:.0f} s)"
            )

    async def saturation(self) -> None:
        users = 50
        window = 4.0 if self.quick else 8.0
        names, floors = await self.users(users), await self.floor_ids(users)

        async def closed_loop(job: Callable[[], Awaitable[Any]], until: float) -> int:
            done = 0
            while time.perf_counter() < until:
                await job()
                done += 1
            return done

        async def rate(jobs: list[Callable[[], Awaitable[Any]]]) -> float:
            t0 = time.perf_counter()
            counts = await asyncio.gather(*[closed_loop(j, t0 + window) for j in jobs])
            return sum(counts) / (time.perf_counter() - t0)

        floor_rates, project_rates = [], []
        for _ in range(2):  # interleaved
            floor_rates.append(await rate([functools.partial(self.floor_once, w) for w in floors]))
            project_rates.append(await rate([functools.partial(self.go, u) for u in names]))
        f, p = statistics.mean(floor_rates), statistics.mean(project_rates)
        self.say(
            f"Turns/s at saturation ({users} users, closed loop, 2 × {window:.0f} s each, "
            "interleaved)"
        )
        self.say(f"  floor {f:7.1f}/s   project {p:7.1f}/s   ratio {p / f:4.2f}  (target ≥ 0.60)")

    async def relay(self) -> None:
        one = 5000 if self.quick else 20000
        each = 2000  # long enough that the 100 streams overlap (at 500 they barely did)
        self.say("Relay (LLM activity → bus → API WebSocket → client; offline model at 0 ms)")
        [name] = await self.users(1)
        turn = await self.turn(self.sockets[name], f"{STREAM}{one}")
        assert turn.tokens == one, (turn.tokens, one)
        rate = (turn.tokens - 1) / ((turn.last or 0) - (turn.first or 0))
        self.say(
            f"   1 stream : {rate:9,.0f} tokens/s   ({one} tokens in {turn.frames} frames; "
            "target ≥ 5,000)"
        )
        names = await self.users(100)
        turns = await asyncio.gather(
            *[self.turn(self.sockets[u], f"{STREAM}{each}") for u in names]
        )
        assert all(t.tokens == each for t in turns)
        span = max(t.last or 0 for t in turns) - min(t.first or 0 for t in turns)
        total = sum(t.tokens for t in turns)
        frames = sum(t.frames for t in turns)
        self.say(
            f"  100 streams: {total / span:9,.0f} tokens/s aggregate   ({total} tokens in "
            f"{frames} frames; target ≥ 20,000)"
        )

    async def idle(self) -> None:
        n = 200 if self.quick else 1000
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
        me = psutil.Process()
        await self._idle_round(20)  # warm every code path first

        gc.collect()
        before = me.memory_info().rss
        child = subprocess.Popen(  # noqa: ASYNC220 - started once, read in a thread
            [sys.executable, "-m", "bench.perf", "--idle-clients", str(n), self.base],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert child.stdout is not None and child.stdin is not None
        line = await asyncio.to_thread(child.stdout.readline)
        if line.strip() != b"ready":
            raise RuntimeError(f"idle clients failed: {line!r}")
        await asyncio.sleep(1.0)
        gc.collect()
        after = me.memory_info().rss
        child.stdin.close()
        await asyncio.to_thread(child.wait, 60)
        per = (after - before) / n
        self.say(
            f"Idle WebSockets: {n} connections → {per / 1024:6.1f} KB RSS each "
            "(in-process bus; target ≤ 64 KB)"
        )

    async def _idle_round(self, n: int) -> None:
        sockets = [await self.connect(f"idle-warm-{i}") for i in range(n)]
        for ws in sockets:
            await ws.close()

    async def chain(self) -> None:
        n = 2000 if self.quick else 10_000
        user = f"bench-chain-{uuid.uuid4().hex[:6]}"
        quiet = self.settings.model_copy(update={"brain_chat_replies": False})
        brain = BrainClient(self.client, quiet)
        t0 = time.perf_counter()

        async def send(i: int) -> None:
            event = make_event(
                "user.message",
                {"message_id": f"msg_{uuid.uuid4().hex}", "text": f"note {i}", "channel": "chat"},
                None,
            )
            await brain.signal_event(user, event)

        await send(0)
        # Eight senders: hundreds a second, far above the gateway's 60 a minute, yet a pace at
        # which the worker gets a turn. At 32 a 10,000-message flood piled ~3,000 signals into
        # one workflow task, which then took longer than the SDK's 2 s deadlock limit.
        await gather_limited([functools.partial(send, i) for i in range(1, n)], 8)
        while True:
            state = await brain.snapshot(user)
            if state.counters.messages_total >= n:
                break
            await asyncio.sleep(0.2)
        took = time.perf_counter() - t0
        token = issue_dev_token(user, self.settings)

        async def state_times() -> list[float]:
            times: list[float] = []
            async with httpx.AsyncClient(
                base_url=self.base, headers={"Authorization": f"Bearer {token}"}
            ) as http:
                for _ in range(60):
                    t = time.perf_counter()
                    r = await http.get("/api/v1/state")
                    r.raise_for_status()
                    times.append(time.perf_counter() - t)
            return times

        draining = await state_times()  # right after: the archival backlog still draining
        t1 = time.perf_counter()
        while True:  # settled: every message past the state's limit is in SQL
            state = await brain.snapshot(user)
            if state.counters.messages_archived + len(state.messages) >= n:
                break
            if time.perf_counter() - t1 > 300:
                raise AssertionError(f"archival not done in 300 s: {state.counters}")
            await asyncio.sleep(0.2)
        settle = time.perf_counter() - t1
        times = await state_times()
        [floor] = await self.floor_ids(1)
        handle = self.client.get_workflow_handle(floor)
        floor_times: list[float] = []
        for _ in range(60):
            t = time.perf_counter()
            await handle.query(FloorWorkflow.waiting)
            floor_times.append(time.perf_counter() - t)
        diag = await brain.diagnostics(user)
        assert diag is not None
        self.say(
            f"One user after {n:,} messages (signals, chat replies off; {took:.0f} s, "
            f"{n / took:.0f}/s; archival done {settle:.0f} s later)"
        )
        self.say(
            f"  GET /api/v1/state p50 {ms(pct(times, 50))} p99 {ms(pct(times, 99))}   "
            f"runs in the chain {diag.run + 1}   history now {diag.history_length} events  "
            "(target p50 < 20 ms)"
        )
        self.say(
            f"  while archival drained: p50 {ms(pct(draining, 50))} p99 {ms(pct(draining, 99))}"
        )
        self.say(
            f"  floor: a bare workflow query p50 {ms(pct(floor_times, 50))}   ratio "
            f"{pct(times, 50) / pct(floor_times, 50):4.2f}"
        )

    async def cpu(self) -> None:
        users, count = 50, 2 if self.quick else 4
        names, floors = await self.users(users), await self.floor_ids(users)
        me = psutil.Process()
        totals: dict[str, dict[str, float]] = {"floor": {}, "project": {}}

        def sample() -> dict[str, float]:
            python_threads = {t.native_id: t.name for t in threading.enumerate()}
            out = {
                "server": sum(self.server_proc.cpu_times()[:2]),
                "loop": 0.0,
                "workflows": 0.0,
                "core": 0.0,
            }
            main = threading.main_thread().native_id
            for t in me.threads():
                cpu = t.user_time + t.system_time
                if t.id == main:
                    out["loop"] += cpu
                elif t.id in python_threads:
                    out["workflows"] += cpu
                else:
                    out["core"] += cpu
            return out

        async def measured(kind: str, job: Callable[[], Awaitable[Any]]) -> None:
            a = sample()
            await job()
            b = sample()
            for k in a:
                totals[kind][k] = totals[kind].get(k, 0.0) + b[k] - a[k]

        spy = None
        if self.args.profile:
            spy = subprocess.Popen(  # noqa: ASYNC220 - started once
                [
                    str(Path(sys.executable).parent / "py-spy"),
                    "record",
                    "--pid",
                    str(os.getpid()),
                    "--format",
                    "raw",
                    "-r",
                    "200",
                    "-o",
                    self.args.profile,
                    "--nonblocking",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            await asyncio.sleep(1.0)
        for _ in range(count):
            await measured("floor", lambda: asyncio.gather(*[self.floor_once(w) for w in floors]))
            await measured("project", lambda: asyncio.gather(*[self.go(u) for u in names]))
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            await asyncio.to_thread(spy.wait, 60)
        turns = users * count
        self.say(f"CPU per turn, {users} users ({turns} turns each; ms of CPU per turn)")
        self.say(
            "            Temporal server   event loop (API+activities+clients)   "
            "workflow threads   SDK core   total"
        )
        for kind in ("floor", "project"):
            t = {k: v / turns * 1000 for k, v in totals[kind].items()}
            self.say(
                f"  {kind:<8}  {t['server']:12.2f}   {t['loop']:30.2f}   "
                f"{t['workflows']:18.2f}   {t['core']:8.2f}   {sum(t.values()):6.2f}"
            )
        if self.args.profile:
            for line in summarize(Path(self.args.profile)):
                self.say(line)


def summarize(path: Path, top: int = 40) -> list[str]:
    """py-spy's collapsed stacks: the inclusive share of samples of the busiest functions."""
    total, inclusive = 0, Counter[str]()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        total += int(count)
        names = set()
        for frame in stack.split(";"):
            name, _, where = frame.partition(" (")
            where = where.split(":")[0].split("site-packages/")[-1].replace(str(ROOT) + "/", "")
            names.add(f"{name} ({where})")
        for name in names:
            inclusive[name] += int(count)
    out = [f"py-spy: {total} samples over the project rounds; inclusive share"]
    out += [f"  {100 * n / max(total, 1):5.1f}%  {name}" for name, n in inclusive.most_common(top)]
    return out


async def idle_clients(n: int, base: str) -> None:
    """The idle test's clients (a child process): n connections, each answered a ping."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    settings = Settings(_env_file=None)
    url = base.replace("http", "ws") + "/api/v1/ws"

    async def one(i: int) -> Any:
        token = issue_dev_token(f"idle-{i}", settings)
        ws = await websockets.connect(
            url,
            subprotocols=[Subprotocol("bearer"), Subprotocol(token)],
            open_timeout=120,
            ping_interval=None,
        )
        await ws.send(json.dumps({"type": "ping"}))
        while json.loads(await ws.recv())["type"] != "pong":
            pass
        return ws

    sockets = await gather_limited([functools.partial(one, i) for i in range(n)], 50)
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.read)
    for ws in sockets:
        await ws.close()


async def run(args: argparse.Namespace) -> None:
    bench = Bench(args)
    chosen = [p for p in PARTS if not args.only or p in args.only.split(",")]
    bench.say(
        f"bench.perf {'--quick ' if args.quick else ''}parts: {', '.join(chosen)}   "
        f"cpus {os.cpu_count()}   load average {os.getloadavg()[0]:.1f} at start"
    )
    async with bench.running():
        for part in chosen:
            t0 = time.perf_counter()
            await getattr(bench, part)()
            if args.verbose:
                print(f"  [{part}: {time.perf_counter() - t0:.0f} s]", flush=True)
    bench.say(f"turns stalled (no frame for {STALL_S:.0f} s): {bench.stalls}")
    bench.say(f"load average {os.getloadavg()[0]:.1f} at the end")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds, smaller counts")
    parser.add_argument("--only", default="", help=f"comma-separated parts of: {','.join(PARTS)}")
    parser.add_argument("--port", type=int, default=7700, help="dev server port (API: +1)")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--profile", metavar="FILE", help="py-spy the cpu part's rounds into FILE")
    parser.add_argument("--idle-clients", nargs=2, metavar=("N", "BASE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.idle_clients:
        asyncio.run(idle_clients(int(args.idle_clients[0]), args.idle_clients[1]))
        return
    unknown = set(filter(None, args.only.split(","))) - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s) {', '.join(sorted(unknown))}; choose from {PARTS}")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
