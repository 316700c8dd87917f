"""Each user connects their own Google account (OAuth 2.0 code + PKCE) through real HTTP,
against a local Google stand-in (``tests/support/fake_google.py``): consent, callback,
the grant stored encrypted, syncs that see only the user's own account (with the real
``@cocal/google-calendar-mcp`` when ``MCOS_TEST_GCAL_MCP_JS`` is set), revocation, and
the ways a consent can fail."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.fernet import Fernet, InvalidToken
from pydantic import SecretStr
from sqlalchemy import text
from temporalio.client import Client

from mcos.infra.db import get_engine
from mcos.kernel.contracts import CalendarSource
from mcos.kernel.settings import Settings
from tests.app.conftest import Api, running_api
from tests.conftest import user_id
from tests.support.calendar_sync import FAKE_GCAL_COMMAND, wait_for_run
from tests.support.fake_google import READONLY, RunningGoogle, google_event, running_google
from workflows.schedules import CalendarScheduler

REAL_GCAL_JS = os.environ.get("MCOS_TEST_GCAL_MCP_JS")
needs_real_mcp = pytest.mark.skipif(
    not REAL_GCAL_JS or shutil.which("node") is None,
    reason="set MCOS_TEST_GCAL_MCP_JS to @cocal/google-calendar-mcp's build/index.js",
)
CONNECT = "/api/v1/calendar/google/connect"
ALICE, BOB, OPERATOR = "alice@example.com", "bob@example.com", "operator@example.com"


@dataclass
class World:
    api: Api
    google: RunningGoogle
    key: str
    sched: CalendarScheduler


@contextlib.asynccontextmanager
async def world(
    settings: Settings, temporal: Client, tmp: Path, *, real_mcp: bool = False, **extra: object
) -> AsyncIterator[World]:
    async with running_google(tmp / "google") as google:
        now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        google.fake.add_account(
            ALICE,
            [
                google_event("alice-1", "Alice: design review", now + timedelta(days=1)),
                google_event("alice-2", "Alice: dentist", now + timedelta(days=3)),
            ],
        )
        google.fake.add_account(BOB, [google_event("bob-1", "Bob: 1:1", now + timedelta(days=2))])
        google.fake.add_account(
            OPERATOR, [google_event("op-1", "Operator only", now + timedelta(days=1))]
        )
        key = Fernet.generate_key().decode()
        operator = google.operator_files(tmp, OPERATOR)
        config = settings.model_copy(
            update={
                **google.fake.settings(),
                "credentials_key": key,
                "google_calendar_mcp_command": f"node {REAL_GCAL_JS}"
                if real_mcp
                else FAKE_GCAL_COMMAND,
                # The operator's own MCP credentials: no single user is named, so no sync
                # may ever use them.
                "google_calendar_mcp_env": google.mcp_env()
                | {"GOOGLE_CALENDAR_MCP_TOKEN_PATH": operator["GOOGLE_CALENDAR_MCP_TOKEN_PATH"]},
                "google_oauth_credentials": operator["GOOGLE_OAUTH_CREDENTIALS"],
                "calendar_fetch_timeout_s": 40.0,
                **extra,
            }
        )
        config = Settings(**config.model_dump())  # validated as at start-up
        async with running_api(config, temporal) as api:
            google.fake.redirect_uris.add(f"{api.base_url}/api/v1/calendar/google/callback")
            yield World(api, google, key, CalendarScheduler(temporal, config))


async def consent(
    w: World,
    user: str,
    account: str,
    *,
    at_google: dict[str, str] | None = None,
    browser: httpx.AsyncClient | None = None,
) -> httpx.Response:
    """A browser: the app's page asks for the consent URL (with the user's token), goes to
    Google, where ``account`` is signed in, and follows Google's redirect back."""
    async with contextlib.AsyncExitStack() as stack:
        if browser is None:
            browser = await stack.enter_async_context(httpx.AsyncClient(timeout=30))
        started = await browser.get(
            f"{w.api.base_url}{CONNECT}", headers={"Authorization": f"Bearer {w.api.token(user)}"}
        )
        assert started.status_code == 200, started.text
        url = started.json()["authorization_url"]
        google = await browser.get(
            url, headers={"X-Fake-Google-Account": account} | (at_google or {})
        )
        assert google.status_code == 302, google.text
        return await browser.get(google.headers["location"])


async def _state(w: World, user: str) -> dict:
    async with w.api.client(user) as http:
        return (await http.get("/api/v1/state")).json()


def _event_ids(state: dict) -> set[str]:
    calendar = state["calendar"]
    return {c["id"] for c in calendar} if isinstance(calendar, list) else set(calendar)


