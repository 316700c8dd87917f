"""Listening ports for servers a test starts, kills and restarts on the same port.

An ephemeral port (bind to 0) is a poor choice for those: between the pick and the bind,
or between a kill and the restart, the kernel may give the same port to any outgoing
connection on the machine (the ephemeral range, 32768–60999 here, serves both). So they
come from a range below it, each pytest-xdist worker (gw0, gw1, …) its own slice, and
never the same port twice in one process.
"""

from __future__ import annotations

import os
import socket

_handed_out: set[int] = set()


def share(ports: range) -> range:
    """This process's slice of ``ports`` (the whole range outside xdist)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    if worker.startswith("gw") and worker[2:].isdigit() and count > 1:
        size = max(1, len(ports) // count)
        start = ports.start + (int(worker[2:]) % count) * size
        return range(start, min(start + size, ports.stop))
    return ports


def env_range(name: str, default: str) -> range:
    low, _, high = os.environ.get(name, default).partition("-")
    return range(int(low), int(high) + 1)


def port_in(ports: range, what: str = "a server") -> int:
    """A port of this process's slice of ``ports`` that is free now and not handed out yet."""
    for port in share(ports):
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port in {ports.start}-{ports.stop - 1} for {what}")
