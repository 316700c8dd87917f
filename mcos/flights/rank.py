"""Rank flight options: a deterministic scorer, and a validator for an LLM's ranking."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from mcos.flights.models import FlightOption

# Weights of the score components (sum to 1); penalties are subtracted afterwards.
W_PRICE = 0.40
W_DURATION = 0.25
W_STOPS = 0.20
W_AIRLINE = 0.15
CONFLICT_PENALTY = 0.35
OVER_BUDGET_PENALTY = 0.25
NONSTOP_REQUIRED_PENALTY = 0.30
CABIN_MISMATCH_PENALTY = 0.10


class RankedFlight(BaseModel):
    flight_id: str
    rank: int = Field(ge=1)
    score: float = Field(ge=0, le=1)
    reasoning: str


def _naive(value: datetime) -> datetime:
    return value.replace(tzinfo=None) if value.tzinfo else value


def _conflicts(option: FlightOption, busy: list[tuple[datetime, datetime]]) -> list[str]:
    """Busy intervals overlapping the outbound flight (compared in the flight's local time)."""
    start = datetime.fromisoformat(option.departure_at)
    end = datetime.fromisoformat(option.arrival_at)
    if end <= start:  # arrival in an earlier local time zone: cover the whole block
        end = start.replace(hour=23, minute=59)
    found = []
    for busy_start, busy_end in busy:
        b_start, b_end = _naive(busy_start), _naive(busy_end)
        if b_start < end and start < b_end:
            found.append(f"{b_start:%a %H:%M}-{b_end:%H:%M}")
    return found


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "y", "on")
    return bool(value)


def _normalized_airlines(preferences: dict[str, Any]) -> set[str]:
    raw = (
        preferences.get("preferred_airlines")
        or preferences.get("preferred_airline")  # what the preferences skill stores
        or preferences.get("airlines")
        or []
    )
    if isinstance(raw, str):
        raw = [part for part in raw.replace(";", ",").split(",")]
    return {str(a).strip().casefold() for a in raw if str(a).strip()}


def _stops_text(stops: int) -> str:
    return "non-stop" if stops == 0 else f"{stops} stop" + ("s" if stops > 1 else "")


def _hours(minutes: int) -> str:
    h, m = divmod(minutes, 60)
    return f"{h}h{m:02d}m" if h else f"{m} min"


