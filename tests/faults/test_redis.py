"""Redis (the realtime bus and the shared rate window) down for 3 s, 10 s and 60 s while
users chat and send commands, then back on the same AOF.

Redis dies while every user's reply streams. Through the outage every user keeps going:
chat turns sent alternately over the socket and over REST, each waited for in ``/state``
(the brain answers; only the bus is down), and after each a task created then completed
over REST. In the 60 s outage two users also drop their socket halfway, so sockets opened
while Redis is down are exercised (closed with 1013, the client back with its cursor).

Afterwards: every brain still Running; every turn recorded once and in order in ``/state``
and ``/history``, answered once in full; every task command applied once; every socket got
the ``message.completed`` of every turn (the brain's frames waited in its outbox) and
streams a new turn's tokens live, in full.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter

import pytest
from temporalio.client import Client, WorkflowExecutionStatus

from mcos.kernel.contracts import brain_workflow_id
from tests.faults.chat import Chatter, Turn, expected_reply, misordered_history
from tests.faults.cluster import Fleet
from tests.faults.helpers import (
    Clock,
    brief_text_for,
    mid_stream,
    new_user,
    report,
    text_for,
    tokens_of,
)

# One of the fault suite's two xdist groups: one worker, one fleet (see conftest.py)
pytestmark = pytest.mark.xdist_group("faults-bus")

# (seconds down, users, replies each user at least gets recorded while Redis is down): the
# 10 s case is a cheap middle point, on as few users as the 3 s one
OUTAGES = [(3, 3, 0), (10, 3, 1), (60, 10, 4)]
DROP_SOCKETS_FROM_S = 30  # outages this long also drop two sockets halfway
# In those, each user pauses this long between rounds (a turn, a task created and completed),
# so the turns spread over the whole outage: ~6 rounds a user, not ~12 back to back, which
# only added load (the 60 s case was the suite's most expensive test).
LONG_OUTAGE_PAUSE_S = 5.0


class _User:
    """A chatter's work through the outage: turns and task commands until Redis is back."""

    def __init__(self, chatter: Chatter) -> None:
        self.c = chatter
        self.recorded: list[Turn] = []  # replies in /state, in order
        self.tasks: list[str] = []  # created and completed

    async def keep_busy(self, cut: Turn, over: asyncio.Event, pause: float) -> None:
        c = self.c
        await c.wait_recorded(cut, 120)  # the reply cut off the bus still completes
        self.recorded.append(cut)
        n = 0
        while not over.is_set():
            text = text_for(c.user_id, 3 + n)
            turn = await (c.send_ws(text) if n % 2 == 0 else c.send(text))
            await c.wait_recorded(turn, 120)
            self.recorded.append(turn)
            task_id = await c.create_task(f"{c.user_id} task {3 + n}")
            await c.complete_task(task_id)
            self.tasks.append(task_id)
            n += 1
            if pause:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(over.wait(), pause)

    async def check_commands(self) -> int:
        """Every task created once and completed once; the commands counted."""
        c, mine = self.c, self.tasks
        held = {t["id"]: t for t in await c.tasks()}
        assert set(held) == set(mine) and len(mine) == len(set(mine)), c.user_id
        assert all(held[t]["status"] == "done" for t in mine), c.user_id
        applied = Counter((e["type"], e["payload"]["id"]) for e in await c.events()
                          if e["type"] in ("task.created", "task.updated"))  # fmt: skip
        want = {(kind, t): 1 for t in mine for kind in ("task.created", "task.updated")}
        assert dict(applied) == want, f"{c.user_id}: commands applied {dict(applied)}"
        return sum(applied.values())


def _streamed(c: Chatter, turn: Turn) -> str:
    """The text the socket streamed for the turn's reply (its last attempt)."""
    tokens = [f["data"] for f in tokens_of(c, turn)]
    assert tokens, f"{c.user_id}: no token of the new turn reached the socket"
    last = max(t["attempt"] for t in tokens)
    return "".join(t["text"] for t in tokens if t["attempt"] == last)


