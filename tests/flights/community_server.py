"""Stand-in for the community Duffel flights-mcp server: ``search_flights(params)`` answers
a JSON *text* summary (no structured content), with ``from_time``/``to_time`` windows."""

from __future__ import annotations

import json
import sys

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field


class TimeRange(BaseModel):
    from_time: str
    to_time: str


class FlightSearch(BaseModel):
    type: str
    origin: str
    destination: str
    departure_date: str
    return_date: str | None = None
    departure_time: TimeRange | None = None
    cabin_class: str = "economy"
    adults: int = 1
    max_connections: int | None = Field(None)


server = MCPServer("find-flights-mcp")


@server.tool(structured_output=False)
async def search_flights(params: FlightSearch) -> str:
    """Search for flights based on parameters."""
    if params.origin == "XXX":
        # mcp 1.x servers pass exception text through; 2.x needs ToolError for that
        raise ToolError("Error executing tool search_flights: Duffel API error: 503 Unavailable")
    start = params.departure_time.from_time if params.departure_time else "07:00"
    offers = [
        {
            "offer_id": f"off_community{n}",
            "price": {"amount": f"{200 + 50 * n}.50", "currency": "EUR"},
            "slices": [
                {
                    "origin": params.origin,
                    "destination": params.destination,
                    "departure": f"{params.departure_date}T{start}:00",
                    "arrival": f"{params.departure_date}T23:10:00",
                    "duration": "PT6H10M",
                    "carrier": "Delta Air Lines",
                    "connections": [{"airport": "JFK"}] if n else [],
                }
            ],
        }
        for n in range(3)
    ]
    body = {"request_id": "orq_test", "offers": offers}
    if sys.argv[1:] == ["--list"]:
        return json.dumps(offers)
    return json.dumps(body, indent=2)


if __name__ == "__main__":
    server.run("stdio")
