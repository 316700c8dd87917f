"""Running the real ``mcos`` command (the installed console script) as a subprocess."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MCOS = Path(sys.executable).parent / "mcos"


@dataclass
class Ran:
    rc: int
    out: str
    err: str


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCOS_")}
    return env | {"PYTHONUNBUFFERED": "1"} | extra


async def mcos(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> Ran:
    proc = await asyncio.create_subprocess_exec(
        str(MCOS),
        *args,
        cwd=ROOT,
        env=env or cli_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    return Ran(proc.returncode or 0, out.decode(), err.decode())
