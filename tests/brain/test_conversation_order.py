"""``/history``'s order: each reply right after the message it answers."""

from __future__ import annotations

from mcos.brain.tree import conversation_order


def m(id_: str, role: str, seq: int, reply_to: str | None = None) -> dict:
    return {"id": id_, "role": role, "seq": seq, "reply_to": reply_to}


def ids(messages: list[dict]) -> list[str]:
    return [x["id"] for x in messages]


def test_a_reply_recorded_after_the_next_message_moves_back_to_its_question() -> None:
    by_seq = [m("u1", "user", 1), m("u2", "user", 2), m("a1", "assistant", 3, "u1"),
              m("a2", "assistant", 4, "u2")]  # fmt: skip
    assert ids(conversation_order(by_seq)) == ["u1", "a1", "u2", "a2"]


def test_siblings_keep_their_order_and_orphans_their_place() -> None:
    by_seq = [m("a0", "assistant", 1, "gone"), m("u1", "user", 2), m("u2", "user", 3),
              m("a1", "assistant", 4, "u1"), m("a1b", "assistant", 5, "u1")]  # fmt: skip
    assert ids(conversation_order(by_seq)) == ["a0", "u1", "a1", "a1b", "u2"]


def test_an_ordered_conversation_is_unchanged() -> None:
    by_seq = [m("u1", "user", 1), m("a1", "assistant", 2, "u1"), m("u2", "user", 3)]
    assert conversation_order(by_seq) == by_seq
