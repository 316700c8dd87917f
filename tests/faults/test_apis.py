"""APIs killed and stopped mid-stream: the client resumes on the other API by cursor."""

from __future__ import annotations

import signal

import pytest

from tests.faults.chat import Chatter, misordered_history
from tests.faults.cluster import Fleet
from tests.faults.helpers import Clock, brief_text_for, mid_stream, new_user, report, text_for

# One of the fault suite's two xdist groups: one worker, one fleet (see conftest.py)
pytestmark = pytest.mark.xdist_group("faults-deploy")


async def _api_cut(fleet: Fleet, sig: int, tag: str) -> tuple[Chatter, float]:
    user = new_user(tag)
    chatter = Chatter(user, [fleet.api_url("api1"), fleet.api_url("api2")])
    await chatter.connect()
    try:
        await chatter.chat(brief_text_for(user, 1))
        assert chatter.connects[-1][0] == fleet.api_url("api1")
        turn = await chatter.send(text_for(user, 2))
        await mid_stream(chatter, turn)
        clock = Clock()
        fleet.apis["api1"][0].signal(sig)
        await chatter.wait_reply(turn, 60)
        recovery = clock.since()
        code = fleet.apis["api1"][0].wait(30)
        if sig == signal.SIGTERM:  # a clean shutdown (uvicorn re-raises the signal it handled)
            assert code in (0, -signal.SIGTERM), code
        # the socket moved to the other API, resuming from the last cursor it had
        base, cursor = chatter.connects[-1]
        assert base == fleet.api_url("api2") and cursor is not None
        fleet.start_api("api1")
        await chatter.chat(brief_text_for(user, 3))
        await fleet.wait_api("api1")
        return chatter, recovery
    except BaseException:
        print(fleet.logs())
        raise
    finally:
        await chatter.close()


async def test_api_sigkill_mid_stream_resumes_on_the_other_api(fleet: Fleet) -> None:
    chatter, recovery = await _api_cut(fleet, signal.SIGKILL, "apikill")
    checked = await chatter.check()  # every token once, in order, across the two sockets
    assert chatter.close_codes[0] in (None, 1006), chatter.close_codes  # no close frame
    report("API SIGKILL mid-stream", messages_checked=checked, reply_completed_after=recovery,
           reconnects=len(chatter.connects) - 1)  # fmt: skip
    misordered_history([chatter])


async def test_api_sigterm_drains_sockets_with_1012(fleet: Fleet) -> None:
    chatter, recovery = await _api_cut(fleet, signal.SIGTERM, "apiterm")
    checked = await chatter.check()
    assert chatter.close_codes[0] == 1012, chatter.close_codes  # service restart: come back
    report("API SIGTERM mid-stream", messages_checked=checked, reply_completed_after=recovery,
           close_code=chatter.close_codes[0])  # fmt: skip
    misordered_history([chatter])
