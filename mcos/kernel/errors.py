"""Error types and typed domain errors, mapped once to the one HTTP error body.

:class:`ErrorType` is the one list of failure kinds: the ``type`` of every
``ApplicationError`` an activity or the brain raises, the non-retryable types of retry
policies, the calendar sync status values and the API's error mapping all use it.

Body: ``{"error": {"code": ..., "message": ..., "details": {...}}, "request_id": ...}``.
The exception handler uses ``err.status``, ``err.to_body(request_id)`` and ``err.headers()``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorType(StrEnum):
    """Failure kinds. The values are recorded in workflow histories: never change one."""

    # commands and limits (the brain refuses; the API answers)
    RATE_LIMITED = "rate_limited"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    INVALID_REQUEST = "invalid_request"
    GONE = "gone"
    # tools
    INVALID_INPUT = "invalid_input"
    TOOL_ERROR = "tool_error"
    DECLINED = "declined"  # the user rejected the tool call when asked to approve it
    FLIGHT_INPUT = "FlightInputError"
    FLIGHT_CIRCUIT_OPEN = "FlightToolCircuitOpen"
    FLIGHT_TIMEOUT = "FlightToolTimeout"
    FLIGHT_TOOL = "FlightToolError"
    # the LLM activity
    LLM_RETRYABLE = "LlmError"
    LLM_PERMANENT = "LlmNonRetryable"
    WORKER_SHUTDOWN = "WorkerShutdown"  # an activity cut by its worker's shutdown: retried
    # calendar sources; also the values of a sync's status (besides "ok")
    AUTH_ERROR = "auth_error"
    UNAVAILABLE = "unavailable"
    TIMEOUT = "timeout"
    INVALID = "invalid"
    REFUSED = "refused"  # the URL (or a redirect) leads to an internal address
    ERROR = "error"

    @classmethod
    def of(cls, value: str | None, default: ErrorType | None = None) -> ErrorType | None:
        """The member named by ``value`` (an ``ApplicationError.type``), else ``default``."""
        try:
            return cls(value or "")
        except ValueError:
            return default


class BrainRefusal(Exception):
    """A command or signal the brain refuses, raised by the pure brain core.

    The workflow turns it into a non-retryable ``ApplicationError`` of the same type (an
    update validator's refusal leaves no trace in history); the API maps that to a
    :class:`DomainError`.
    """

    def __init__(
        self, type_: ErrorType, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.type = type_
        self.message = message
        self.details: dict[str, Any] = dict(details or {})


class DomainError(Exception):
    """Base of every error that reaches a client; the message must be safe to show."""

    def __init__(
        self,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        status: int = 500,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details: dict[str, Any] = dict(details or {})
        self.status = status

    def to_body(self, request_id: str | None) -> dict[str, Any]:
        return {
            "error": {"code": self.code, "message": self.message, "details": self.details},
            "request_id": request_id,
        }

    def headers(self) -> dict[str, str]:
        """Extra response headers (none by default)."""
        return {}

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(code={self.code!r}, status={self.status}, message={self.message!r})"


class _FixedError(DomainError):
    """A DomainError whose code and status are fixed by the subclass."""

    default_code: str = "internal"
    default_status: int = 500
    default_message: str = "internal error"

    def __init__(self, message: str | None = None, details: dict[str, Any] | None = None) -> None:
        super().__init__(
            self.default_code, message or self.default_message, details, self.default_status
        )


class AuthError(_FixedError):
    default_code, default_status, default_message = "unauthorized", 401, "authentication required"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class ForbiddenError(_FixedError):
    default_code, default_status, default_message = "forbidden", 403, "not allowed"


class NotFoundError(_FixedError):
    default_code, default_status, default_message = "not_found", 404, "not found"


class Conflict(_FixedError):
    default_code, default_status, default_message = "conflict", 409, "conflict"


class PayloadTooLarge(_FixedError):
    default_code, default_status, default_message = "payload_too_large", 413, "payload too large"


class ValidationFailed(_FixedError):
    default_code, default_status, default_message = "invalid_request", 422, "invalid request"


class Unavailable(_FixedError):
    """A dependency (Temporal, Redis) is unreachable: 503 with ``Retry-After``."""

    default_code, default_status, default_message = "unavailable", 503, "temporarily unavailable"
    retry_after_s = 2

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


class BrainUnavailable(DomainError):
    """The user's brain stopped (failed or terminated): it is never silently replaced by an
    empty one. An operator brings it back (README: "When a brain stopped")."""

    def __init__(self, status: str) -> None:
        super().__init__(
            "brain_unavailable",
            "Your assistant stopped after an error and is waiting for an operator; nothing "
            "was lost. Please try again later.",
            {"brain_status": status},
            503,
        )

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "300"}


class RateLimited(DomainError):
    """429 with the limit state in ``details`` and the ``X-RateLimit-*`` headers."""

    def __init__(
        self,
        limit_type: str,
        limit: int,
        current: int,
        reset_at: int,
        retry_after: int,
        message: str | None = None,
    ) -> None:
        super().__init__(
            "rate_limited",
            message or f"rate limit exceeded ({limit_type}); retry in {retry_after} s",
            {
                "limit_type": limit_type,
                "limit": limit,
                "current": current,
                "reset_at": reset_at,
                "retry_after": retry_after,
            },
            429,
        )
        self.limit_type = limit_type
        self.limit = limit
        self.current = current
        self.reset_at = reset_at
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, self.limit - self.current)),
            "X-RateLimit-Reset": str(self.reset_at),
            "Retry-After": str(self.retry_after),
        }
