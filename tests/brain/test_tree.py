"""The message tree's positions: every message's place among its siblings, in one pass."""

from __future__ import annotations

from datetime import UTC, datetime

from mcos.brain import tree
from mcos.kernel.models import BrainState, Message

AT = datetime(2026, 12, 1, tzinfo=UTC)


def msg(mid: str, role: str, parent: str | None) -> Message:
    return Message(id=mid, role=role, text=mid, created_at=AT, parent_id=parent)  # type: ignore[arg-type]


def test_branch_positions_match_branch_of_for_every_message() -> None:
    # u1 → a1, a1b, a1c (regenerated); a1b → u2, u2b (edited); u2b → a2; a second root u0
    messages = [
        msg("u0", "user", None),
        msg("u1", "user", None),
        msg("a1", "assistant", "u1"),
        msg("a1b", "assistant", "u1"),
        msg("u2", "user", "a1b"),
        msg("a1c", "assistant", "u1"),
        msg("u2b", "user", "a1b"),
        msg("a2", "assistant", "u2b"),
    ]
    state = BrainState(user_id="u", messages=messages, active_leaf="a2")
    positions = tree.branch_positions(state)
    assert positions == {m.id: tree.branch_of(state, m) for m in messages}
    assert positions["a1c"] == {"index": 2, "count": 3}
    assert positions["u2b"] == {"index": 1, "count": 2}
    assert positions["u1"] == {"index": 1, "count": 2}  # the two roots are siblings
    assert positions["a2"] == {"index": 0, "count": 1}
