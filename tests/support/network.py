"""The network as the guarded fetch sees it, played without a network: ``Net`` answers
DNS (``names``, or ``changing`` answers one call at a time) and routes a "public"
address to a local server (``routes``); any other non-loopback address is refused by the
test dialer itself, so nothing leaves the machine. Local servers: ``internal`` (must never
be reached) and ``public_site`` (serves a calendar, or redirects to ``target``)."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpcore
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mcos.infra import egress
from tests.conftest import serving

PUBLIC = "93.184.215.14"  # a public address; the test dialer routes it to a local server
CALENDAR = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n"


@dataclass
class Net:
    """The test's DNS (``names``) and routing (``routes``: address -> local port)."""

    names: dict[str, list[str]] = field(default_factory=dict)
    changing: dict[str, list[list[str]]] = field(default_factory=dict)  # one answer a call
    routes: dict[str, int] = field(default_factory=dict)
    resolved: list[str] = field(default_factory=list)
    dialled: list[tuple[str, int]] = field(default_factory=list)

    async def resolve(self, host: str, port: int) -> list[str]:
        self.resolved.append(host)
        if host in self.changing:
            return self.changing[host].pop(0)
        if host not in self.names:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return list(self.names[host])


class _Dialer(httpcore.AsyncNetworkBackend):
    def __init__(self, net: Net) -> None:
        self.net = net
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.net.dialled.append((host, port))
        if host in self.net.routes:
            host, port = "127.0.0.1", self.net.routes[host]
        elif not ipaddress.ip_address(host).is_loopback:
            raise httpcore.ConnectError(f"the test network has no route to {host}")
        return await self.inner.connect_tcp(host, port, timeout=timeout)

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


def install(monkeypatch: pytest.MonkeyPatch) -> Net:
    """Replace the guarded fetch's DNS and dialling with a fresh ``Net``."""
    net = Net()
    monkeypatch.setattr(egress, "resolver", net.resolve)
    monkeypatch.setattr(egress, "dialer", _Dialer(net))
    return net


@dataclass
class Site:
    url: str
    port: int
    hits: list[str]


@contextlib.asynccontextmanager
async def internal_site() -> AsyncIterator[Site]:
    """A server on loopback that must never be reached under a strict policy."""
    hits: list[str] = []

    async def secret(request: Request) -> Response:
        hits.append(request.headers.get("host", ""))
        return Response(CALENDAR, media_type="text/calendar")

    async with serving(Starlette(routes=[Route("/{p:path}", secret)])) as url:
        yield Site(url, int(url.rsplit(":", 1)[1]), hits)


async def public_site(target: str) -> tuple[Starlette, list[str]]:
    hits: list[str] = []

    async def handler(request: Request) -> Response:
        hits.append(request.headers.get("host", ""))
        if request.url.path.startswith("/redirect"):
            return RedirectResponse(target, status_code=302)
        return Response(CALENDAR, media_type="text/calendar")

    return Starlette(routes=[Route("/{p:path}", handler)]), hits
