"""Real processes for the fault suite, started the documented way.

- Temporal: ``temporal server start-dev`` (``.venv/bin/temporal``, via :class:`DevServer`)
  on a SQLite file, so a SIGKILLed server restarts on the same history.
- Redis: a throwaway ``redis-server`` on a free port (AOF, fsync always: a restart keeps
  the bus buffer, as a production Redis with persistence would).
- PostgreSQL: a throwaway cluster made with ``initdb`` and run with ``pg_ctl`` (as the
  ``postgres`` user when the suite runs as root), so it can be stopped and restarted.
- Workers: ``mcos worker``; APIs: ``mcos api`` — each its own process, configured only by
  ``MCOS_*`` environment variables as an operator would.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO

import httpx

from mcos.infra.devserver import DevServer, die_with_parent
from mcos.infra.tls import client_tls
from mcos.kernel.contracts import SEARCH_ATTRIBUTES
from tests.support.ports import env_range, port_in
from tests.support.wait import eventually

BIN = Path(sys.executable).parent  # .venv/bin: mcos, temporal


def free_port() -> int:
    """A listening port for one of the suite's servers: killed and restarted on the same
    port, so never an ephemeral one (tests.support.ports)."""
    return port_in(env_range("MCOS_TEST_FAULT_PORTS", "7600-7999"), "the fault suite")


def port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
        return True
    return False


class Proc:
    """One child process in its own session (signals go to it alone), logging to a file."""

    def __init__(self, name: str, cmd: list[str], log: Path, env: dict[str, str] | None = None,
                 cwd: Path | None = None) -> None:  # fmt: skip
        self.name, self.cmd, self.log, self.env, self.cwd = name, cmd, log, env, cwd
        self.popen: subprocess.Popen[bytes] | None = None
        self._out: IO[bytes] | None = None

    def start(self) -> Proc:
        self._out = open(self.log, "ab")  # noqa: SIM115 - kept open while the process runs
        self.popen = subprocess.Popen(
            self.cmd,
            env=self.env,
            cwd=self.cwd,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        return self

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive:
            assert self.popen is not None
            os.killpg(self.popen.pid, sig)

    def wait(self, timeout: float) -> int:
        assert self.popen is not None
        return self.popen.wait(timeout)

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout``; the exit code."""
        if self.popen is None:
            return None
        if self.alive:
            self.signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.popen.wait()
        if self._out is not None:
            self._out.close()
        return self.popen.returncode

    def kill(self) -> None:
        if self.alive:
            self.signal(signal.SIGKILL)
            assert self.popen is not None
            self.popen.wait()

    def tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""


class Temporal:
    def __init__(self, root: Path) -> None:
        self.port = free_port()
        self.server = DevServer(
            db_file=root / "temporal.db",
            port=self.port,
            ui_port=None,
            search_attributes=SEARCH_ATTRIBUTES,
            log_file=root / "temporal.log",
        )

    @property
    def address(self) -> str:
        return self.server.address

    async def start(self) -> None:
        self.server.start()
        await self.server.wait_healthy(90)

    def kill(self) -> None:
        process = self.server.process
        assert process is not None
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def stop(self) -> None:
        self.server.stop()


class Redis:
    def __init__(self, root: Path) -> None:
        self.port = free_port()
        self.dir = root / "redis"
        self.dir.mkdir(exist_ok=True)
        self.proc: Proc | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    async def start(self) -> None:
        cmd = [shutil.which("redis-server") or "redis-server", "--port", str(self.port),
               "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
               "--appendfsync", "always", "--dir", str(self.dir)]  # fmt: skip
        self.proc = Proc("redis", cmd, self.dir / "redis.log").start()
        await eventually(lambda: port_open(self.port), 20, 0.1, what="redis-server listening")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop(10)


class Postgres:
    """A throwaway cluster: ``initdb`` once, ``pg_ctl start/stop`` as often as needed."""

    def __init__(self) -> None:
        self.port = free_port()
        # Its own directory under /tmp the postgres user can enter (pytest's tmp is 0700).
        self.root = Path(tempfile.mkdtemp(prefix="mcos-faults-pg-"))
        self.data = self.root / "data"
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # initdb refuses root: run the server as `postgres`
            user = pwd.getpwnam("postgres")
            os.chmod(self.root, 0o755)
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.as_user, *args], check=check, capture_output=True,
                              text=True, timeout=120)  # fmt: skip

    def init(self) -> None:
        self._run(shutil.which("initdb") or "initdb", "-D", str(self.data), "-U", "postgres",
                  "--auth=trust", "-E", "UTF8", "--no-sync")  # fmt: skip

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off"
        self._run(shutil.which("pg_ctl") or "pg_ctl", "-D", str(self.data), "-o", options,
                  "-l", str(self.root / "pg.log"), "-w", "-t", "60", "start")  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run(shutil.which("pg_ctl") or "pg_ctl", "-D", str(self.data), "-m", mode, "-w",
                  "stop", check=False)  # fmt: skip

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


