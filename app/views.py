"""How brain state is shown to clients (lists instead of id-keyed maps)."""

from __future__ import annotations

from typing import Any

from mcos.kernel.models import BrainState


def state_view(state: BrainState, message_limit: int | None = None) -> dict[str, Any]:
    messages = state.messages[-message_limit:] if message_limit else state.messages
    return {
        "user_id": state.user_id,
        "seq": state.seq,
        "messages": [m.model_dump(mode="json") for m in messages],
        "tasks": [t.model_dump(mode="json") for t in state.tasks.values()],
        "preferences": state.preferences,
        "memories": [m.model_dump(mode="json") for m in state.memories.values()],
        "calendar": [c.model_dump(mode="json") for c in state.calendar.values()],
        "calendar_window": state.calendar_window.model_dump(mode="json")
        if state.calendar_window
        else None,
        "travel": [t.model_dump(mode="json") for t in state.travel],
        "flight_searches": [f.model_dump(mode="json") for f in state.flight_searches],
        "counters": state.counters.model_dump(mode="json"),
    }
