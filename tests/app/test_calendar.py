"""Calendar routes through real HTTP/WebSocket, with the worker embedded: connecting a
source, the chat-first rule, Google without credentials (single-user mode for the test's
user; anyone else needs their own connection), adding events, the ICS path rule."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.client import Client, ScheduleActionExecutionStartWorkflow
from websockets.asyncio.client import ClientConnection

from mcos.kernel.contracts import brain_workflow_id as workflow_id
from mcos.kernel.settings import Settings
from tests.app.conftest import Api, recv_until
from tests.conftest import user_id
from tests.support.calendar_sync import (
    FAKE_GCAL_COMMAND,
    activity_types,
    build_sync_ics,
    wait_for_run,
)
from tests.support.wait import eventually
from workflows.schedules import CalendarScheduler

REAL_GCAL_JS = os.environ.get("MCOS_TEST_GCAL_MCP_JS")


@pytest.fixture
def settings(settings: Settings, tmp_path: Path, user: str) -> Settings:
    ics_dir = tmp_path / "calendars"
    ics_dir.mkdir()
    return settings.model_copy(
        update={
            "calendar_ics_dir": ics_dir,
            "google_single_user": user,
            "google_calendar_mcp_command": FAKE_GCAL_COMMAND,
            "google_calendar_mcp_env": {"FAKE_GCAL_MODE": "missing_credentials"},
            "calendar_fetch_timeout_s": 20.0,
        }
    )


async def _drain(ws: ClientConnection, seconds: float) -> list[dict]:
    frames: list[dict] = []
    try:
        async with asyncio.timeout(seconds):
            while True:
                frames.append(json.loads(await ws.recv()))
    except TimeoutError:
        return frames


async def test_sync_obeys_the_chat_first_rule(api: Api, user: str, temporal_client: Client) -> None:
    (api.settings.ics_dir / "work.ics").write_bytes(build_sync_ics())
    ws = await api.ws(user)
    async with api.client(user) as http:
        resp = await http.post("/api/v1/calendar/source", json={"kind": "ics", "path": "work.ics"})
        assert resp.status_code == 201, resp.text
        assert resp.json()["source"]["kind"] == "ics"
        frames = await recv_until(ws, lambda f: f["type"] == "state.updated")
        sched = CalendarScheduler(temporal_client, api.settings)
        await wait_for_run(sched, user, 1)
        await sched.trigger(user)  # a second, unchanged sync: no frame at all
        await wait_for_run(sched, user, 2)
        frames += await _drain(ws, 1.0)
        await ws.close()

        assert [f["type"] for f in frames] == ["state.updated"], [f["type"] for f in frames]
        assert frames[0]["data"]["calendar"] and frames[0]["data"]["travel"]
        state = (await http.get("/api/v1/state")).json()
        assert state["messages"] == []

    # The runs of the schedule only fetched and diffed; the brain ran no LLM and no tool:
    # its only activity is publishing the state.updated frame.
    desc = await sched.describe(user)
    assert desc is not None and len(desc.info.recent_actions) == 2
    for action in desc.info.recent_actions:
        assert isinstance(action.action, ScheduleActionExecutionStartWorkflow), action.action
        names = await activity_types(
            temporal_client, action.action.workflow_id, action.action.first_execution_run_id
        )
        assert sorted(set(names)) == ["apply_calendar_sync", "fetch_calendar"], names
    brain_activities = await activity_types(temporal_client, workflow_id(user))
    assert set(brain_activities) == {"publish_frames"}, brain_activities


async def test_status_connect_replace_and_disconnect(api: Api, user: str) -> None:
    (api.settings.ics_dir / "work.ics").write_bytes(build_sync_ics())
    async with api.client(user) as http:
        resp = await http.get("/api/v1/calendar/status")
        assert resp.status_code == 200 and resp.json()["connected"] is False

        assert (
            await http.post("/api/v1/calendar/source", json={"kind": "ics", "path": "work.ics"})
        ).status_code == 201

        async def synced() -> dict | None:
            body = (await http.get("/api/v1/calendar/status")).json()
            return body if body["last_sync"] and not body["running"] else None

        status = await eventually(synced)
        assert status["connected"] and status["source"] == {
            "kind": "ics",
            "location": str(api.settings.ics_dir.resolve() / "work.ics"),
            "calendar_id": None,
        }
        last = status["last_sync"]
        assert last["status"] == "ok" and last["fetched"] == last["upserts"] > 0
        assert status["events_in_brain"] == {"ics": last["fetched"]}
        assert status["interval_minutes"] == 15 and status["next_run"]
        assert status["travel_events"] >= 2

        # Another user has no Google connection (and is not the single user): 409.
        async with api.client(user_id()) as other:
            refused = await other.post("/api/v1/calendar/source", json={"kind": "google"})
            assert refused.status_code == 409, refused.text
            assert refused.json()["error"]["code"] == "google_not_connected"
        assert status["google"] == {
            "connected": True,
            "mode": "single_user",
            "connected_at": None,
            "refreshed_at": None,
            "scope": None,
        }

        # Switching to Google (the operator's credentials, missing) drops the ICS events and
        # reports auth_error.
        resp = await http.post("/api/v1/calendar/source", json={"kind": "google"})
        assert resp.status_code == 201 and resp.json()["replaced"]["kind"] == "ics"

        async def google_synced() -> dict | None:
            body = (await http.get("/api/v1/calendar/status")).json()
            done = body["last_sync"] and body["source"]["kind"] == "google" and not body["running"]
            return body if done and body["runs"] == 2 else None

        status = await eventually(google_synced)
        assert status["last_sync"]["status"] == "auth_error"
        assert "credentials" in status["last_sync"]["error"].lower()
        assert status["events_in_brain"] == {}

        resp = await http.delete("/api/v1/calendar/source")
        assert resp.status_code == 200 and resp.json()["disconnected"]["kind"] == "google"
        assert (await http.delete("/api/v1/calendar/source")).status_code == 404
        assert (await http.get("/api/v1/calendar/status")).json()["connected"] is False


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "ics", "path": "/etc/passwd"},
        {"kind": "ics", "path": "../../etc/passwd"},
        {"kind": "ics", "path": "file:///etc/passwd"},
        {"kind": "ics", "url": "file:///etc/passwd"},
        {"kind": "ics", "url": "ftp://example.com/cal.ics"},
        {"kind": "ics", "path": "missing.ics"},
        {"kind": "ics"},
        {"kind": "google", "url": "https://example.com/x.ics"},
        {"kind": "outlook"},
    ],
)
async def test_bad_sources_are_refused(api: Api, user: str, body: dict) -> None:
    async with api.client(user) as http:
        resp = await http.post("/api/v1/calendar/source", json=body)
        assert resp.status_code == 422, resp.text
        assert resp.json()["error"]["code"] == "invalid_request"
        assert (await http.get("/api/v1/calendar/status")).json()["connected"] is False


async def test_symlink_out_of_the_calendar_directory_is_refused(api: Api, user: str) -> None:
    (api.settings.ics_dir / "sneaky.ics").symlink_to("/etc/hostname")
    async with api.client(user) as http:
        resp = await http.post(
            "/api/v1/calendar/source", json={"kind": "ics", "path": "sneaky.ics"}
        )
    assert resp.status_code == 422


async def test_add_event_by_hand_shows_in_agenda_data_and_travel(api: Api, user: str) -> None:
    start = (datetime.now(UTC) + timedelta(days=5)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    async with api.client(user) as http:
        resp = await http.post(
            "/api/v1/calendar/event",
            json={
                "title": "Offsite in Berlin",
                "start": start.isoformat(),
                "all_day": True,
                "end": (start + timedelta(days=3)).isoformat(),
                "client_action_id": "cal-1",
            },
        )
        assert resp.status_code == 201, resp.text
        event = resp.json()["event"]
        again = await http.post(
            "/api/v1/calendar/event",
            json={
                "title": "Offsite in Berlin",
                "start": start.isoformat(),
                "all_day": True,
                "end": (start + timedelta(days=3)).isoformat(),
                "client_action_id": "cal-1",
            },
        )
        assert again.json()["duplicate"] is True
        state = (await http.get("/api/v1/state")).json()
        calendar = state["calendar"]
        ids = [c["id"] for c in calendar] if isinstance(calendar, list) else list(calendar)
        assert ids == [event["id"]]
        assert any(t["destination"] == "Berlin" for t in state["travel"])

        far = await http.post(
            "/api/v1/calendar/event",
            json={"title": "Too far", "start": (start + timedelta(days=400)).isoformat()},
        )
        assert far.status_code == 422
        backwards = await http.post(
            "/api/v1/calendar/event",
            json={
                "title": "Backwards",
                "start": start.isoformat(),
                "end": (start - timedelta(hours=1)).isoformat(),
            },
        )
        assert backwards.status_code == 422


@pytest.mark.skipif(
    not REAL_GCAL_JS or shutil.which("node") is None,
    reason="set MCOS_TEST_GCAL_MCP_JS to @cocal/google-calendar-mcp's build/index.js",
)
async def test_real_google_calendar_mcp_without_credentials(
    settings: Settings, temporal_client: Client, tmp_path: Path, user: str
) -> None:
    from tests.app.conftest import running_api

    real = settings.model_copy(
        update={
            "google_calendar_mcp_command": f"node {REAL_GCAL_JS}",
            "google_calendar_mcp_env": {"HOME": str(tmp_path)},
            "calendar_fetch_timeout_s": 30.0,
        }
    )
    async with running_api(real, temporal_client) as api, api.client(user) as http:
        assert (
            await http.post("/api/v1/calendar/source", json={"kind": "google"})
        ).status_code == 201
        result = await wait_for_run(CalendarScheduler(temporal_client, real), user, 1, within=60)
        assert result["status"] == "auth_error", result
