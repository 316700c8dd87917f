"""The per-connection realtime frame budget: coalesce over the limit, never drop."""

from __future__ import annotations

from app.frames import FrameThrottle


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def token(i: int, text: str, op: str = "op_1", attempt: int = 1) -> dict:
    return {"type": "llm.token", "cursor": str(i + 1), "operation_id": op,
            "data": {"operation_id": op, "attempt": attempt, "index": i, "text": text}}


def drain(th: FrameThrottle) -> list[dict]:
    out = []
    while (f := th.pop()) is not None:
        out.append(f)
    return out


def test_under_the_limit_frames_pass_one_by_one() -> None:
    th = FrameThrottle(limit=10, clock=Clock())
    for i in range(5):
        th.push(token(i, f"t{i}"))
    assert [f["data"]["index"] for f in drain(th)] == [0, 1, 2, 3, 4]
    assert th.coalesced == 0


def test_over_the_limit_tokens_merge_and_other_frames_keep_their_place() -> None:
    clock = Clock()
    th = FrameThrottle(limit=3, window_s=60, clock=clock)
    for i in range(3):
        th.push(token(i, f"t{i} "))
    assert len(drain(th)) == 3
    for i in range(3, 10):
        th.push(token(i, f"t{i} "))
    th.push({"type": "task.created", "cursor": "11", "data": {"id": "task_1"}})
    th.push(token(10, "after ", op="op_2"))
    th.push(token(11, "more", op="op_2"))
    assert th.pop() is None and th.wait_s() == 60  # budget spent: nothing goes, nothing lost
    clock.t += 60
    out = drain(th)
    assert [f["type"] for f in out] == ["llm.token", "task.created", "llm.token"]
    merged = out[0]
    assert merged["data"]["text"] == "".join(f"t{i} " for i in range(3, 10))
    assert merged["data"]["first_index"] == 3 and merged["data"]["index"] == 9
    assert merged["data"]["count"] == 7 and merged["cursor"] == "10"
    assert out[2]["data"]["text"] == "after more" and out[2]["data"]["operation_id"] == "op_2"
    assert th.coalesced == 7


def test_tokens_of_different_attempts_or_gaps_do_not_merge() -> None:
    clock = Clock()
    th = FrameThrottle(limit=1, clock=clock)
    th.push(token(0, "a"))
    drain(th)
    th.push(token(1, "b"))
    th.push(token(2, "c", attempt=2))
    th.push(token(5, "d", attempt=2))
    clock.t += 60
    assert len(drain(th)) == 1
    clock.t += 60
    assert len(drain(th)) == 1
    clock.t += 60
    assert [f["data"]["text"] for f in drain(th)] == ["d"]
