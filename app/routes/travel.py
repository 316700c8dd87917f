"""Travel: upcoming trips with their latest ranked flight search, and choosing a flight."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path

from app.deps import Brain, CurrentUser, RequestId
from app.errors import error_responses
from app.schemas import FlightChosen, TravelSuggestions
from mcos.flights.airports import resolve_airport
from mcos.kernel.models import BrainState, FlightSearch, TravelEvent
from workflows.client import make_event

router = APIRouter(prefix="/travel", tags=["travel"])
SearchId = Annotated[str, Path(pattern=r"^fs_[0-9a-f]{32}$")]
FlightId = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_-]+$")]


@router.get("/suggestions")
async def get_travel_suggestions(user: CurrentUser, brain: Brain) -> TravelSuggestions:
    """Upcoming trips (from the calendar), each with the latest matching ranked flights."""
    state = await brain.snapshot(user.user_id)
    today = datetime.now(UTC).date()
    trips = sorted((t for t in state.travel if t.end_date >= today), key=lambda t: t.start_date)
    return TravelSuggestions.model_validate(
        {
            "trips": [
                {"travel": trip, "flights": _ranked(match_search(state, trip))} for trip in trips
            ],
            "latest_search": _ranked(state.flight_searches[-1] if state.flight_searches else None),
        }
    )


@router.post(
    "/{search_id}/select/{flight_id}",
    responses=error_responses((404, "no such search, or no such flight in it"), 429),
)
async def select_flight(
    search_id: SearchId,
    flight_id: FlightId,
    user: CurrentUser,
    brain: Brain,
    request_id: RequestId,
) -> FlightChosen:
    """Record the chosen flight; the brain adds follow-up tasks (book, pack, transfer)."""
    event = make_event(
        "flight.selected", {"search_id": search_id, "flight_id": flight_id}, request_id
    )
    result = await brain.command(user.user_id, "select_flight", event)
    return FlightChosen.model_validate(
        {
            "search_id": search_id,
            "flight_id": flight_id,
            "seq": result.seq,
            "follow_up_tasks": result.data.get("follow_up_tasks", []),
        }
    )


def _codes(destination: str | None) -> set[str]:
    if not destination:
        return set()
    airport = resolve_airport(destination)
    return {destination.upper()} | ({airport.iata, airport.city.upper()} if airport else set())


def match_search(state: BrainState, trip: TravelEvent) -> FlightSearch | None:
    """The newest search to the trip's destination leaving around its first day."""
    wanted = _codes(trip.destination)
    for search in reversed(state.flight_searches):
        req = search.request
        try:
            leaves = date.fromisoformat(str(req.get("departure_date")))
        except ValueError:
            continue
        to_place = str(req.get("destination", "")).upper() in wanted
        if to_place and abs((leaves - trip.start_date).days) <= 1:
            return search
    return None


def _ranked(search: FlightSearch | None) -> dict[str, Any] | None:
    if search is None:
        return None
    by_id = {o.get("id"): o for o in search.options}
    ranked = sorted(search.ranking, key=lambda r: r.get("rank", 99))
    return {
        "search_id": search.search_id,
        "request": search.request,
        "selected_flight_id": search.selected_flight_id,
        "options": [
            {
                **by_id[r["flight_id"]],
                "rank": r.get("rank"),
                "score": r.get("score"),
                "reasoning": r.get("reasoning"),
            }
            for r in ranked
            if r.get("flight_id") in by_id
        ],
    }
