"""The fetch activity (``ActivityEnvironment``) and the ICS location rule (pure).

Google syncs: in single-user mode (the operator's credentials, for the one user named),
and with each user's own grant (a Google stand-in for the token endpoint, the MCP
stand-in recording the credentials it was given)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.calendar import CalendarActivities
from mcos.calendar.errors import CalendarSourceError
from mcos.calendar.location import check_ics_location
from mcos.calendar.window import sync_window
from mcos.infra import db
from mcos.infra.db import get_engine
from mcos.infra.secrets import credential_cipher
from mcos.kernel.contracts import CalendarFetchInput, CalendarSource
from mcos.kernel.errors import ErrorType
from mcos.kernel.settings import Settings
from tests.conftest import free_port, serving
from tests.support.calendar_sync import FAKE_GCAL_COMMAND, build_sync_ics
from tests.support.fake_google import CLIENT_ID, READONLY, FakeGoogle, google_event


def _settings(tmp_path: Path, **extra: Any) -> Settings:
    """Single-user mode for user ``u`` unless ``extra`` says otherwise."""
    (tmp_path / "cal").mkdir(exist_ok=True)
    return Settings(
        _env_file=None,
        data_dir=tmp_path,
        calendar_ics_dir=tmp_path / "cal",
        google_calendar_mcp_command=FAKE_GCAL_COMMAND,
        **({"google_single_user": "u"} | extra),
    )


def _input(
    source: CalendarSource, timeout_s: float = 15.0, user_id: str = "u"
) -> CalendarFetchInput:
    window = sync_window(datetime.now(UTC))
    return CalendarFetchInput(
        user_id=user_id,
        source=source,
        window_start=window.start,
        window_end=window.end,
        timeout_s=timeout_s,
    )


async def test_ics_file_fetch_returns_events(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    (settings.ics_dir / "a.ics").write_bytes(build_sync_ics())
    acts = CalendarActivities(settings)
    out = await ActivityEnvironment().run(
        acts.fetch_calendar, _input(CalendarSource(kind="ics", location="a.ics"))
    )
    assert out.status == "ok" and out.error is None
    assert "paris-trip@test" in {e["id"] for e in out.events}
    assert {e["source"] for e in out.events} == {"ics"}


@pytest.mark.parametrize(
    ("mode", "status"),
    [("missing_credentials", "auth_error"), ("auth_error", "auth_error"), ("bad_json", "invalid")],
)
async def test_google_permanent_failures_are_a_status(
    tmp_path: Path, mode: str, status: str
) -> None:
    acts = CalendarActivities(_settings(tmp_path, google_calendar_mcp_env={"FAKE_GCAL_MODE": mode}))
    out = await ActivityEnvironment().run(
        acts.fetch_calendar, _input(CalendarSource(kind="google"))
    )
    assert out.status == status and out.events == []
    assert out.error


@pytest.mark.parametrize(
    ("mode", "error_type", "timeout_s"),
    # A crash is seen as soon as the process exits: a roomy timeout keeps a loaded machine's
    # slow interpreter start from turning it into a timeout.
    [("hang", "timeout", 2.0), ("crash_on_start", "unavailable", 60.0)],
)
async def test_google_transient_failures_are_retried(
    tmp_path: Path, mode: str, error_type: str, timeout_s: float
) -> None:
    acts = CalendarActivities(_settings(tmp_path, google_calendar_mcp_env={"FAKE_GCAL_MODE": mode}))
    with pytest.raises(ApplicationError) as info:
        await ActivityEnvironment().run(
            acts.fetch_calendar, _input(CalendarSource(kind="google"), timeout_s=timeout_s)
        )
    assert info.value.type == error_type and not info.value.non_retryable


async def test_google_events_are_fetched_with_the_calendar_id(tmp_path: Path) -> None:
    start = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    events = tmp_path / "events.json"
    events.write_text(
        json.dumps(
            [
                {
                    "id": "g1",
                    "summary": "Flight to Tokyo",
                    "status": "confirmed",
                    "start": {"dateTime": start.isoformat()},
                    "end": {"dateTime": (start + timedelta(hours=11)).isoformat()},
                }
            ]
        )
    )
    args = tmp_path / "args.jsonl"
    acts = CalendarActivities(
        _settings(
            tmp_path,
            google_calendar_mcp_env={"FAKE_GCAL_EVENTS": str(events), "FAKE_GCAL_ARGS": str(args)},
        )
    )
    out = await ActivityEnvironment().run(
        acts.fetch_calendar, _input(CalendarSource(kind="google", calendar_id="work@x.com"))
    )
    assert out.status == "ok" and [e["id"] for e in out.events] == ["g1"]
    assert out.events[0]["source"] == "google"
    assert json.loads(args.read_text().splitlines()[0])["calendarId"] == "work@x.com"


# --- the ICS location rule ---------------------------------------------------------------


def test_urls_must_be_http(tmp_path: Path) -> None:
    assert check_ics_location("https://example.com/c.ics", tmp_path) == "https://example.com/c.ics"
    assert check_ics_location("webcal://example.com/c.ics", tmp_path).startswith("webcal://")
    for bad in (
        "ftp://example.com/c.ics",
        "data:text/calendar,x",
        "https:///nohost",
        "https://example.com:99999/c.ics",
        "https://example.com:x/c.ics",
        "",
        "gopher://x",
    ):
        with pytest.raises(CalendarSourceError):
            check_ics_location(bad, tmp_path)


def test_files_only_inside_the_calendar_directory(tmp_path: Path) -> None:
    root = tmp_path / "cal"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "a.ics").write_text("x")
    assert check_ics_location("sub/a.ics", root) == str((root / "sub" / "a.ics").resolve())
    assert check_ics_location(f"file://{root}/sub/a.ics", root).endswith("sub/a.ics")
    (root / "link.ics").symlink_to(tmp_path / "outside.ics")
    for bad in (
        "/etc/passwd",
        "../outside.ics",
        "sub/../../outside.ics",
        "link.ics",
        "file:///etc/passwd",
        "file://remote-host/share/a.ics",
        ".",
        "a\x00.ics",
    ):
        with pytest.raises(CalendarSourceError):
            check_ics_location(bad, root)


# --- Google with each user's own grant --------------------------------------------------


@dataclass
class Tenants:
    settings: Settings
    google: FakeGoogle
    acts: CalendarActivities
    seen: Path
    operator_token: str


@pytest.fixture
async def tenants(tmp_path: Path) -> AsyncIterator[Tenants]:
    """Alice and Bob connected their own Google accounts; the operator has credentials of
    their own (a token file in the MCP env, a client file) that no per-user run may use."""
    google = FakeGoogle()
    async with serving(google.app) as url:
        google.url = url
        now = datetime.now(UTC).replace(microsecond=0)
        for email, title in (("alice@example.com", "Alice"), ("bob@example.com", "Bob")):
            google.add_account(email, [google_event(f"{title}-1", title, now + timedelta(days=1))])
        operator_tokens = tmp_path / "operator-tokens.json"
        operator_token = google.access_token_for("operator@example.com")
        operator_tokens.write_text(json.dumps({"normal": {"access_token": operator_token}}))
        seen = tmp_path / "seen.jsonl"
        settings = _settings(
            tmp_path,
            google_single_user=None,
            credentials_key=Fernet.generate_key().decode(),
            google_oauth_credentials=str(tmp_path / "operator-keys.json"),
            google_calendar_mcp_env={
                "FAKE_GCAL_SEEN": str(seen),
                "GOOGLE_CALENDAR_MCP_TOKEN_PATH": str(operator_tokens),
                "GOOGLE_ACCOUNT_MODE": "operator",
            },
            **google.settings(),
        )
        engine = get_engine(settings.sql_url)
        cipher = credential_cipher(settings)
        for user, email in (("alice", "alice@example.com"), ("bob", "bob@example.com")):
            encrypted = cipher.encrypt(google.grant(email))
            db.save_google_connection(engine, user, encrypted, READONLY)
        yield Tenants(
            settings, google, CalendarActivities(settings, engine=engine), seen, operator_token
        )


async def test_each_users_sync_gets_only_their_own_access_token(tenants: Tenants) -> None:
    for user, email in (("alice", "alice@example.com"), ("bob", "bob@example.com")):
        before = len(tenants.seen.read_text().splitlines()) if tenants.seen.exists() else 0
        out = await ActivityEnvironment().run(
            tenants.acts.fetch_calendar, _input(CalendarSource(kind="google"), user_id=user)
        )
        assert out.status == "ok", out.error
        seen = json.loads(tenants.seen.read_text().splitlines()[before])
        tokens = seen["GOOGLE_CALENDAR_MCP_TOKEN_PATH"]
        assert list(tokens) == ["normal"] and seen["env"]["GOOGLE_ACCOUNT_MODE"] == "normal"
        access = tokens["normal"]["access_token"]
        # The token is a fresh one of THIS user's account, never the operator's.
        assert tenants.google.access_tokens[access].account == email
        assert access != tenants.operator_token
        assert "refresh_token" not in json.dumps(seen) and "client_secret" not in json.dumps(seen)
        assert seen["GOOGLE_OAUTH_CREDENTIALS"]["installed"]["client_id"] == CLIENT_ID
        # One private directory per run, gone afterwards.
        home = Path(seen["env"]["GOOGLE_CALENDAR_MCP_TOKEN_PATH"]).parent
        assert seen["cwd"] == str(home) and not home.exists()


async def test_a_user_without_a_connection_gets_auth_error_and_no_server_runs(
    tenants: Tenants,
) -> None:
    out = await ActivityEnvironment().run(
        tenants.acts.fetch_calendar, _input(CalendarSource(kind="google"), user_id="carol")
    )
    assert out.status == "auth_error" and out.events == []
    assert "no Google account is connected" in (out.error or "")
    assert not tenants.seen.exists()  # the MCP server never started, operator's env unused


async def test_single_user_mode_is_only_for_the_user_it_names(tenants: Tenants) -> None:
    acts = CalendarActivities(
        tenants.settings.model_copy(update={"google_single_user": "dana"}),
        engine=get_engine(tenants.settings.sql_url),
    )
    out = await ActivityEnvironment().run(
        acts.fetch_calendar, _input(CalendarSource(kind="google"), user_id="dana")
    )
    assert out.status == "ok"
    seen = json.loads(tenants.seen.read_text().splitlines()[-1])
    assert seen["GOOGLE_CALENDAR_MCP_TOKEN_PATH"] == {
        "normal": {"access_token": tenants.operator_token}
    }
    carol = await ActivityEnvironment().run(
        acts.fetch_calendar, _input(CalendarSource(kind="google"), user_id="carol")
    )
    assert carol.status == "auth_error"
    assert len(tenants.seen.read_text().splitlines()) == 1


async def test_a_revoked_grant_is_auth_error(tenants: Tenants) -> None:
    tenants.google.revoked.update(
        t for t, email in tenants.google.refresh_tokens.items() if email == "alice@example.com"
    )
    out = await ActivityEnvironment().run(
        tenants.acts.fetch_calendar, _input(CalendarSource(kind="google"), user_id="alice")
    )
    assert out.status == "auth_error"
    assert "invalid_grant" in (out.error or "") and "connect Google again" in (out.error or "")


async def test_a_rotated_refresh_token_is_stored_encrypted_and_used_next(
    tenants: Tenants,
) -> None:
    tenants.google.rotate_refresh_tokens = True
    engine = get_engine(tenants.settings.sql_url)
    first = db.load_google_connection(engine, "alice")
    for _ in range(2):  # the second refresh only works with the token the first one stored
        grant = await tenants.acts.accounts.access_token("alice")
        assert grant is not None
        assert tenants.google.access_tokens[grant.access_token].account == "alice@example.com"
    stored = db.load_google_connection(engine, "alice")
    assert first is not None and stored is not None
    assert stored.refresh_token_encrypted != first.refresh_token_encrypted
    plain = credential_cipher(tenants.settings).decrypt(stored.refresh_token_encrypted)
    assert plain in tenants.google.refresh_tokens and plain not in tenants.google.revoked


async def test_token_endpoint_down_is_retried(tenants: Tenants) -> None:
    down = tenants.settings.model_copy(
        update={"google_token_url": f"http://127.0.0.1:{free_port()}/token"}
    )
    acts = CalendarActivities(down, engine=get_engine(down.sql_url))
    with pytest.raises(ApplicationError) as info:
        await ActivityEnvironment().run(
            acts.fetch_calendar, _input(CalendarSource(kind="google"), user_id="alice")
        )
    assert info.value.type == ErrorType.UNAVAILABLE and not info.value.non_retryable