class Infra:
    """Temporal + Redis + PostgreSQL, shared by the suite's scenarios."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.temporal = Temporal(root)
        self.redis = Redis(root)
        self.postgres = Postgres()

    async def start(self) -> None:
        self.postgres.init()
        await asyncio.gather(
            self.temporal.start(), self.redis.start(), asyncio.to_thread(self.postgres.start)
        )

    async def ensure_up(self) -> None:
        """Whatever an earlier scenario left down is brought back."""
        if self.temporal.server.process is None or self.temporal.server.process.poll() is not None:
            await self.temporal.start()
        if self.redis.proc is None or not self.redis.proc.alive:
            await self.redis.start()
        if not port_open(self.postgres.port):
            await asyncio.to_thread(self.postgres.start)

    def stop(self) -> None:
        self.temporal.stop()
        self.redis.stop()
        self.postgres.destroy()


class Fleet:
    """Workers (``mcos worker``) and APIs (``mcos api``) on one task queue."""

    def __init__(self, infra: Infra, root: Path, queue: str, **env: str) -> None:
        self.infra, self.root, self.queue = infra, root, queue
        self.extra_env = env
        self.workers: dict[str, Proc] = {}
        self.apis: dict[str, tuple[Proc, int]] = {}
        self.health_ports: dict[str, int] = {}

    def env(self, name: str, **more: str) -> dict[str, str]:
        data = self.root / f"data-{name}"
        data.mkdir(exist_ok=True)
        return {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", "/root"),
            "PYTHONUNBUFFERED": "1",
            "MCOS_ENV": "dev",
            "MCOS_DATA_DIR": str(data),
            "MCOS_TEMPORAL_ADDRESS": self.infra.temporal.address,
            "MCOS_TEMPORAL_TASK_QUEUE": self.queue,
            "MCOS_TEMPORAL_SEARCH_ATTRIBUTES": "true",
            "MCOS_DATABASE_URL": self.infra.postgres.url,
            "MCOS_BUS_URL": self.infra.redis.url(0),
            "MCOS_RATE_LIMIT_URL": self.infra.redis.url(1),
            "MCOS_LLM_PROVIDER": "offline",
            "MCOS_WEB_DIST": str(self.root / "no-ui"),
            # JSON: the dev console renderer draws tracebacks with locals (slow, huge)
            "MCOS_LOG_JSON": "true",
            **self.extra_env,
            **more,
        }

    def start_worker(self, name: str, **more: str) -> Proc:
        if name not in self.health_ports:
            self.health_ports[name] = free_port()
        port = self.health_ports[name]
        env = self.env(name, MCOS_WORKER_HEALTH_PORT=str(port), **more)
        proc = Proc(name, [str(BIN / "mcos"), "worker"], self.root / f"{name}.log", env,
                    cwd=self.root).start()  # fmt: skip
        self.workers[name] = proc
        return proc

    def start_api(self, name: str) -> Proc:
        port = self.apis[name][1] if name in self.apis else free_port()
        env = self.env(name, MCOS_HOST="127.0.0.1", MCOS_PORT=str(port))
        proc = Proc(name, [str(BIN / "mcos"), "api"], self.root / f"{name}.log", env,
                    cwd=self.root).start()  # fmt: skip
        self.apis[name] = (proc, port)
        return proc

    def api_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.apis[name][1]}"

    async def wait_worker(self, name: str, timeout: float = 60) -> None:
        await self._wait_ok(self.workers[name], f"http://127.0.0.1:{self.health_ports[name]}/health",
                            timeout, f"{name} healthy")  # fmt: skip

    async def wait_api(self, name: str, timeout: float = 60) -> None:
        await self._wait_ok(self.apis[name][0], f"{self.api_url(name)}/ready", timeout,
                            f"{name} ready")  # fmt: skip

    @staticmethod
    async def _wait_ok(proc: Proc, url: str, timeout: float, what: str) -> None:
        """Until ``url`` answers 200; fails at once if the process has exited."""
        async with httpx.AsyncClient(timeout=5, verify=client_tls()) as http:

            async def ok() -> bool:
                assert proc.alive, f"{proc.name} exited:\n{proc.tail()}"
                return (await http.get(url)).status_code == 200

            await eventually(ok, timeout, 0.2, what=what, retry_on=(httpx.HTTPError,))

    async def start(self, workers: int = 2, apis: int = 2) -> None:
        names_w = [f"worker{i + 1}" for i in range(workers)]
        names_a = [f"api{i + 1}" for i in range(apis)]
        for name in names_w:
            self.start_worker(name)
        for name in names_a:
            self.start_api(name)
        await asyncio.gather(*(self.wait_worker(n) for n in names_w),
                             *(self.wait_api(n) for n in names_a))  # fmt: skip

    async def restart_worker(self, name: str, **env: str) -> None:
        """Stop (SIGTERM) and start again, with ``env`` added to its settings."""
        self.workers[name].stop(60)
        self.start_worker(name, **env)
        await self.wait_worker(name)

    async def ensure_up(self) -> None:
        waits = []
        for name, proc in self.workers.items():
            if not proc.alive:
                self.start_worker(name)
                waits.append(self.wait_worker(name))
        for name, (proc, _) in self.apis.items():
            if not proc.alive:
                self.start_api(name)
                waits.append(self.wait_api(name))
        await asyncio.gather(*waits)

    def logs(self) -> str:
        procs = [*self.workers.values(), *(p for p, _ in self.apis.values())]
        return "\n".join(f"--- {p.name} ---\n{p.tail(25)}" for p in procs)

    def stop(self) -> None:
        for proc in [*self.workers.values(), *(p for p, _ in self.apis.values())]:
            proc.stop(30)
