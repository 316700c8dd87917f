"""Flight search over MCP: airports, the bundled server, the client, normalization, ranking."""

from __future__ import annotations

from mcos.flights.errors import FlightError, FlightInputError, FlightToolError, FlightToolTimeout

__all__ = ["FlightError", "FlightInputError", "FlightToolError", "FlightToolTimeout"]
