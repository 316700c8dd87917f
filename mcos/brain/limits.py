"""Per-user daily limits the brain enforces (writes, flight searches, LLM tokens).

Pure: the day is the UTC date of ``now``, which the workflow passes in.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from mcos.brain.reducer import usage_for_day
from mcos.kernel.errors import BrainRefusal, ErrorType
from mcos.kernel.models import BrainState, Usage

Counter = Literal["writes", "flight_searches", "tokens"]

BUDGET_WARNING_RATIO = 0.8
BUDGET_MESSAGE = (
    "You've used today's assistant budget ({used:,} of {limit:,} tokens). "
    "It resets at midnight UTC; your tasks and reminders keep working meanwhile."
)
# Since v4 the free offline model answers once the budget is spent, after this line.
BUDGET_MESSAGE_OFFLINE = (
    "(You've used today's assistant budget, {used:,} of {limit:,} tokens; it resets at "
    "midnight UTC. Until then the offline assistant answers: it can still add and change "
    "tasks and reminders, show your agenda, remember things and search flights.)\n\n"
)


def usage_today(state: BrainState, now: datetime) -> Usage:
    return usage_for_day(state.counters.usage, now.date().isoformat())


def check_daily_limit(
    state: BrainState, now: datetime, counter: Counter, limit: int, limit_type: str, what: str
) -> None:
    """Refuse with ``rate_limited`` once today's ``counter`` is used up."""
    current: int = getattr(usage_today(state, now), counter)
    if current >= limit:
        raise BrainRefusal(
            ErrorType.RATE_LIMITED,
            f"daily {what} limit reached",
            {"limit_type": limit_type, "limit": limit, "current": current},
        )


def day_end(now: datetime) -> int:
    """The unix time the current UTC day ends (when daily limits reset)."""
    return int(now.timestamp()) // 86400 * 86400 + 86400


def budget_warning_crossed(before: int, after: int, limit: int) -> bool:
    """Whether a turn took today's token use across the warning threshold."""
    threshold = limit * BUDGET_WARNING_RATIO
    return before < threshold <= after
