"""Tools called directly (outside chat); each counts against the same daily quotas."""

from __future__ import annotations

from fastapi import APIRouter

from app.deps import Brain, CurrentUser
from app.errors import error_responses
from app.schemas import FlightSearchIn, FlightSearchResult

router = APIRouter(prefix="/tools", tags=["tools"])


@router.post(
    "/search_flights",
    responses=error_responses(
        (429, "today's flight searches (or writes) are used up"),
        (502, "the flights server failed"),
    ),
)
async def search_flights(
    body: FlightSearchIn, user: CurrentUser, brain: Brain
) -> FlightSearchResult:
    """Search flights through the flights MCP server; ranked with the user's preferences."""
    request = body.model_dump(exclude_none=True)
    return FlightSearchResult.model_validate(await brain.search_flights(user.user_id, request))
