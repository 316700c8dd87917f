"""The one error type calendar sources raise."""

from __future__ import annotations

from typing import Literal

ErrorKind = Literal[
    "auth", "unavailable", "timeout", "not_found", "invalid", "refused", "tool_error"
]

# Retrying cannot fix these without the user (or an operator) changing something.
PERMANENT_KINDS: frozenset[str] = frozenset({"auth", "not_found", "invalid", "refused"})


class CalendarSourceError(Exception):
    """A calendar source could not be read.

    ``kind`` says why: ``auth`` (missing/invalid credentials), ``unavailable`` (server or
    host not reachable, process failed to start or died), ``timeout``, ``not_found`` (file or
    URL does not exist), ``invalid`` (the data is not a valid calendar / result), ``refused``
    (the URL, or a redirect, leads to an internal address), or ``tool_error`` (the MCP tool
    reported another failure).
    """

    def __init__(self, message: str, *, kind: ErrorKind, source: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.kind: ErrorKind = kind
        self.source = source

    @property
    def retryable(self) -> bool:
        """Whether a later retry may succeed without anyone changing anything."""
        return self.kind not in PERMANENT_KINDS

    def __str__(self) -> str:
        prefix = f"[{self.kind}]" if self.source is None else f"[{self.kind}] {self.source}:"
        return f"{prefix} {self.message}"
