"""Tools called directly (outside chat); each counts against the same daily quotas."""

from __future__ import annotations

from fastapi import APIRouter

from app.deps import Brain, CurrentUser
from app.schemas import FlightSearchIn

router = APIRouter(prefix="/tools", tags=["tools"])


@router.post("/search_flights")
async def search_flights(body: FlightSearchIn, user: CurrentUser, brain: Brain) -> dict:
    """Search flights through the flights MCP server; ranked with the user's preferences."""
    request = body.model_dump(exclude_none=True)
    return await brain.search_flights(user.user_id, request)
