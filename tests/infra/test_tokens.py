"""TokenPublisher: one attempt's tokens in order, batched within a window, never dropped."""

from __future__ import annotations

import asyncio
import time

from mcos.infra.tokens import TokenPublisher
from mcos.kernel.frames import Frame
from tests.support.tokens import token_indexes


class Sink:
    """A bus stand-in that records each publish (when, which frames), taking ``delay_s``."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.calls: list[tuple[float, list[Frame]]] = []

    async def publish(self, frames: list[Frame]) -> bool:
        self.calls.append((time.monotonic(), frames))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        return True

    @property
    def frames(self) -> list[Frame]:
        return [f for _, frames in self.calls for f in frames]


def token(data: dict[str, object]) -> Frame:
    return Frame(type="llm.token", data=dict(data))


async def test_tokens_slower_than_the_window_go_one_frame_each_at_once() -> None:
    sink = Sink()
    tokens = TokenPublisher(sink.publish, token, window_s=0.2)
    added: list[float] = []
    for i in range(5):
        added.append(time.monotonic())
        tokens.add(i, f"t{i}")
        await asyncio.sleep(0.25)
    await tokens.close()
    assert [f.data for f in sink.frames] == [{"index": i, "text": f"t{i}"} for i in range(5)]
    # none waited for a window (0.2 s): each went as it came
    assert all(at - added[i] < 0.1 for i, (at, _) in enumerate(sink.calls)), sink.calls


async def test_a_burst_goes_as_a_few_runs_in_order_none_lost() -> None:
    sink = Sink()
    tokens = TokenPublisher(sink.publish, token, window_s=0.1, max_tokens=100)
    started = time.monotonic()
    for i in range(3000):
        tokens.add(i, f"{i},")
        if i % 10 == 0:
            await asyncio.sleep(0)  # a fast model yields now and then
    await tokens.close()
    frames = sink.frames
    assert token_indexes(f.data for f in frames) == list(range(3000))
    assert "".join(f.data["text"] for f in frames) == "".join(f"{i}," for i in range(3000))
    assert all(f.data.get("count", 1) <= 100 for f in frames)
    assert len(frames) <= 3000 // 100 + len(sink.calls)  # runs of up to 100, not 3,000 frames
    assert sink.calls[0][1][0].data == {"index": 0, "text": "0,"}  # the first token at once
    assert sink.calls[0][0] - started < 0.05
    gaps = [b[0] - a[0] for a, b in zip(sink.calls, sink.calls[1:], strict=False)]
    assert all(g >= 0.1 * 0.9 for g in gaps), gaps  # at most one publish a window


async def test_while_a_publish_is_out_tokens_gather_and_close_waits_for_them() -> None:
    sink = Sink(delay_s=0.1)  # a slow bus
    tokens = TokenPublisher(sink.publish, token, window_s=0.001)
    for i in range(20):
        tokens.add(i, "x")
        await asyncio.sleep(0.01)
    await tokens.close()
    assert token_indexes(f.data for f in sink.frames) == list(range(20))
    assert len(sink.calls) <= 4, [len(c[1]) for c in sink.calls]  # 0, then runs of ~10
    assert sink.frames[-1].data["index"] == 19
    await tokens.close()  # nothing left: returns at once
    assert tokens.frames == len(sink.frames)
