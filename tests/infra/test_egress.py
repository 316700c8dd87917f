"""The guarded fetch: user-named URLs never reach internal addresses, for the first hop or
any redirect, and the connection goes to the address that was checked (DNS and routing
are played by ``tests.support.network``; nothing leaves the machine)."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest
import structlog

from mcos.calendar.errors import CalendarSourceError
from mcos.calendar.ics import fetch_ics
from mcos.infra import egress
from mcos.infra.egress import AddressPolicy, AddressRefused, guarded_client, policy_from
from mcos.kernel.settings import Settings
from tests.conftest import serving
from tests.support.network import CALENDAR, PUBLIC, Net, Site, public_site

DOC_NET = "198.51.100.1"  # TEST-NET-2, documentation only: not public


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "not public"),
        ("169.254.169.254", "link-local"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("0.0.0.0", "unspecified"),
        (DOC_NET, "private"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
        ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
        (PUBLIC, None),
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_internal_addresses(address: str, reason: str | None) -> None:
    assert egress.internal_reason(ipaddress.ip_address(address)) == reason


def test_policy_from_settings() -> None:
    dev = policy_from(Settings(_env_file=None))
    prod = policy_from(
        Settings(_env_file=None, env="production", jwt_secret="x" * 48, auth_mode="hs256")
    )
    chosen = policy_from(Settings(_env_file=None, fetch_allowed_networks=["10.2.0.0/16"]))
    none_in_dev = policy_from(Settings(_env_file=None, fetch_allowed_networks=[]))
    dev.check("localhost", "127.0.0.1")
    dev.check("localhost", "::ffff:127.0.0.1")
    chosen.check("feeds.corp", "10.2.3.4")
    for policy, address in (
        (prod, "127.0.0.1"),
        (dev, "10.0.0.1"),
        (chosen, "10.3.0.1"),
        (chosen, "127.0.0.1"),
        (none_in_dev, "127.0.0.1"),
    ):
        with pytest.raises(AddressRefused):
            policy.check("h", address)
    with pytest.raises(ValueError):
        Settings(_env_file=None, fetch_allowed_networks=["not-a-network"])


# --- through real connections ----------------------------------------------------------


async def test_a_name_resolving_to_loopback_is_refused(net: Net, internal: Site) -> None:
    net.names["calendar.example.com"] = ["127.0.0.1"]
    async with guarded_client(AddressPolicy(), 5) as http:
        with pytest.raises(AddressRefused) as info:
            await http.get(f"http://calendar.example.com:{internal.port}/cal.ics")
    assert info.value.address == "127.0.0.1" and info.value.reason == "loopback"
    assert internal.hits == [] and net.dialled == []


@pytest.mark.parametrize(
    "hop",
    [
        "http://127.0.0.1:{port}/x",
        "http://[::ffff:127.0.0.1]:{port}/x",
        "http://sneaky.example.com:{port}/x",
    ],
)
async def test_a_public_url_redirecting_inside_is_refused(
    net: Net, internal: Site, hop: str
) -> None:
    net.names["sneaky.example.com"] = ["127.0.0.1"]
    app, hits = await public_site(hop.format(port=internal.port))
    async with serving(app) as public_url:
        net.names["feeds.example.com"] = [PUBLIC]
        net.routes[PUBLIC] = int(public_url.rsplit(":", 1)[1])
        async with guarded_client(AddressPolicy(), 5) as http:
            with pytest.raises(AddressRefused):
                await http.get("http://feeds.example.com/redirect")
    assert hits == ["feeds.example.com"]  # the first hop was served, by name
    assert internal.hits == []
    assert all(address == PUBLIC for address, _ in net.dialled)


async def test_one_internal_address_among_several_refuses(net: Net, internal: Site) -> None:
    net.names["mixed.example.com"] = [PUBLIC, "10.0.0.7"]
    net.routes[PUBLIC] = internal.port
    async with guarded_client(AddressPolicy(), 5) as http:
        with pytest.raises(AddressRefused) as info:
            await http.get("http://mixed.example.com/cal.ics")
    assert info.value.address == "10.0.0.7" and internal.hits == [] and net.dialled == []


async def test_the_connection_goes_to_the_address_that_was_checked(net: Net) -> None:
    """DNS rebinding: the name answers a public address, then loopback. One resolution per
    connection, and the dial is to the address that resolution gave."""
    app, hits = await public_site("")
    async with serving(app) as url:
        net.changing["rebind.example.com"] = [[PUBLIC], ["127.0.0.1"], ["127.0.0.1"]]
        net.routes[PUBLIC] = int(url.rsplit(":", 1)[1])
        async with guarded_client(AddressPolicy(), 5) as http:
            response = await http.get("http://rebind.example.com/cal.ics")
    assert response.content == CALENDAR
    assert net.resolved == ["rebind.example.com"]
    assert net.dialled == [(PUBLIC, 80)]
    assert hits == ["rebind.example.com"]  # Host header: the name, not the address


async def test_environment_proxies_are_ignored(
    net: Net, internal: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proxy would make the checked address the proxy's own."""
    monkeypatch.setenv("HTTP_PROXY", internal.url)
    monkeypatch.setenv("ALL_PROXY", internal.url)
    net.names["calendar.example.com"] = ["10.9.9.9"]
    async with guarded_client(AddressPolicy(), 5) as http:
        with pytest.raises(AddressRefused):
            await http.get("http://calendar.example.com/x")
    assert internal.hits == []