def _raw_rows(w: World, user: str) -> list[dict]:
    with get_engine(w.api.settings.sql_url).connect() as conn:
        rows = conn.execute(
            text("SELECT * FROM google_connections WHERE user_id = :u"), {"u": user}
        )
        return [dict(r._mapping) for r in rows]


@needs_real_mcp
async def test_two_users_two_google_accounts_each_sync_sees_only_its_own(
    settings: Settings, temporal_client: Client, tmp_path: Path
) -> None:
    alice, bob, carol = user_id(), user_id(), user_id()
    async with world(settings, temporal_client, tmp_path, real_mcp=True) as w:
        for user, account in ((alice, ALICE), (bob, BOB)):
            back = await consent(w, user, account)
            assert back.status_code == 303, back.text
            assert back.headers["location"] == "/?calendar=google-connected"

        for user, expected in ((alice, {"alice-1", "alice-2"}), (bob, {"bob-1"})):
            run = await wait_for_run(w.sched, user, 1, within=90)
            assert run["status"] == "ok", run
            assert _event_ids(await _state(w, user)) == expected
            async with w.api.client(user) as http:
                status = (await http.get("/api/v1/calendar/status")).json()
            assert status["source"] == {
                "kind": "google",
                "location": None,
                "calendar_id": "primary",
            }
            assert status["google"]["connected"] and status["google"]["mode"] == "own_account"
            assert status["events_in_brain"] == {"google": len(expected)}

        # Google saw each account's calendar read with that account's own token, and the
        # operator's token (in the MCP env) was never used.
        assert w.google.fake.calls_by_account() == {ALICE: {"primary"}, BOB: {"primary"}}
        assert w.google.proxy.tunnels and not w.google.proxy.refused

        # Carol never connected: a clear 409, and nothing is scheduled.
        async with w.api.client(carol) as http:
            refused = await http.post("/api/v1/calendar/source", json={"kind": "google"})
            assert refused.status_code == 409, refused.text
            assert refused.json()["error"]["code"] == "google_not_connected"
            assert refused.json()["error"]["details"]["connect"] == CONNECT
            status = (await http.get("/api/v1/calendar/status")).json()
            assert status["connected"] is False and status["google"] == {
                "connected": False,
                "mode": None,
                "connected_at": None,
                "refreshed_at": None,
                "scope": None,
            }
        # A Google schedule made before per-user connections existed syncs nothing.
        await w.sched.connect(carol, CalendarSource(kind="google"))
        legacy = await wait_for_run(w.sched, carol, 1, within=60)
        assert legacy["status"] == "auth_error" and "no Google account" in legacy["error"]
        assert OPERATOR not in w.google.fake.calls_by_account()

        # The refresh tokens are in SQL only encrypted.
        for user, account in ((alice, ALICE), (bob, BOB)):
            (row,) = _raw_rows(w, user)
            issued = {t for t, a in w.google.fake.refresh_tokens.items() if a == account}
            assert len(issued) == 1
            assert not any(t in str(v) for v in row.values() for t in issued)
            with pytest.raises(InvalidToken):
                Fernet(Fernet.generate_key()).decrypt(row["refresh_token_encrypted"].encode())
            plain = Fernet(w.key.encode()).decrypt(row["refresh_token_encrypted"].encode())
            assert plain.decode() in issued

        # Disconnecting forgets (and revokes) Alice's grant; Bob's is untouched.
        async with w.api.client(alice) as http:
            gone = await http.delete("/api/v1/calendar/source")
            assert gone.status_code == 200, gone.text
            assert gone.json()["google_forgotten"] and gone.json()["google_revoked"]
            assert gone.json()["events_removed"] == 2
            again = await http.post("/api/v1/calendar/source", json={"kind": "google"})
            assert again.status_code == 409
        assert _raw_rows(w, alice) == [] and len(_raw_rows(w, bob)) == 1
        alice_tokens = {t for t, a in w.google.fake.refresh_tokens.items() if a == ALICE}
        assert alice_tokens <= w.google.fake.revoked


