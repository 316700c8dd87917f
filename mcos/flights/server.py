"""The bundled flights MCP server: ``search_flights`` in the community flights-mcp shape.

Run it with ``python -m flights.server`` (stdio) or ``python -m flights.server --http PORT``
(streamable HTTP at ``/mcp``). Offline by default; with ``MCOS_DUFFEL_API_KEY`` it asks Duffel.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, TextContent

from mcos.flights.duffel import search_duffel
from mcos.flights.errors import FlightError, FlightInputError
from mcos.flights.models import SearchFlightsParams, validate_params
from mcos.flights.offline import generate_offers

SERVER_NAME = "mcos-flights"
# The server's clock is UTC; a traveller west of UTC may still be on "yesterday".
DATE_GRACE = timedelta(days=1)


def _settings_key_and_timeout() -> tuple[str | None, float]:
    from mcos.kernel.settings import get_settings

    settings = get_settings()
    return settings.duffel_api_key, settings.tool_timeout_s


async def find_offers(
    params: SearchFlightsParams | dict[str, Any],
    *,
    now: datetime,
    api_key: str | None,
    base_url: str | None = None,
    timeout_s: float = 20.0,
) -> list[dict[str, Any]]:
    """Validate ``params`` and return Duffel-shaped offers (Duffel with a key, else offline)."""
    request = validate_params(params, today=now.date() - DATE_GRACE)
    if api_key:
        return await search_duffel(
            request, api_key=api_key, base_url=base_url, timeout_s=max(timeout_s - 2, 1)
        )
    return generate_offers(request, now=now)


def _error_result(exc: FlightError) -> CallToolResult:
    kind = "invalid_input" if isinstance(exc, FlightInputError) else "upstream_error"
    error = {"kind": kind, "message": exc.message, "retryable": exc.retryable}
    return CallToolResult(
        content=[TextContent(type="text", text=exc.message)],
        structured_content={"error": error},
        is_error=True,
    )


def build_server(*, api_key: str | None = None, base_url: str | None = None) -> MCPServer:
    """The server; ``api_key``/``base_url`` default to the settings (read per call)."""
    server = MCPServer(
        SERVER_NAME,
        instructions="Search flight offers. Airports are IATA codes, dates YYYY-MM-DD.",
    )

    @server.tool(
        name="search_flights",
        description=(
            "Search flight offers (Duffel-shaped). params: type one_way|round_trip, origin and "
            "destination IATA codes, departure_date and optional return_date (YYYY-MM-DD), "
            "cabin_class, adults, max_connections, departure_time/arrival_time {from, to}."
        ),
    )
    async def search_flights(params: SearchFlightsParams) -> CallToolResult:
        key, timeout_s = _settings_key_and_timeout()
        try:
            offers = await find_offers(
                params,
                now=datetime.now(UTC),
                api_key=api_key or key,
                base_url=base_url,
                timeout_s=timeout_s,
            )
        except FlightError as exc:
            return _error_result(exc)
        payload = {"offers": offers}
        return CallToolResult(
            content=[TextContent(type="text", text=json.dumps(payload))],
            structured_content=payload,
        )

    return server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m flights.server", description=__doc__)
    parser.add_argument("--http", type=int, metavar="PORT", help="serve streamable HTTP on PORT")
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    server = build_server()
    if args.http:
        server.run("streamable-http", host=args.host, port=args.http)
    else:
        server.run("stdio")


if __name__ == "__main__":
    main()


__all__ = ["build_server", "find_offers", "main"]
