"""Issue 2's REST surface over real HTTP: tasks, state, history into the archive, health."""

from __future__ import annotations

import asyncio

from temporalio.client import Client

from mcos.infra import db
from mcos.kernel.settings import Settings
from tests.app.conftest import Api, running_api
from tests.support.wait import eventually


async def test_task_created_over_http_is_in_state(api: Api, user: str) -> None:
    async with api.client(user) as http:
        r = await http.post(
            "/api/v1/tasks",
            json={"title": "Buy milk", "priority": "high", "due": "2026-12-01T09:00:00Z"},
        )
        assert r.status_code == 201, r.text
        assert r.headers["x-request-id"].startswith("req_")
        task_id = r.json()["task_id"]
        state = (await http.get("/api/v1/state")).json()
        assert [(t["id"], t["title"], t["priority"]) for t in state["tasks"]] == [
            (task_id, "Buy milk", "high")
        ]
        assert state["tasks"][0]["due"] == "2026-12-01T09:00:00Z"

        r = await http.patch(f"/api/v1/tasks/{task_id}", json={"status": "done"})
        assert r.status_code == 200 and r.json()["task"]["status"] == "done"
        listed = (await http.get("/api/v1/tasks")).json()["tasks"]
        assert listed[0]["status"] == "done"
        assert (await http.delete(f"/api/v1/tasks/{task_id}")).status_code == 200
        assert (await http.get("/api/v1/tasks")).json()["tasks"] == []
        r = await http.delete(f"/api/v1/tasks/{task_id}")
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


async def test_same_client_action_creates_one_task(api: Api, user: str) -> None:
    async with api.client(user) as http:
        body = {"title": "Once", "client_action_id": "create-once"}
        a, b = await asyncio.gather(
            http.post("/api/v1/tasks", json=body), http.post("/api/v1/tasks", json=body)
        )
        assert {a.status_code, b.status_code} == {201}
        assert a.json()["task_id"] == b.json()["task_id"]
        assert sorted([a.json()["duplicate"], b.json()["duplicate"]]) == [False, True]
        assert len((await http.get("/api/v1/tasks")).json()["tasks"]) == 1


async def test_bad_commands_get_the_error_body_and_change_nothing(api: Api, user: str) -> None:
    async with api.client(user) as http:
        await http.post("/api/v1/tasks", json={"title": "keep"})
        before = (await http.get("/api/v1/state")).json()
        for method, url, body in [
            ("POST", "/api/v1/tasks", {"title": ""}),
            ("POST", "/api/v1/tasks", {"title": "x", "priority": "urgent"}),
            ("POST", "/api/v1/tasks", {"title": "x", "surprise": 1}),
            ("PATCH", "/api/v1/tasks/task_" + "1" * 32, {"title": "nope"}),
            ("PATCH", "/api/v1/tasks/not-an-id", {"title": "nope"}),
            ("PATCH", "/api/v1/preferences", {"bad key!": 1}),
            ("POST", "/api/v1/memory/pin", {"key": "k"}),
        ]:
            r = await http.request(method, url, json=body)
            assert r.status_code in (404, 422), (url, r.status_code, r.text)
            err = r.json()
            assert set(err) == {"error", "request_id"} and err["request_id"].startswith("req_")
            assert err["error"]["code"] in ("invalid_request", "not_found")
        r = await http.post(
            "/api/v1/tasks", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert r.status_code == 422
        after = (await http.get("/api/v1/state")).json()
        assert after["seq"] == before["seq"] and after["tasks"] == before["tasks"]


async def test_preferences_and_memory_endpoints(api: Api, user: str) -> None:
    async with api.client(user) as http:
        r = await http.patch("/api/v1/preferences", json={"home_airport": "SFO", "seat": "aisle"})
        assert r.json()["preferences"] == {"home_airport": "SFO", "seat": "aisle"}
        r = await http.patch("/api/v1/preferences", json={"seat": None})
        assert r.json()["preferences"] == {"home_airport": "SFO"}
        r = await http.post("/api/v1/memory/pin", json={"key": "wife", "value": "Ana"})
        mem_id = r.json()["memory_id"]
        assert [m["value"] for m in (await http.get("/api/v1/memory")).json()["memories"]] == [
            "Ana"
        ]
        assert (await http.delete(f"/api/v1/memory/{mem_id}")).status_code == 200
        assert (await http.get("/api/v1/memory")).json()["memories"] == []
        delta = (await http.get("/api/v1/state", params={"since": 1})).json()
        assert [e["type"] for e in delta["events"]] == [
            "preference.set",
            "preference.set",
            "memory.pinned",
            "memory.unpinned",
        ]


async def test_history_pages_reach_into_the_archive(
    settings: Settings, temporal_client: Client, user: str
) -> None:
    small = settings.model_copy(update={"brain_message_limit": 5, "brain_chat_replies": False})
    async with running_api(small, temporal_client) as api, api.client(user) as http:
        for i in range(12):
            r = await http.post("/api/v1/message", json={"text": f"note {i}"})
            assert r.status_code == 202 and r.json()["status"] == "accepted"
        engine = db.get_engine(small.sql_url)
        await eventually(lambda: db.count_archived(engine, user) == 7)
        seen: list[str] = []
        before = None
        while True:
            params = {"limit": 4, **({"before": before} if before else {})}
            page = (await http.get("/api/v1/history", params=params)).json()
            seen += [m["text"] for m in page["messages"]]
            before = page["next_before"]
            if before is None:
                break
        assert seen == [f"note {i}" for i in reversed(range(12))]


async def test_health_and_ready(api: Api) -> None:
    async with api.client() as http:
        assert (await http.get("/health")).json() == {"status": "ok"}
        ready = (await http.get("/ready")).json()
        assert ready == {"status": "ready", "checks": {"temporal": True, "worker": True}}
        assert (await http.get("/api/v1/state")).status_code == 401
