"""The per-connection realtime frame budget: coalesce over the limit, never drop."""

from __future__ import annotations

from collections import deque

from app.frames import FrameThrottle
from mcos.kernel.frames import Frame


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def token(i: int, text: str, op: str = "op_1", attempt: int = 1) -> Frame:
    return Frame(
        type="llm.token",
        cursor=str(i + 1),
        operation_id=op,
        data={"operation_id": op, "attempt": attempt, "index": i, "text": text},
    )


def drain(th: FrameThrottle) -> list[Frame]:
    out = []
    while (f := th.pop()) is not None:
        out.append(f)
    return out


def test_within_the_burst_frames_pass_one_by_one() -> None:
    th = FrameThrottle(limit=50, clock=Clock())
    for i in range(10):
        th.push(token(i, f"t{i}"))
    assert [f.data["index"] for f in drain(th)] == list(range(10))
    assert th.coalesced == 0


def test_over_budget_tokens_merge_and_other_frames_keep_their_place() -> None:
    clock = Clock()
    th = FrameThrottle(limit=15, window_s=60, clock=clock)  # burst 3, then 1 frame / 5 s
    for i in range(3):
        th.push(token(i, f"t{i} "))
    assert len(drain(th)) == 3
    for i in range(3, 10):
        th.push(token(i, f"t{i} "))
    th.push(Frame(type="task.created", cursor="11", data={"id": "task_1"}))
    th.push(token(10, "after ", op="op_2"))
    th.push(token(11, "more", op="op_2"))
    assert th.pop() is None and th.wait_s() == 5.0  # nothing goes now, nothing is lost
    clock.t += 5
    merged = th.pop()
    assert merged is not None and th.pop() is None
    assert merged.data["text"] == "".join(f"t{i} " for i in range(3, 10))
    assert merged.data["first_index"] == 3 and merged.data["index"] == 9
    assert merged.data["count"] == 7 and merged.cursor == "10"
    clock.t += 10
    out = drain(th)
    assert [f.type for f in out] == ["task.created", "llm.token"]
    assert out[1].data["text"] == "after more" and out[1].data["operation_id"] == "op_2"
    assert th.coalesced == 7


def test_no_window_carries_more_than_the_limit_and_no_token_is_lost() -> None:
    clock = Clock()
    th = FrameThrottle(limit=1000, window_s=60, clock=clock)
    sent_at: list[float] = []
    texts: list[str] = []
    for i in range(20_000):  # 200 tokens a second for 100 s
        th.push(token(i, f"{i},"))
        clock.t += 0.005
        for f in drain(th):
            sent_at.append(clock.t)
            texts.append(f.data["text"])
    clock.t += 120
    for f in drain(th):
        sent_at.append(clock.t)
        texts.append(f.data["text"])
    assert "".join(texts) == "".join(f"{i}," for i in range(20_000))
    window: deque[float] = deque()
    for t in sent_at:
        window.append(t)
        while window[0] <= t - 60:
            window.popleft()
        assert len(window) <= 1000
    gaps = [b - a for a, b in zip(sent_at, sent_at[1:-1], strict=False)]
    assert max(gaps) < 0.1, "over budget the stream slows to a trickle, it never stalls"


def test_tokens_of_different_attempts_or_gaps_do_not_merge() -> None:
    clock = Clock()
    th = FrameThrottle(limit=5, clock=clock)  # burst 1
    th.push(token(0, "a"))
    drain(th)
    th.push(token(1, "b"))
    th.push(token(2, "c", attempt=2))
    th.push(token(5, "d", attempt=2))
    clock.t += 15
    assert len(drain(th)) == 1
    clock.t += 15
    assert len(drain(th)) == 1
    clock.t += 15
    assert [f.data["text"] for f in drain(th)] == ["d"]


def test_a_lagging_client_gets_the_waiting_tokens_merged_and_nothing_else_moves() -> None:
    th = FrameThrottle(limit=1_000_000, clock=Clock())  # far within the budget
    for i in range(40):
        th.push(token(i, f"t{i} "))
    th.push(Frame(type="task.created", cursor="41", data={"id": "task_1"}))
    th.push(token(40, "x", attempt=2))  # another attempt: never merged into attempt 1
    merged = th.pop_run()
    assert merged is not None and merged.data["first_index"] == 0
    assert merged.data["index"] == 39 and merged.data["count"] == 40
    assert merged.data["text"] == "".join(f"t{i} " for i in range(40))
    assert merged.cursor == "40"  # the last merged frame's: a resume goes on after it
    rest = [th.pop_run(), th.pop_run(), th.pop_run()]
    assert [f.type if f else None for f in rest] == ["task.created", "llm.token", None]
    assert (
        rest[1] is not None and rest[1].data["attempt"] == 2 and "first_index" not in rest[1].data
    )


def test_a_client_that_keeps_up_gets_every_token_as_its_own_frame() -> None:
    th = FrameThrottle(limit=1_000_000, clock=Clock())
    for i in range(5):
        th.push(token(i, f"t{i}"))
    out = [th.pop_run() for _ in range(5)]
    assert [f.data["index"] for f in out if f] == list(range(5))
    assert all("count" not in f.data for f in out if f) and th.pop_run() is None


def test_a_merged_run_is_bounded_and_the_next_run_goes_on_where_it_stopped() -> None:
    th = FrameThrottle(limit=1_000_000, clock=Clock())
    for i in range(80):
        th.push(token(i, "a"))
    first, second = th.pop_run(max_tokens=64), th.pop_run(max_tokens=64)
    assert first is not None and first.data["count"] == 64 and first.data["index"] == 63
    # 16 left: fewer than the lag threshold waiting, so one by one again
    assert second is not None and second.data["index"] == 64 and "count" not in second.data