async def test_the_consent_binds_state_to_user_browser_and_time(
    settings: Settings, temporal_client: Client, tmp_path: Path
) -> None:
    user = user_id()
    async with world(settings, temporal_client, tmp_path) as w:
        async with httpx.AsyncClient(timeout=30) as browser:
            started = await browser.get(
                f"{w.api.base_url}{CONNECT}",
                headers={"Authorization": f"Bearer {w.api.token(user)}"},
            )
            consent_url = started.json()["authorization_url"]
            query = parse_qs(urlsplit(consent_url).query)
            assert query["code_challenge_method"] == ["S256"] and query["access_type"] == [
                "offline"
            ]
            assert query["scope"] == [READONLY] and len(query["state"][0]) >= 32
            back = (
                await browser.get(consent_url, headers={"X-Fake-Google-Account": ALICE})
            ).headers["location"]

            # Another browser (no consent cookie) cannot finish it...
            async with httpx.AsyncClient(timeout=30) as other:
                stolen = await other.get(back)
            assert stolen.status_code == 400
            assert stolen.json()["error"]["code"] == "consent_other_browser"
            # ... and that attempt used the state up: not even the right browser can now.
            replay = await browser.get(back)
            assert replay.status_code == 400
            assert replay.json()["error"]["code"] == "consent_expired"
        assert _raw_rows(w, user) == []

        # An expired consent is refused, and so is a replayed one.
        async with httpx.AsyncClient(timeout=30) as browser:
            started = await browser.get(
                f"{w.api.base_url}{CONNECT}",
                headers={"Authorization": f"Bearer {w.api.token(user)}"},
            )
            with get_engine(w.api.settings.sql_url).begin() as conn:
                conn.execute(text("UPDATE google_authorizations SET expires_at = 0"))
            back = (
                await browser.get(
                    started.json()["authorization_url"], headers={"X-Fake-Google-Account": ALICE}
                )
            ).headers["location"]
            late = await browser.get(back)
            assert late.status_code == 400 and late.json()["error"]["code"] == "consent_expired"

        ok = await consent(w, user, ALICE)
        assert ok.status_code == 303
        assert len(_raw_rows(w, user)) == 1


@pytest.mark.parametrize(
    ("at_google", "code"),
    [
        ({"X-Fake-Google-Decision": "deny"}, "consent_declined"),
        ({"X-Fake-Google-Scope": "openid"}, "consent_scope_missing"),
    ],
)
async def test_a_consent_that_grants_nothing_stores_nothing(
    settings: Settings,
    temporal_client: Client,
    tmp_path: Path,
    at_google: dict[str, str],
    code: str,
) -> None:
    user = user_id()
    async with world(settings, temporal_client, tmp_path) as w:
        back = await consent(w, user, ALICE, at_google=at_google)
        assert back.status_code == 400 and back.json()["error"]["code"] == code
        assert _raw_rows(w, user) == []
        async with w.api.client(user) as http:
            status = (await http.get("/api/v1/calendar/status")).json()
        assert status["connected"] is False and status["google"]["connected"] is False


async def test_a_code_google_refuses_stores_nothing(
    settings: Settings, temporal_client: Client, tmp_path: Path
) -> None:
    user = user_id()
    async with world(settings, temporal_client, tmp_path) as w:
        async with httpx.AsyncClient(timeout=30) as browser:
            started = await browser.get(
                f"{w.api.base_url}{CONNECT}",
                headers={"Authorization": f"Bearer {w.api.token(user)}"},
            )
            state = parse_qs(urlsplit(started.json()["authorization_url"]).query)["state"][0]
            forged = await browser.get(
                f"{w.api.base_url}/api/v1/calendar/google/callback",
                params={"state": state, "code": "4/made-up"},
            )
        assert forged.status_code == 400
        assert forged.json()["error"]["code"] == "consent_refused"
        assert "invalid_grant" in forged.json()["error"]["message"]
        assert _raw_rows(w, user) == []


async def test_without_a_google_client_connect_says_so(api: Api, user: str) -> None:
    async with api.client(user) as http:
        resp = await http.get(CONNECT)
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "google_not_configured"


async def test_export_shows_the_grant_and_erasing_forgets_it(
    settings: Settings, temporal_client: Client, tmp_path: Path
) -> None:
    user = user_id()
    async with world(settings, temporal_client, tmp_path) as w:
        assert (await consent(w, user, ALICE)).status_code == 303
        assert len(_raw_rows(w, user)) == 1
        async with w.api.client(user) as http:
            export = (await http.get("/api/v1/me/export")).json()
            assert export["google_connection"]["scope"] == READONLY
            issued = set(w.google.fake.refresh_tokens)
            assert not any(t in str(export) for t in issued)  # never handed out, even to them
            assert (await http.delete("/api/v1/me")).status_code == 200
        assert _raw_rows(w, user) == []


def test_production_refuses_google_without_a_credentials_key(settings: Settings) -> None:
    base: dict[str, Any] = {
        "env": "production",
        "jwt_secret": "a-long-production-secret-" + "9" * 24,
        "google_client_id": "id",
        "google_client_secret": "secret",
    }
    with pytest.raises(ValueError, match="MCOS_CREDENTIALS_KEY"):
        Settings(_env_file=None, **base)
    with pytest.raises(ValueError, match="Fernet"):
        Settings(_env_file=None, **base, credentials_key=SecretStr("not-a-key"))
    key = SecretStr(Fernet.generate_key().decode())
    assert Settings(_env_file=None, **base, credentials_key=key)
