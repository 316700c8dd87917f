"""The ICS fetch rule through the API in production settings: a URL whose host resolves
to loopback is refused when connected (422), and a public URL that redirects to loopback
is refused at its sync (status ``refused``) — the internal server is never reached. DNS
and routing are played by ``tests.support.network`` (nothing leaves the machine)."""

from __future__ import annotations

import pytest
from temporalio.client import Client

from mcos.kernel.settings import Settings
from tests.app.conftest import running_api
from tests.conftest import serving
from tests.support.network import PUBLIC, Net, Site, public_site
from tests.support.wait import eventually

GOOD_SECRET = "a-long-production-secret-" + "7" * 24


@pytest.fixture
def production(settings: Settings) -> Settings:
    prod = Settings(
        **{
            **settings.model_dump(),
            "env": "production",
            "jwt_secret": GOOD_SECRET,
            "log_json": False,
        }
    )
    assert prod.production and prod.fetch_allowed_networks is None
    return prod


async def test_internal_ics_urls_are_refused_in_production(
    production: Settings, temporal_client: Client, net: Net, internal: Site, user: str
) -> None:
    net.names["calendar.example.com"] = ["127.0.0.1"]
    app, public_hits = await public_site(f"http://127.0.0.1:{internal.port}/cal.ics")
    async with (
        serving(app) as public_url,
        running_api(production, temporal_client) as api,
        api.client(user) as http,
    ):
        # 1. A host name that resolves to 127.0.0.1: refused at once, nothing scheduled.
        refused = await http.post(
            "/api/v1/calendar/source",
            json={"kind": "ics", "url": f"http://calendar.example.com:{internal.port}/cal.ics"},
        )
        assert refused.status_code == 422, refused.text
        error = refused.json()["error"]
        assert error["code"] == "address_refused"
        assert error["details"] == {
            "host": "calendar.example.com",
            "address": "127.0.0.1",
            "reason": "loopback",
        }
        assert "internal address" in error["message"]
        assert (await http.get("/api/v1/calendar/status")).json()["connected"] is False

        # 2. A public URL redirecting to 127.0.0.1: its host is public, so it connects; the
        # sync follows the redirect only after checking it, and refuses.
        net.names["feeds.example.com"] = [PUBLIC]
        net.routes[PUBLIC] = int(public_url.rsplit(":", 1)[1])
        accepted = await http.post(
            "/api/v1/calendar/source",
            json={"kind": "ics", "url": "http://feeds.example.com/redirect/secret-token.ics"},
        )
        assert accepted.status_code == 201, accepted.text

        async def synced() -> dict | None:
            body = (await http.get("/api/v1/calendar/status")).json()
            return body if body["last_sync"] and not body["running"] else None

        status = await eventually(synced, timeout=30)
        last = status["last_sync"]
        assert last["status"] == "refused", last
        assert "127.0.0.1" in last["error"] and "internal address (loopback)" in last["error"]
        assert "secret-token" not in last["error"]
        assert status["events_in_brain"] == {}
        assert status["source"]["location"] == "http://feeds.example.com/…"

    assert public_hits == ["feeds.example.com"]  # one fetch: a refusal is not retried
    assert internal.hits == []
