"""llama.cpp's OpenAI-compatible server (PyPI ``xllamacpp``) as a child process.

Managed like the Temporal dev server (:mod:`mcos.infra.devserver`): :meth:`LlamaServer.start`
spawns ``python -m mcos.infra.llamaserver`` in its own process group (it gets SIGTERM if
this process dies, and also stops by itself when its parent goes away), :meth:`wait_ready`
waits for the address it prints and for ``/health``, :meth:`warm` evaluates the static
prompt prefix (system prompt + tools) once so the first real turn finds it in the KV cache,
and :meth:`stop` ends it (SIGTERM, then SIGKILL). :func:`local_llm_server` does all of that
for an entry point and returns the settings pointing the ``local`` provider at it.

The child loads the model in-process with ``xllamacpp.Server``, which serves HTTP from its
own threads; a separate process keeps a crash or a slow load out of the worker.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import structlog

from mcos.infra.devserver import die_with_parent
from mcos.infra.tls import client_tls

if TYPE_CHECKING:
    from mcos.kernel.settings import Settings
    from mcos.llm.local_model import LocalModel

log = structlog.get_logger(__name__)


def default_threads() -> int:
    """Every core but one: the API, worker and Temporal in the same stack need one while it
    generates (llama.cpp's threads spin, and on two busy cores one thread was measured
    twice as fast as two)."""
    return max(1, (os.cpu_count() or 2) - 1)


class LlamaServer:
    def __init__(
        self,
        model: LocalModel,
        *,
        ctx: int = 8192,
        threads: int | None = None,
        parallel: int = 1,
        host: str = "127.0.0.1",
        port: int = 0,
        log_file: Path | None = None,
    ) -> None:
        self.model = model
        self.ctx = ctx
        self.threads = threads or default_threads()
        self.parallel = parallel
        self.host = host
        self.port = port
        self.log_file = log_file
        self.url: str | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._template_file: Path | None = None

    def command(self) -> list[str]:
        cmd = [
            *(sys.executable, "-m", "mcos.infra.llamaserver"),
            *("--model", str(self.model.path), "--alias", self.model.alias),
            *("--ctx", str(self.ctx), "--threads", str(self.threads)),
            *("--parallel", str(self.parallel), "--host", self.host, "--port", str(self.port)),
        ]
        if self._template_file is not None:
            cmd += ["--chat-template-file", str(self._template_file)]
        return cmd

    def start(self) -> None:
        if self.model.chat_template is not None:
            fd, name = tempfile.mkstemp(prefix="mcos-chat-template-", suffix=".jinja")
            with os.fdopen(fd, "w") as f:
                f.write(self.model.chat_template)
            self._template_file = Path(name)
        err = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            self.command(),
            stdout=subprocess.PIPE,
            stderr=err,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        log.info("llama.cpp server starting", model=str(self.model.path), threads=self.threads)

    async def wait_ready(self, timeout_s: float = 120.0) -> str:
        """The server's base URL once it has loaded the model and answers ``/health``."""
        assert self.process is not None and self.process.stdout is not None, "not started"
        deadline = time.monotonic() + timeout_s
        try:
            line = await asyncio.wait_for(
                asyncio.to_thread(self.process.stdout.readline), timeout_s
            )
        except TimeoutError:
            raise TimeoutError(f"llama.cpp server did not start in {timeout_s}s") from None
        if not line:
            code = self.process.wait()
            raise RuntimeError(
                f"llama.cpp server exited with {code} before listening"
                + (f" (see {self.log_file})" if self.log_file else "")
            )
        self.url = json.loads(line)["url"]
        last: Exception | None = None
        async with httpx.AsyncClient(timeout=5, verify=client_tls()) as http:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"llama.cpp server exited with {self.process.returncode}")
                try:
                    r = await http.get(f"{self.url}/health")
                    if r.status_code == 200:
                        log.info("llama.cpp server ready", url=self.url)
                        return self.url
                    last = RuntimeError(f"/health answered {r.status_code}")
                except httpx.HTTPError as exc:
                    last = exc
                await asyncio.sleep(0.1)
        raise TimeoutError(f"llama.cpp server not healthy after {timeout_s}s: {last}")

    async def warm(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]], timeout_s: float = 300
    ) -> dict[str, Any]:
        """Evaluate ``messages``+``tools`` once (one token generated); the server's timings."""
        assert self.url is not None, "not ready"
        body = {"messages": messages, "tools": tools, "max_tokens": 1, "cache_prompt": True}
        async with httpx.AsyncClient(timeout=timeout_s, verify=client_tls()) as http:
            r = await http.post(f"{self.url}/v1/chat/completions", json=body)
            r.raise_for_status()
            timings: dict[str, Any] = r.json().get("timings", {})
        return timings

    def stop(self, timeout_s: float = 10.0) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
            log.info("llama.cpp server stopped")
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()
        if self._template_file is not None:
            self._template_file.unlink(missing_ok=True)
            self._template_file = None


