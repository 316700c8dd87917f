"""The brain's event log: the bounded window of recent events, deltas, and the dedup sets.

Pure functions over the carried model (:class:`BrainCarry`); the workflow calls them.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime, timedelta
from typing import TypeVar

from mcos.kernel.contracts import ActionRecord, BrainCarry, BrainConfig, Delta, Diagnostics
from mcos.kernel.models import Event

V = TypeVar("V")

# What continue-as-new carries of the window: the newest events only, so the carried input
# (written into the history of both runs) stays small. A delta reaching further back is
# answered with a snapshot, as for any `since` older than the window.
CARRIED_WINDOW_EVENTS = 100


def log_event(carry: BrainCarry, event: Event, config: BrainConfig, now: datetime) -> None:
    """Append ``event`` to the window; trim it to its size and age limits."""
    window = carry.window
    window.append(event)
    cutoff = now - timedelta(days=config.event_window_days)
    drop = max(len(window) - config.event_window, 0)
    while drop < len(window) and window[drop].timestamp < cutoff:
        drop += 1
    if drop:
        del window[:drop]


def delta(carry: BrainCarry, since: int) -> Delta:
    """The events after ``since``, or the whole state when they are older than the window."""
    seq = carry.state.seq
    if since >= seq:
        return Delta(since=since, seq=seq)
    first = carry.window[0].seq if carry.window else seq + 1
    if since + 1 < first:
        return Delta(since=since, seq=seq, snapshot=carry.state)
    return Delta(since=since, seq=seq, events=[e for e in carry.window if e.seq > since])


def remember(seen: OrderedDict[str, V], key: str, value: V, size: int) -> None:
    """Add (or refresh) ``key`` in an LRU set bounded to ``size`` entries."""
    seen[key] = value
    seen.move_to_end(key)
    while len(seen) > size:
        seen.popitem(last=False)


def remember_event(carry: BrainCarry, event: Event, entity_id: str | None, size: int) -> None:
    """Record an applied event's id (and its client action id with what it produced)."""
    remember(carry.seen_events, event.event_id, None, size)
    if event.client_action_id:
        record = ActionRecord(
            client_action_id=event.client_action_id,
            event_id=event.event_id,
            seq=event.seq,
            entity_id=entity_id,
        )
        remember(carry.seen_actions, event.client_action_id, record, size)


def seen_before(carry: BrainCarry, event: Event) -> ActionRecord | bool:
    """The original record of a repeated client action, True for a repeated event id.

    Read-only: update validators call it, and they do not run again on replay.
    """
    if event.client_action_id and event.client_action_id in carry.seen_actions:
        return carry.seen_actions[event.client_action_id]
    return event.event_id in carry.seen_events


def count_dropped(carry: BrainCarry, counter: str) -> None:
    """Count a dropped duplicate (``duplicates_dropped``) or invalid signal
    (``invalid_dropped``) in the state, so the count survives continue-as-new."""
    state = carry.state
    counters = state.counters.model_copy(update={counter: getattr(state.counters, counter) + 1})
    carry.state = state.model_copy(update={"counters": counters})


def for_continue_as_new(carry: BrainCarry) -> BrainCarry:
    """The carry handed to the next run: the window cut to its newest events."""
    return carry.model_copy(
        update={"window": carry.window[-CARRIED_WINDOW_EVENTS:], "runs": carry.runs + 1}
    )


def diagnostics(
    user_id: str,
    carry: BrainCarry,
    history_length: int,
    continue_as_new_suggested: bool,
    turn_running: bool,
) -> Diagnostics:
    state = carry.state
    return Diagnostics(
        user_id=user_id,
        seq=state.seq,
        run=carry.runs,
        event_count=state.counters.events_applied,
        window_events=len(carry.window),
        history_length=history_length,
        continue_as_new_suggested=continue_as_new_suggested,
        duplicates_dropped=state.counters.duplicates_dropped,
        invalid_events_dropped=state.counters.invalid_dropped,
        last_event_ids=list(carry.seen_events)[-10:],
        last_client_action_ids=list(carry.seen_actions)[-10:],
        pending_turns=len(carry.turns),
        turn_running=turn_running,
        messages_in_state=len(state.messages),
    )


def describe_invalid(exc: Exception) -> str:
    """One readable line for a signal that is not a valid event."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            first = errors()[0]
            where = ".".join(str(part) for part in first.get("loc", ())) or "payload"
            return f"{len(errors())} problem(s); first: {where}: {first.get('msg')}"
        except (TypeError, IndexError, KeyError):
            pass
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"


def current_details(carry: BrainCarry, turn_running: bool) -> str:
    """The brain at a glance, for the Web UI's Current Details (Temporal markdown)."""
    state = carry.state
    open_tasks = sum(1 for t in state.tasks.values() if t.status == "open")
    pending = sum(1 for a in state.approvals.values() if a.status == "pending")
    last = carry.window[-1] if carry.window else None
    turn = f"turn {state.counters.turns + 1} running" if turn_running else "idle"
    lines = [
        f"**{turn}** · {len(carry.turns) - turn_running} queued" if carry.turns else f"**{turn}**",
        f"{state.counters.messages_total} messages ({len(state.messages)} in state) · "
        f"{open_tasks} open tasks · {pending} approvals waiting",
        f"last event: `{last.type}` #{last.seq}" if last else "no events yet",
        f"run {carry.runs} · seq {state.seq}",
    ]
    return "\n\n".join(lines)


def snippet(text: str, size: int = 40) -> str:
    """A short quote of a user's text for summaries (never the whole message)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= size else flat[: size - 1] + "…"
