"""A rolling deploy: both workers, then both APIs, restarted one at a time (SIGTERM, start,
wait healthy) while 20 users chat."""

from __future__ import annotations

import asyncio
import signal

import pytest

from tests.faults.chat import Chatter, misordered_history
from tests.faults.cluster import Fleet
from tests.faults.helpers import Clock, new_user, report, text_for

# One of the fault suite's two xdist groups: one worker, one fleet (see conftest.py)
pytestmark = pytest.mark.xdist_group("faults-deploy")

USERS = 20


async def test_rolling_restart_while_20_users_chat(fleet: Fleet) -> None:
    apis = [fleet.api_url("api1"), fleet.api_url("api2")]
    chatters = [Chatter(new_user(f"roll{i}"), apis[i % 2 :] + apis[: i % 2]) for i in range(USERS)]
    await asyncio.gather(*(c.connect() for c in chatters))
    deploying = asyncio.Event()
    done = asyncio.Event()

    async def chat(c: Chatter) -> None:
        i = 0
        while not done.is_set() or i < 2:
            i += 1
            await c.chat(text_for(c.user_id, i), timeout=90)
            if i == 1:
                deploying.set()

    chats = [asyncio.create_task(chat(c)) for c in chatters]
    restarts: dict[str, float] = {}
    try:
        await deploying.wait()
        clock = Clock()
        for name in ("worker1", "worker2"):
            step = Clock()
            fleet.workers[name].signal(signal.SIGTERM)
            assert fleet.workers[name].wait(60) == 0
            fleet.start_worker(name)
            await fleet.wait_worker(name, 90)
            restarts[name] = step.since()
        for name in ("api1", "api2"):
            step = Clock()
            fleet.apis[name][0].signal(signal.SIGTERM)
            # uvicorn re-raises the SIGTERM it handled once its shutdown is complete
            assert fleet.apis[name][0].wait(60) in (0, -signal.SIGTERM)
            fleet.start_api(name)
            await fleet.wait_api(name, 90)
            restarts[name] = step.since()
        deploy = clock.since()
        done.set()
        await asyncio.wait_for(asyncio.gather(*chats), 180)
        checked = [await c.check() for c in chatters]
    except BaseException:
        for task in chats:
            task.cancel()
        print(fleet.logs())
        raise
    finally:
        await asyncio.gather(*(c.close(http=True) for c in chatters))
    turns = sum(len(c.turns) for c in chatters)
    latencies = sorted(t.done_at - t.sent_at for c in chatters for t in c.turns if t.done_at)
    report("rolling restart (2 workers, 2 APIs) under chat", users=USERS, turns=turns,
           messages_checked=sum(checked), deploy_took=deploy,
           **{f"{k}_back_after": v for k, v in restarts.items()},
           restarted_frames=sum(c.saw("llm.restarted") for c in chatters),
           p50_turn=latencies[len(latencies) // 2], max_turn=latencies[-1],
           users_with_history_misordered=sum(bool(c.misordered) for c in chatters))  # fmt: skip
    misordered_history(chatters)