def rank_options(
    options: list[FlightOption],
    preferences: dict[str, Any],
    busy: list[tuple[datetime, datetime]],
) -> list[RankedFlight]:
    """Best first. Score in 0..1 from price, duration, stops and airline, minus penalties."""
    if not options:
        return []
    airlines = _normalized_airlines(preferences)
    want_nonstop = _truthy(preferences.get("nonstop") or preferences.get("prefer_nonstop"))
    cabin = str(preferences.get("cabin_class") or "").strip().lower().replace(" ", "_") or None
    budget_raw = preferences.get("budget")
    try:
        budget = float(budget_raw) if budget_raw not in (None, "") else None
    except (TypeError, ValueError):
        budget = None
    seat = str(preferences.get("seat") or "").strip().lower()

    prices = [o.total for o in options]
    durations = [o.duration_minutes for o in options]
    lo_p, hi_p = min(prices), max(prices)
    lo_d, hi_d = min(durations), max(durations)

    scored: list[tuple[float, int, FlightOption, str]] = []
    for index, option in enumerate(options):
        price_part = 1.0 if hi_p == lo_p else 1 - (option.total - lo_p) / (hi_p - lo_p)
        dur_part = 1.0 if hi_d == lo_d else 1 - (option.duration_minutes - lo_d) / (hi_d - lo_d)
        stops_part = {0: 1.0, 1: 0.45}.get(option.stops, 0.1)
        preferred = bool(airlines) and (
            option.airline_code.casefold() in airlines or option.airline_name.casefold() in airlines
        )
        airline_part = 1.0 if preferred else (0.5 if not airlines else 0.0)
        score = (
            W_PRICE * price_part
            + W_DURATION * dur_part
            + W_STOPS * stops_part
            + W_AIRLINE * airline_part
        )

        # Why this option ranks where it does; the option itself (airline, times, price) is
        # shown next to the reasoning, so it is not repeated here.
        reasons: list[str] = [_stops_text(option.stops)]
        if option.total == lo_p:
            reasons.append("cheapest")
        else:
            reasons.append(f"{option.total - lo_p:,.0f} {option.currency} more than the cheapest")
        if option.duration_minutes == lo_d:
            reasons.append("fastest" if durations.count(lo_d) == 1 else "shortest trip time")
        else:
            reasons.append(f"{_hours(option.duration_minutes - lo_d)} longer than the fastest")
        if preferred:
            reasons.append("your preferred airline")
        if want_nonstop and option.stops > 0:
            score -= NONSTOP_REQUIRED_PENALTY
            reasons.append("not non-stop as you prefer")
        if budget is not None:
            if option.total > budget:
                score -= OVER_BUDGET_PENALTY
                reasons.append(f"over your budget of {budget:.0f}")
            else:
                reasons.append("within budget")
        if cabin and option.cabin_class and option.cabin_class != cabin:
            score -= CABIN_MISMATCH_PENALTY
            reasons.append(
                f"{option.cabin_class.replace('_', ' ')} rather than your "
                f"preferred {cabin.replace('_', ' ')}"
            )
        conflicts = _conflicts(option, busy)
        if conflicts:
            score -= CONFLICT_PENALTY
            reasons.append("conflicts with your calendar (" + ", ".join(conflicts) + ")")
        else:
            if busy:
                reasons.append("no calendar conflict")
        if seat in ("aisle", "window"):
            reasons.append(f"request a {seat} seat when booking")
        scored.append((max(0.0, min(1.0, score)), index, option, "; ".join(reasons)))

    scored.sort(key=lambda item: (-item[0], item[2].total, item[1]))
    return [
        RankedFlight(flight_id=option.id, rank=rank, score=round(score, 3), reasoning=reasoning)
        for rank, (score, _, option, reasoning) in enumerate(scored, start=1)
    ]


def validate_llm_ranking(
    raw: str | dict[str, Any], options: list[FlightOption]
) -> list[RankedFlight] | None:
    """An LLM's ``{ranked: [{flight_id, rank, score, reasoning}]}`` if valid, else None.

    Rejects unknown or duplicate ids, duplicate ranks, wrong types and scores outside 0..1.
    The result is sorted by rank and renumbered 1..n.
    """
    if isinstance(raw, str):
        text = raw.strip()
        if text.startswith("```"):
            text = text.strip("`")
            text = text[text.find("{") :] if "{" in text else text
        try:
            raw = json.loads(text)
        except ValueError:
            return None
    if not isinstance(raw, dict) or not isinstance(raw.get("ranked"), list) or not raw["ranked"]:
        return None
    known = {o.id for o in options}
    seen_ids: set[str] = set()
    seen_ranks: set[int] = set()
    items: list[RankedFlight] = []
    for entry in raw["ranked"]:
        if not isinstance(entry, dict):
            return None
        flight_id, rank, score = entry.get("flight_id"), entry.get("rank"), entry.get("score")
        reasoning = entry.get("reasoning")
        if not isinstance(flight_id, str) or flight_id not in known or flight_id in seen_ids:
            return None
        if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1 or rank in seen_ranks:
            return None
        if isinstance(score, bool) or not isinstance(score, int | float) or not 0 <= score <= 1:
            return None
        if not isinstance(reasoning, str) or not reasoning.strip():
            return None
        seen_ids.add(flight_id)
        seen_ranks.add(rank)
        items.append(
            RankedFlight(
                flight_id=flight_id, rank=rank, score=float(score), reasoning=reasoning.strip()
            )
        )
    items.sort(key=lambda item: item.rank)
    return [item.model_copy(update={"rank": n}) for n, item in enumerate(items, start=1)]
