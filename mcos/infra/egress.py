"""Outbound HTTP to URLs a user names (ICS feeds): never into the server's own network.

The rule: every connection, for the first URL and for every redirect hop, resolves the
host name once, refuses it when ANY of the addresses is internal — loopback, private,
shared (CGNAT), link-local, multicast, reserved, unspecified or otherwise not globally
routable, IPv4 or IPv6, including IPv4 embedded in IPv6 (``::ffff:127.0.0.1``, 6to4,
NAT64) — unless an allowed network (``MCOS_FETCH_ALLOWED_NETWORKS``) contains it, and then
connects to exactly the address it checked. TLS still verifies the certificate against
the host name (SNI and the ``Host`` header are the URL's), so a DNS answer that changes
between check and connect (rebinding) cannot steer the request inside.

This is an ``httpcore`` network backend (its extension point for how connections are
opened) under an ``httpx`` client with environment proxies off (a proxy would make the
checked address the proxy's). ``resolver`` and ``dialer`` are the module-level hooks that
tests replace to play DNS and routing without a network.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx
import structlog

from mcos.infra.tls import client_tls
from mcos.kernel.settings import Settings

log = structlog.get_logger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[str]]]

LOOPBACK: tuple[IPNetwork, ...] = (
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("::1/128"),
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
MAX_REDIRECTS = 5


class AddressRefused(Exception):
    """The host resolves to an address the policy does not let a fetch reach."""

    def __init__(self, host: str, address: str, reason: str) -> None:
        named = address if host == address else f"{host} resolves to {address},"
        super().__init__(f"{named} an internal address ({reason})")
        self.host = host
        self.address = address
        self.reason = reason


def internal_reason(ip: IPAddress) -> str | None:
    """Why ``ip`` is internal (``"loopback"``, ``"private"``…), or ``None`` if it is public."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return internal_reason(embedded)
    for reason, flag in (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
        ("not public", not ip.is_global),
    ):
        if flag:
            return reason
    return None


def _unwrapped(ip: IPAddress) -> IPAddress:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


@dataclass(frozen=True)
class AddressPolicy:
    """Which internal networks a fetch may still reach (none: only public addresses)."""

    allowed: tuple[IPNetwork, ...] = ()
    by_dev_default: bool = False  # the allowance is the dev default: log when it is used

    def check(self, host: str, address: str) -> None:
        ip = _unwrapped(ipaddress.ip_address(address.split("%", 1)[0]))
        reason = internal_reason(ip)
        if reason is None:
            return
        if not any(ip in network for network in self.allowed):
            raise AddressRefused(host, str(ip), reason)
        log.info(
            "fetch to an internal address allowed",
            host=host,
            address=str(ip),
            allowed_by="dev default" if self.by_dev_default else "MCOS_FETCH_ALLOWED_NETWORKS",
        )


def policy_from(settings: Settings) -> AddressPolicy:
    if settings.fetch_allowed_networks is not None:
        allowed = settings.fetch_allowed_networks
        return AddressPolicy(tuple(ipaddress.ip_network(n, strict=False) for n in allowed))
    if settings.production:
        return AddressPolicy()
    return AddressPolicy(LOOPBACK, by_dev_default=True)


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


# Hooks (tests replace them): how names resolve, and how a checked address is dialled.
resolver: Resolver = system_resolver
dialer: httpcore.AsyncNetworkBackend = httpcore.AnyIOBackend()


async def vetted_addresses(host: str, port: int, policy: AddressPolicy) -> list[str]:
    """The addresses of ``host``, all allowed by ``policy``; raises ``AddressRefused`` or
    ``httpcore.ConnectError`` (the name does not resolve)."""
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
        addresses = [host]
    except ValueError:
        try:
            addresses = await resolver(host, port)
        except (socket.gaierror, UnicodeError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
    if not addresses:
        raise httpcore.ConnectError(f"{host} has no address")
    for address in addresses:
        policy.check(host, address)
    return addresses


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Opens TCP connections only to checked addresses, resolving each host once."""

    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's signature
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await vetted_addresses(host, port, self.policy)
        failure: Exception | None = None
        for address in addresses:
            try:
                return await dialer.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's signature
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not reachable from a fetch")

    async def sleep(self, seconds: float) -> None:
        await dialer.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """``httpx``'s own transport, with the connection pool opening connections through
    :class:`GuardedBackend`."""

    def __init__(self, policy: AddressPolicy) -> None:
        tls = client_tls(trust_env=False)
        super().__init__(verify=tls, trust_env=False)
        # httpx builds the pool in __init__ without a way to pass a network backend.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=tls,
            network_backend=GuardedBackend(policy),
        )


def guarded_client(
    policy: AddressPolicy,
    timeout_s: float,
    *,
    max_redirects: int = MAX_REDIRECTS,
    headers: dict[str, str] | None = None,
) -> httpx.AsyncClient:
    """An ``httpx`` client for user-named URLs: guarded connections, no environment
    proxies, redirects followed (each hop guarded) up to ``max_redirects``."""
    return httpx.AsyncClient(
        transport=GuardedTransport(policy),
        follow_redirects=True,
        max_redirects=max_redirects,
        timeout=timeout_s,
        trust_env=False,
        headers=headers,
    )


async def vet_url(url: str, policy: AddressPolicy) -> None:
    """Check ``url``'s host as a fetch would (for an early, clear answer); raises
    ``AddressRefused`` or ``httpcore.ConnectError``."""
    parts = urlsplit(url)
    host = (parts.hostname or "").strip("[]")
    port = parts.port or (443 if parts.scheme in ("https", "webcal") else 80)
    await vetted_addresses(host, port, policy)
