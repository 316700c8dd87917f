"""Temporal and PostgreSQL going down under a chat, and coming back (Redis: test_redis.py)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from temporalio.client import Client

from mcos.kernel.contracts import brain_workflow_id
from tests.faults.chat import Chatter, misordered_history
from tests.faults.cluster import Fleet
from tests.faults.helpers import Clock, brief_text_for, mid_stream, new_user, report, text_for
from tests.support.wait import eventually

# One of the fault suite's two xdist groups: one worker, one fleet (see conftest.py)
pytestmark = pytest.mark.xdist_group("faults-bus")


async def _chatters(fleet: Fleet, tag: str, n: int) -> list[Chatter]:
    apis = [fleet.api_url("api1"), fleet.api_url("api2")]
    chatters = [Chatter(new_user(f"{tag}{i}"), apis[i % 2 :] + apis[: i % 2]) for i in range(n)]
    await asyncio.gather(*(c.connect() for c in chatters))
    return chatters


async def test_temporal_sigkill_mid_turn_restarted_on_the_same_file(fleet: Fleet) -> None:
    chatters = await _chatters(fleet, "tkill", 3)
    try:
        await asyncio.gather(*(c.chat(brief_text_for(c.user_id, 1)) for c in chatters))
        turns = await asyncio.gather(*(c.send(text_for(c.user_id, 2)) for c in chatters))
        await asyncio.gather(*(mid_stream(c, t) for c, t in zip(chatters, turns, strict=True)))
        fleet.infra.temporal.kill()
        await asyncio.sleep(1.0)
        clock = Clock()
        await fleet.infra.temporal.start()  # same --db-filename: the same histories
        back = clock.since()
        await asyncio.gather(*(c.wait_reply(t, 90) for c, t in zip(chatters, turns, strict=True)))
        recovery = clock.since()
        await asyncio.gather(*(c.chat(brief_text_for(c.user_id, 3)) for c in chatters))
        checked = [await c.check() for c in chatters]
    except BaseException:
        print(fleet.logs())
        raise
    finally:
        await asyncio.gather(*(c.close(http=True) for c in chatters))
    report("Temporal dev server SIGKILL mid-turn", users=len(chatters),
           messages_checked=sum(checked), server_back_after=back,
           replies_completed_after_restart=recovery,
           restarted_frames=sum(c.saw("llm.restarted") for c in chatters))  # fmt: skip
    misordered_history(chatters)


async def test_postgres_restarted_during_archival(fleet: Fleet) -> None:
    """The live window is 8 messages: from turn 5 on each turn archives two. PostgreSQL
    stops while turns 5–7 run; archival retries; nothing lost, nothing doubled."""
    (chatter,) = await _chatters(fleet, "pg", 1)
    user = chatter.user_id
    client = await Client.connect(fleet.infra.temporal.address)
    pg = fleet.infra.postgres
    engine = create_engine(pg.url)

    def archived() -> list[str]:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id FROM archived_messages WHERE user_id = :u "
                                     "ORDER BY seq"), {"u": user})  # fmt: skip
            return [r[0] for r in rows]

    async def archival_retrying() -> bool:
        described = await client.get_workflow_handle(brain_workflow_id(user)).describe()
        return any(p.activity_type.name == "archive_messages" and p.attempt >= 2
                   for p in described.raw_description.pending_activities)  # fmt: skip

    try:
        for i in range(1, 5):
            await chatter.chat(brief_text_for(user, i))
        assert archived() == []
        await asyncio.to_thread(pg.stop, "immediate")
        clock = Clock()
        for i in range(5, 8):
            await chatter.chat(brief_text_for(user, i))
        await eventually(archival_retrying, 30, 0.1,
                         what="archival retrying while PostgreSQL is down")  # fmt: skip
        down_for = clock.since()
        await asyncio.to_thread(pg.start)
        clock = Clock()
        await eventually(
            lambda: len(archived()) == 6,
            90,
            0.1,
            what="the 6 excess messages archived",
            retry_on=(OperationalError,),  # PostgreSQL still coming back
        )
        recovery = clock.since()
        rows = archived()
        assert len(rows) == len(set(rows)) == 6
        checked = await chatter.check()
        history = await chatter.history()
        assert [m["id"] for m in history[:6]] == rows  # the archive holds the oldest six
        assert all(m.get("archived") for m in history[:6])
    except BaseException:
        print(fleet.logs())
        raise
    finally:
        await chatter.close(http=True)
        engine.dispose()
    report("PostgreSQL restarted during archival", messages_checked=checked,
           archived_rows=len(rows), postgres_down_for=down_for,
           archived_after_restart=recovery)  # fmt: skip
    misordered_history([chatter])
