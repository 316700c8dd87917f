"""``DELETE /me`` with the Redis bus and a connected calendar: nothing of the user is left
in Temporal, SQL or Redis, nothing in flight brings the brain back, and the next
message's frames all arrive."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis.asyncio as redis
from sqlalchemy import Engine, inspect, text
from temporalio.client import Client

from mcos.infra import db
from mcos.infra.bus_redis import RedisBus
from mcos.kernel.contracts import brain_workflow_id
from mcos.kernel.settings import Settings
from tests.app.conftest import recv_until, running_api
from tests.conftest import eventually
from tests.support.calendar_sync import build_sync_ics
from tests.support.redis_proc import throwaway_redis
from workflows.calendar import schedule_id

pytestmark = pytest.mark.redis


async def _temporal_leftovers(client: Client, user: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, query in {
        "brain runs": f'WorkflowId = "{brain_workflow_id(user)}"',
        "calendar-sync runs": f'TemporalScheduledById = "{schedule_id(user)}"',
    }.items():
        found[name] = [
            f"{wf.id}/{wf.run_id}/{wf.status.name if wf.status else None}"
            async for wf in client.list_workflows(query)
        ]
    found["schedule"] = [
        s.id async for s in await client.list_schedules() if s.id == schedule_id(user)
    ]
    return found


def _sql_leftovers(engine: Engine, user: str) -> dict[str, int]:
    """Rows mentioning the user in every table that has a user_id column."""
    counts: dict[str, int] = {}
    with engine.connect() as conn:
        for table in inspect(engine).get_table_names():
            columns = {c["name"] for c in inspect(engine).get_columns(table)}
            if "user_id" in columns:
                n = conn.execute(
                    text(f'SELECT COUNT(*) FROM "{table}" WHERE user_id = :u'), {"u": user}
                ).scalar_one()
                counts[table] = int(n)
    return counts


async def test_erase_leaves_nothing_and_the_next_messages_frames_all_arrive(
    settings: Settings, temporal_client: Client, tmp_path: Path, user: str
) -> None:
    ics_dir = tmp_path / "calendars"
    ics_dir.mkdir()
    (ics_dir / "work.ics").write_bytes(build_sync_ics())
    with throwaway_redis(tmp_path / "redis") as server:
        s = settings.model_copy(
            update={
                "bus_url": server.url,
                "calendar_ics_dir": ics_dir,
                "brain_message_limit": 2,
                "calendar_fetch_timeout_s": 20.0,
            }
        )
        bus = RedisBus(server.url)
        admin = redis.from_url(server.url, decode_responses=True)
        try:
            async with running_api(s, temporal_client, bus=bus) as api:
                engine = api.app.state.ctx.engine
                async with api.client(user) as http:
                    ws = await api.ws(user)
                    for i in range(3):
                        await ws.send(
                            json.dumps(
                                {
                                    "type": "message.send",
                                    "text": f"note {i}",
                                    "client_action_id": f"n{i}",
                                }
                            )
                        )
                        await recv_until(ws, lambda f: f["type"] == "message.completed")
                    await ws.close()
                    resp = await http.post(
                        "/api/v1/calendar/source", json={"kind": "ics", "path": "work.ics"}
                    )
                    assert resp.status_code == 201

                    async def synced() -> bool:
                        body = (await http.get("/api/v1/calendar/status")).json()
                        return bool(body["last_sync"]) and not body["running"]

                    await eventually(synced, timeout=60)
                    await eventually(lambda: db.count_archived(engine, user) >= 1)
                    before = await _temporal_leftovers(temporal_client, user)
                    assert before["brain runs"] and before["calendar-sync runs"]
                    assert before["schedule"]
                    assert sum(_sql_leftovers(engine, user).values()) >= 1
                    assert await admin.keys(f"*{user}*")  # stream and dedup keys exist

                    # a sync in flight at the erase must not bring the brain back
                    await http.post("/api/v1/calendar/sync")
                    erased = await http.delete("/api/v1/me")
                    assert erased.status_code == 200, erased.text
                    body = erased.json()
                    assert body["calendar_runs_deleted"] >= 1 and body["schedules_deleted"] == 1

                    seen: list[dict] = []

                    async def temporal_clean() -> dict | None:
                        left = await _temporal_leftovers(temporal_client, user)
                        seen.append(left)
                        return left if not any(left.values()) else None

                    try:
                        checked_temporal = await eventually(
                            temporal_clean, timeout=90, interval=1.0
                        )
                    except AssertionError:
                        described: list[tuple[object, ...]] = []
                        for runs in seen[-1].values():
                            for r in runs:
                                if r.count("/") >= 2:
                                    wid, rid, _ = r.split("/")
                                    try:
                                        d = await temporal_client.get_workflow_handle(
                                            wid, run_id=rid
                                        ).describe()
                                        described.append((wid, d.status, d.close_time))
                                    except Exception as exc:  # noqa: BLE001
                                        described.append((wid, repr(exc)[:80]))
                        raise AssertionError(
                            f"left in Temporal: {seen[-1]} {described} {body}"
                        ) from None
                    checked_sql = _sql_leftovers(engine, user)
                    assert not any(checked_sql.values()), checked_sql
                    checked_redis = await admin.keys(f"*{user}*")
                    assert checked_redis == [], checked_redis
                    print(
                        "erase checked: Temporal",
                        sorted(checked_temporal),
                        "| SQL tables",
                        sorted(checked_sql),
                        "| Redis keys matching the user: none",
                    )

                    # the next message starts a fresh brain whose frames ALL arrive
                    # (the old dedup keys would have swallowed seq 1, 2, …)
                    ws = await api.ws(user)
                    await ws.send(
                        json.dumps(
                            {
                                "type": "message.send",
                                "text": "fresh start",
                                "client_action_id": "fresh",
                            }
                        )
                    )
                    frames = await recv_until(ws, lambda f: f["type"] == "message.completed")
                    await ws.close()
                    seqs = [f["seq"] for f in frames if f.get("seq") is not None]
                    assert seqs and seqs[0] == 1 and seqs == sorted(seqs)
                    kinds = [f["type"] for f in frames]
                    assert kinds.count("message.created") == 2  # the user's and the reply
                    state = (await http.get("/api/v1/state")).json()
                    assert [m["text"] for m in state["messages"] if m["role"] == "user"] == [
                        "fresh start"
                    ]
                    assert state["calendar"] == [] or not state.get("calendar")
        finally:
            await admin.aclose()
            await bus.close()