@pytest.mark.parametrize(("down_s", "users", "floor"), OUTAGES, ids=[f"{o[0]}s" for o in OUTAGES])
async def test_redis_down_while_users_chat(
    fleet: Fleet, down_s: int, users: int, floor: int
) -> None:

    apis = [fleet.api_url("api1"), fleet.api_url("api2")]
    chatters = [Chatter(new_user(f"redis{down_s}s{i}"), apis[i % 2 :] + apis[: i % 2])
                for i in range(users)]  # fmt: skip
    people = [_User(c) for c in chatters]
    await asyncio.gather(*(c.connect() for c in chatters))
    client = await Client.connect(fleet.infra.temporal.address)
    over = asyncio.Event()
    busy: list[asyncio.Task[None]] = []
    try:
        await asyncio.gather(*(c.chat(brief_text_for(c.user_id, 1)) for c in chatters))
        cut = await asyncio.gather(*(c.send(text_for(c.user_id, 2)) for c in chatters))
        await asyncio.gather(*(mid_stream(c, t) for c, t in zip(chatters, cut, strict=True)))
        fleet.infra.redis.kill()
        killed_at, down = time.monotonic(), Clock()
        pause = LONG_OUTAGE_PAUSE_S if down_s >= DROP_SOCKETS_FROM_S else 0.0
        busy = [asyncio.create_task(p.keep_busy(t, over, pause))
                for p, t in zip(people, cut, strict=True)]  # fmt: skip
        dropped = chatters[:2] if down_s >= DROP_SOCKETS_FROM_S else []
        await asyncio.sleep(down_s / 2)
        for c in dropped:  # reconnects while Redis is down: 1013, then back by cursor
            assert c._ws is not None
            await c._ws.close()
        await asyncio.sleep(max(0.0, down_s - down.since()))
        for task in busy:
            assert not task.done(), task  # nothing gave up during the outage
        await fleet.infra.redis.start()  # the same AOF: the bus buffer survives
        back_at, back = time.monotonic(), Clock()
        over.set()
        # every socket streams again: the brain's frames of the turns answered while Redis
        # was down (they waited in its outbox) reach each client
        answered = [(p.c, t) for p in people for t in list(p.recorded)]
        for p in people:  # chat went on: the brain answered while only the bus was down
            assert len(p.recorded) >= floor, f"{p.c.user_id}: {len(p.recorded)} replies"
        await asyncio.gather(*(c.wait_reply(t, 60) for c, t in answered))
        caught_up = back.since()
        await asyncio.wait_for(asyncio.gather(*busy), 180)
        busy_done = back.since()
        await asyncio.gather(*(c.wait_reply(t, 60) for c in chatters for t in c.turns))
        for c in dropped:
            assert 1013 in c.close_codes, f"{c.user_id}: {c.close_codes}"
        # and a new turn streams live, every token of it
        new = await asyncio.gather(*(c.chat(brief_text_for(c.user_id, 99)) for c in chatters))
        for c, turn in zip(chatters, new, strict=True):
            assert _streamed(c, turn) == expected_reply(turn.text), c.user_id
        # no brain failed (nor was replaced: check() finds turn 1 in each)
        for c in chatters:
            described = await client.get_workflow_handle(brain_workflow_id(c.user_id)).describe()
            assert described.status == WorkflowExecutionStatus.RUNNING, (c.user_id, described)
        # tokens published during the outage are lost to the bus (never to the reply)
        checked = [await c.check(stream_checks=False) for c in chatters]
        commands = [await p.check_commands() for p in people]
    except BaseException:
        for task in busy:
            task.cancel()
        print(fleet.logs())
        raise
    finally:
        await asyncio.gather(*(c.close(http=True) for c in chatters))
    in_outage = sum(killed_at <= t.sent_at < back_at for c in chatters for t in c.turns)
    report(f"Redis down {down_s} s while {users} users chat", users=users,
           turns_sent_while_down=in_outage, replies_recorded_while_down=len(answered),
           commands_applied_once=sum(commands), messages_checked=sum(checked),
           frames_of_answered_turns_on_every_socket_after=caught_up,
           in_flight_turns_done_after=busy_done,
           sockets_refused_1013=sum(c.close_codes.count(1013) for c in chatters))  # fmt: skip
    misordered_history(chatters)
