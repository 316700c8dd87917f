"""Typed errors of the flights tool, mapped once by callers (activity / API layer)."""

from __future__ import annotations


class FlightError(Exception):
    """Base class of every flights error; ``message`` is safe to show to the user."""

    retryable: bool = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class FlightInputError(FlightError):
    """The request is wrong (unknown airport, date in the past…): ask the user, don't retry."""


class FlightToolError(FlightError):
    """The flights MCP server (or Duffel behind it) failed."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class FlightToolTimeout(FlightToolError):
    """The flights MCP server did not answer within the timeout."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=True)