async def test_the_dev_default_allows_loopback_and_says_so(internal: Site) -> None:
    policy = policy_from(Settings(_env_file=None))
    with structlog.testing.capture_logs() as logs:
        data = await fetch_ics(f"{internal.url}/cal.ics", 5, policy=policy)
    assert data == CALENDAR and internal.hits
    allowed = [e for e in logs if e["event"] == "fetch to an internal address allowed"]
    assert allowed and allowed[0]["allowed_by"] == "dev default"


async def test_fetch_ics_reports_a_refusal_as_refused_without_the_secret_path(
    net: Net, internal: Site
) -> None:
    net.names["calendar.example.com"] = ["127.0.0.1"]
    with pytest.raises(CalendarSourceError) as info:
        await fetch_ics(f"https://calendar.example.com:{internal.port}/private-s3cr3t/basic.ics", 5)
    assert info.value.kind == "refused" and not info.value.retryable
    assert "internal address (loopback)" in str(info.value)
    assert "s3cr3t" not in str(info.value)


async def test_a_redirect_to_another_scheme_is_refused(net: Net) -> None:
    app, _ = await public_site("file:///etc/passwd")
    async with serving(app) as url:
        net.names["feeds.example.com"] = [PUBLIC]
        net.routes[PUBLIC] = int(url.rsplit(":", 1)[1])
        with pytest.raises(CalendarSourceError) as info:
            await fetch_ics("http://feeds.example.com/redirect", 5)
    assert info.value.kind == "refused"


async def test_size_and_time_are_bounded(internal: Site) -> None:
    loopback = policy_from(Settings(_env_file=None))
    with pytest.raises(CalendarSourceError) as big:
        await fetch_ics(f"{internal.url}/cal.ics", 5, max_bytes=10, policy=loopback)
    assert big.value.kind == "invalid"

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)
        await asyncio.sleep(30)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    started = asyncio.get_running_loop().time()
    try:
        with pytest.raises(CalendarSourceError) as slow:
            await fetch_ics(f"http://127.0.0.1:{port}/cal.ics", 1.0, policy=loopback)
    finally:
        server.close()
    assert slow.value.kind == "timeout"
    assert asyncio.get_running_loop().time() - started < 5


async def test_too_many_redirects_is_invalid(net: Net) -> None:
    app, hits = await public_site("http://feeds.example.com/redirect")
    async with serving(app) as url:
        net.names["feeds.example.com"] = [PUBLIC]
        net.routes[PUBLIC] = int(url.rsplit(":", 1)[1])
        with pytest.raises(CalendarSourceError) as info:
            await fetch_ics("http://feeds.example.com/redirect", 5)
    assert info.value.kind == "invalid" and len(hits) == egress.MAX_REDIRECTS + 1
