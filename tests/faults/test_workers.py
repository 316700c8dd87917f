"""Workers killed and stopped mid-stream: the reply still completes once, in full."""

from __future__ import annotations

import signal

import pytest
from temporalio.client import Client

from tests.faults.chat import Chatter, Turn, misordered_history
from tests.faults.cluster import Fleet
from tests.faults.helpers import (
    Clock,
    brief_text_for,
    mid_stream,
    new_user,
    report,
    text_for,
    token_count,
    tokens_of,
    worker_running_llm,
)

# One of the fault suite's two xdist groups: one worker, one fleet (see conftest.py)
pytestmark = pytest.mark.xdist_group("faults-deploy")

PIECES = 159  # the offline reply's tokens in these scenarios (25 ms apart: ~4 s)


async def _cut(fleet: Fleet, sig: int, tag: str, tokens: int = 3, at_most: int = PIECES
               ) -> tuple[Chatter, Turn, str, float, float]:  # fmt: skip
    """One user: a turn, then a turn whose worker gets ``sig`` mid-stream, then a turn.

    The signal goes once the client has seen ``tokens`` tokens of the reply — but only if
    it has seen no more than ``at_most`` by then (finding the worker can take a while on a
    loaded machine); otherwise that turn runs out and the next one is tried, so the time
    left in the stream at the signal is known, not hoped for.
    Returns the user, the turn cut, the worker signalled, the reply's recovery time and the
    worker's exit time."""
    client = await Client.connect(fleet.infra.temporal.address)
    user = new_user(tag)
    chatter = Chatter(user, [fleet.api_url("api1"), fleet.api_url("api2")])
    await chatter.connect()
    try:
        await chatter.chat(brief_text_for(user, 1))
        for attempt in range(4):
            turn = await chatter.send(text_for(user, 2 + attempt))
            await mid_stream(chatter, turn, 1)
            victim = await worker_running_llm(client, fleet, user)
            await mid_stream(chatter, turn, tokens)
            if token_count(chatter, turn) <= at_most:
                break
            await chatter.wait_reply(turn, 60)
        else:
            raise AssertionError(f"no turn of 4 was signalled within {at_most} tokens")
        clock = Clock()
        fleet.workers[victim].signal(sig)
        assert chatter.reply_frame(turn) is None, "the reply was over before the signal"
        await chatter.wait_reply(turn, 60)
        recovery = clock.since()
        code = fleet.workers[victim].wait(60)
        exited = clock.since()
        if sig == signal.SIGTERM:
            assert code == 0, f"{victim} exited with {code} on SIGTERM"
        # the deploy brings it back (meanwhile one worker serves)
        fleet.start_worker(victim)
        await chatter.chat(brief_text_for(user, 9))
        await fleet.wait_worker(victim)
        return chatter, turn, victim, recovery, exited
    except BaseException:
        print(fleet.logs())
        raise
    finally:
        await chatter.close()


async def test_worker_sigkill_mid_stream(fleet: Fleet) -> None:
    chatter, cut, victim, recovery, _ = await _cut(fleet, signal.SIGKILL, "kill")
    checked = await chatter.check()
    tokens = tokens_of(chatter, cut)
    # the dead worker's attempt stopped; the heartbeat timeout gave it to the other worker
    assert max(t["data"]["attempt"] for t in tokens) == 2
    assert chatter.saw("llm.restarted") == 1
    report("worker SIGKILL mid-stream", messages_checked=checked, reply_recovered_after=recovery,
           restarted_frames=chatter.saw("llm.restarted"))  # fmt: skip
    misordered_history([chatter])


async def test_worker_sigterm_mid_stream_past_the_grace_period(fleet: Fleet) -> None:
    """The stream outlasts the fleet's 2 s grace (the signal lands with at least 130 of
    the 159 tokens, ~3.2 s, to go): the activity fails retryably (never `interrupted`),
    the other worker answers in full, the client is told `llm.restarted`."""
    chatter, cut, victim, recovery, exited = await _cut(
        fleet, signal.SIGTERM, "term", tokens=1, at_most=PIECES - 130
    )
    checked = await chatter.check()
    tokens = tokens_of(chatter, cut)
    assert max(t["data"]["attempt"] for t in tokens) == 2
    assert chatter.saw("llm.restarted") == 1
    assert "generation cut by worker shutdown" in fleet.workers[victim].log.read_text()
    report("worker SIGTERM mid-stream (grace 2 s < ~3.2 s left)", messages_checked=checked,
           reply_completed_after=recovery, worker_exited_after=exited,
           restarted_frames=chatter.saw("llm.restarted"))  # fmt: skip
    misordered_history([chatter])


async def test_worker_sigterm_mid_stream_within_the_grace_period(fleet: Fleet) -> None:
    """SIGTERM with at most 24 tokens (~0.6 s) of the stream left, inside the 2 s grace:
    the same worker finishes it, uninterrupted, then exits (it stopped polling at once:
    the next turn runs on the other worker)."""
    chatter, cut, victim, recovery, exited = await _cut(
        fleet, signal.SIGTERM, "grace", tokens=PIECES - 24
    )
    checked = await chatter.check()
    tokens = tokens_of(chatter, cut)
    assert {t["data"]["attempt"] for t in tokens} == {1}
    assert chatter.saw("llm.restarted") == 0
    report("worker SIGTERM mid-stream (inside the 2 s grace)", messages_checked=checked,
           reply_completed_after=recovery, worker_exited_after=exited)  # fmt: skip
    misordered_history([chatter])
