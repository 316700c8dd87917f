"""The message tree: regenerated replies and edited messages are siblings (pure).

Every message has a ``parent_id``: the message before it on its branch. The brain keeps the
newest message of the branch the user sees (``active_leaf``); that branch, walked back to
its root, is what the user sees and what the model reads. Siblings (same parent, same role)
are the alternatives a branch picker pages through.
"""

from __future__ import annotations

from typing import Any

from mcos.kernel.models import BrainState, Message


def by_id(state: BrainState) -> dict[str, Message]:
    return {m.id: m for m in state.messages}


def path_to(state: BrainState, message_id: str | None) -> list[Message]:
    """The branch ending at ``message_id``, oldest first (as far back as the state holds)."""
    index = by_id(state)
    path: list[Message] = []
    current = index.get(message_id) if message_id else None
    seen: set[str] = set()
    while current is not None and current.id not in seen:
        seen.add(current.id)
        path.append(current)
        current = index.get(current.parent_id) if current.parent_id else None
    path.reverse()
    return path


def active_branch(state: BrainState) -> list[Message]:
    """What the user sees. A state from before the tree (no ``active_leaf``) is one line."""
    if state.active_leaf is None:
        return list(state.messages)
    return path_to(state, state.active_leaf)


def on_active_branch(state: BrainState, message_id: str) -> bool:
    return any(m.id == message_id for m in active_branch(state))


def newest_leaf_under(state: BrainState, message_id: str) -> str:
    """Follow the newest child from ``message_id`` down to a leaf."""
    children: dict[str, Message] = {}
    for m in state.messages:  # in seq order: later children replace earlier ones
        if m.parent_id is not None:
            children[m.parent_id] = m
    current, seen = message_id, set()
    while current in children and current not in seen:
        seen.add(current)
        current = children[current].id
    return current


def siblings(state: BrainState, message: Message) -> list[Message]:
    return [
        m for m in state.messages if m.parent_id == message.parent_id and m.role == message.role
    ]


def branch_of(state: BrainState, message: Message) -> dict[str, int]:
    """``{"index", "count"}`` of a message among its siblings (oldest first)."""
    same = siblings(state, message)
    ids = [m.id for m in same]
    return {"index": ids.index(message.id) if message.id in ids else 0, "count": len(same)}


def branch_positions(state: BrainState) -> dict[str, dict[str, int]]:
    """:func:`branch_of` for every message of the state in one pass (a snapshot shows
    them all: one call per message was quadratic, 40 % of ``GET /state``)."""
    groups: dict[tuple[str | None, str], list[str]] = {}
    for m in state.messages:
        groups.setdefault((m.parent_id, m.role), []).append(m.id)
    positions: dict[str, dict[str, int]] = {}
    for ids in groups.values():
        for index, message_id in enumerate(ids):
            positions.setdefault(message_id, {"index": index, "count": len(ids)})
    return positions


def linked(state: BrainState) -> BrainState:
    """A state from before the tree, its messages linked into one line (done once, by the
    first event that needs the tree)."""
    if state.active_leaf is not None or not state.messages:
        return state
    messages, previous = [], None
    for m in state.messages:
        messages.append(m if m.parent_id else m.model_copy(update={"parent_id": previous}))
        previous = m.id
    return state.model_copy(update={"messages": messages, "active_leaf": previous})


def insert_after(state: BrainState, anchor: str, new_id: str) -> tuple[BrainState, bool]:
    """Make room for a new message right after ``anchor`` on the branch the user sees: the
    message that followed ``anchor`` there (sent meanwhile) now follows ``new_id``. Returns
    the state and whether ``anchor`` is on that branch at all."""
    branch = active_branch(state)
    ids = [m.id for m in branch]
    if anchor not in ids:
        return state, False
    position = ids.index(anchor)
    if position + 1 == len(branch):
        return state, True
    follower = branch[position + 1].id
    messages = [
        m.model_copy(update={"parent_id": new_id}) if m.id == follower else m
        for m in state.messages
    ]
    return state.model_copy(update={"messages": messages}), True


def conversation_order(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages (oldest first, as seq or the archive orders them) with every reply right
    after the message it answers, as ``/state`` shows them: a reply recorded after the
    user's next message (sent while it streamed) is moved back to its question. Replies
    whose question is not in the list stay where they are; siblings keep their order."""
    present = {m.get("id") for m in messages}
    replies: dict[str, list[dict[str, Any]]] = {}
    for m in messages:
        if m.get("role") == "assistant" and m.get("reply_to") in present:
            replies.setdefault(str(m["reply_to"]), []).append(m)
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.get("role") == "assistant" and m.get("reply_to") in present:
            continue  # placed after its question
        out.append(m)
        out.extend(replies.get(str(m.get("id")), []))
    return out