def static_prefix() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """What every turn's prompt starts with: the system prompt, then the tools."""
    from mcos.llm.prompt import SYSTEM_PROMPT
    from mcos.llm.tools import TOOL_SCHEMAS

    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": "hi"}], (
        TOOL_SCHEMAS
    )


async def _warm(server: LlamaServer) -> None:
    started = time.perf_counter()
    try:
        timings = await server.warm(*static_prefix())
    except httpx.HTTPError as exc:  # the server still answers; the first turn is slower
        log.warning("llama.cpp warm-up failed", error=str(exc))
        return
    log.info(
        "llama.cpp prompt prefix warmed",
        seconds=round(time.perf_counter() - started, 2),
        prompt_tokens=timings.get("prompt_n"),
    )


@contextlib.asynccontextmanager
async def local_llm_server(settings: Settings) -> AsyncIterator[Settings]:
    """Run the local server for ``settings`` (provider ``local``); yields the settings that
    point the provider at it. A configured ``llm_local_url`` is used as it is.

    The warm-up of the static prefix runs while the rest of the stack starts; a first turn
    that comes sooner simply waits for it in the server's queue.
    """
    if settings.llm_provider != "local" or settings.llm_local_url:
        yield settings
        return
    from mcos.llm.local_model import resolve

    model = resolve(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    server = LlamaServer(
        model,
        ctx=settings.llm_local_ctx,
        threads=settings.llm_local_threads,
        parallel=settings.llm_local_parallel,
        log_file=settings.data_dir / "llama-server.log",
    )
    server.start()
    warming: asyncio.Task[None] | None = None
    try:
        url = await server.wait_ready(settings.llm_local_start_timeout_s)
        warming = asyncio.create_task(_warm(server))
        yield settings.model_copy(
            update={"llm_local_url": url, "llm_local_model_alias": model.alias}
        )
    finally:
        if warming is not None:
            warming.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await warming
        server.stop()


# --- the child process ------------------------------------------------------------------------


def _child(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mcos.infra.llamaserver")
    parser.add_argument("--model", required=True)
    parser.add_argument("--alias", default="local")
    parser.add_argument("--ctx", type=int, default=8192)
    parser.add_argument("--threads", type=int, default=default_threads())
    parser.add_argument("--parallel", type=int, default=1)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--chat-template-file")
    args = parser.parse_args(argv)

    import xllamacpp as xlc

    params = xlc.CommonParams()
    params.model.path = args.model
    params.model_alias = {args.alias}
    params.hostnames = [args.host]
    params.port = args.port  # 0: any free port; the real one is printed below
    params.n_ctx = args.ctx * args.parallel  # the context is shared by the slots
    params.n_parallel = args.parallel
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.use_jinja = True
    params.cache_prompt = True
    params.endpoint_slots = True
    params.endpoint_metrics = True
    if args.chat_template_file:
        params.chat_template = Path(args.chat_template_file).read_text()

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    parent = os.getppid()

    def watch_parent() -> None:  # portable backstop for PR_SET_PDEATHSIG
        while not stop.wait(1.0):
            if os.getppid() != parent:
                stop.set()

    server = xlc.Server(params)  # returns once the model is loaded and the port is bound
    sys.stdout.write(json.dumps({"url": server.listening_address}) + "\n")
    sys.stdout.flush()
    threading.Thread(target=watch_parent, daemon=True).start()
    stop.wait()
    os._exit(0)  # the server's threads need no orderly shutdown


if __name__ == "__main__":
    raise SystemExit(_child())
