"""Call ``search_flights`` on an MCP server (bundled, community or remote) with the mcp SDK.

Every failure ends as a typed error within ``timeout_s``: ``FlightInputError`` (the server
rejected the request), ``FlightToolTimeout``, or ``FlightToolError(retryable=...)``.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from mcos.flights.errors import FlightError, FlightInputError, FlightToolError, FlightToolTimeout

if TYPE_CHECKING:
    from mcp import StdioServerParameters
    from mcp.types import CallToolResult

TOOL_NAME = "search_flights"
STDIO_SHUTDOWN_RESERVE_S = 2.5
PROJECT_ROOT = Path(__file__).resolve().parents[2]
# Words in an error text that suggest trying again later may help.
_TRANSIENT_HINTS = (
    "timeout",
    "timed out",
    "rate limit",
    "429",
    "503",
    "502",
    "unavailable",
    "temporar",
    "connection",
)


def default_command() -> list[str]:
    return [sys.executable, "-m", "mcos.flights.server"]


def command_from_settings() -> tuple[list[str] | None, str | None]:
    """(stdio command, URL) from ``MCOS_FLIGHTS_MCP_COMMAND`` / ``MCOS_FLIGHTS_MCP_URL``."""
    from mcos.kernel.settings import get_settings

    settings = get_settings()
    command = shlex.split(settings.flights_mcp_command) if settings.flights_mcp_command else None
    return command, settings.flights_mcp_url


def server_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The explicit env of the stdio server: the Duffel secret only if configured.

    The SDK adds a minimal safe environment (PATH, HOME…); nothing else is inherited.
    """
    from mcos.kernel.settings import get_settings

    settings = get_settings()
    env = {"PYTHONPATH": str(PROJECT_ROOT)}
    if settings.duffel_api_key:
        env["MCOS_DUFFEL_API_KEY"] = settings.duffel_api_key
    return env | (extra or {})


def compat_params(params: dict[str, Any]) -> dict[str, Any]:
    """Also send time windows as ``from_time``/``to_time`` (the community server's names)."""
    out = dict(params)
    for key in ("departure_time", "arrival_time"):
        window = out.get(key)
        if isinstance(window, dict) and "from" in window:
            out[key] = {**window, "from_time": window["from"], "to_time": window.get("to")}
    return out


def _text_of(result: CallToolResult) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content).strip()


def _error_from(result: CallToolResult) -> FlightError:
    structured = result.structured_content or {}
    error = structured.get("error") if isinstance(structured, dict) else None
    text = _text_of(result) or "the flights tool failed without a message"
    if isinstance(error, dict):
        message = str(error.get("message") or text)
        if error.get("kind") == "invalid_input":
            return FlightInputError(message)
        return FlightToolError(message, retryable=bool(error.get("retryable")))
    lowered = text.lower()
    return FlightToolError(text, retryable=any(hint in lowered for hint in _TRANSIENT_HINTS))


def _offers_in(payload: Any) -> list[dict[str, Any]] | None:
    if isinstance(payload, list):
        return [o for o in payload if isinstance(o, dict)]
    if isinstance(payload, dict):
        for key in ("offers", "result"):
            if key in payload:
                return _offers_in(payload[key])
        if isinstance(payload.get("data"), dict):  # a raw Duffel offer request
            return _offers_in(payload["data"])
    return None


def offers_from_result(result: CallToolResult) -> list[dict[str, Any]]:
    """Offers from structured content, else from JSON text content; errors raised typed."""
    if result.is_error:
        raise _error_from(result)
    offers = _offers_in(result.structured_content)
    if offers is not None:
        return offers
    text = _text_of(result)
    try:
        payload = json.loads(text)
    except ValueError:
        raise FlightToolError(
            f"The flights tool answered something that isn't JSON: {text[:200]!r}",
            retryable=False,
        ) from None
    offers = _offers_in(payload)
    if offers is None:
        raise FlightToolError("The flights tool answered JSON without offers.", retryable=False)
    return offers


def _target(
    command: list[str] | None, url: str | None, env: dict[str, str] | None
) -> StdioServerParameters | str:
    if url:
        return url
    from mcp import StdioServerParameters  # noqa: PLC0415 - see search_flights_mcp

    argv = command or default_command()
    return StdioServerParameters(
        command=argv[0], args=argv[1:], env=server_env(env), cwd=str(PROJECT_ROOT)
    )


async def search_flights_mcp(
    params: dict[str, Any],
    *,
    command: list[str] | None = None,
    url: str | None = None,
    timeout_s: float,
    env: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Call ``search_flights(params=...)`` over stdio (``command``) or streamable HTTP (``url``).

    Without either, the bundled server runs over stdio. ``env`` adds to the server's env.
    """
    # The SDK is imported on the first call, not with the module: it builds ~550 pydantic
    # models on import (~0.7 s of CPU for every worker and API process that starts).
    from mcp import Client  # noqa: PLC0415

    target = _target(command, url, env)
    where = url or " ".join((command or default_command())[:3])
    # Stopping a stdio server that ignores us takes the SDK ~2 s (close stdin, then SIGTERM):
    # keep that out of the caller's budget.
    budget = timeout_s if url else max(timeout_s - STDIO_SHUTDOWN_RESERVE_S, timeout_s / 2)
    try:
        with anyio.fail_after(budget):
            async with Client(target, read_timeout_seconds=timeout_s) as client:
                result = await client.call_tool(TOOL_NAME, {"params": compat_params(params)})
    except TimeoutError:
        raise FlightToolTimeout(
            f"The flights server did not answer within {timeout_s:g} s."
        ) from None
    except FlightError:
        raise
    except Exception as exc:  # transport failure, crashed server, protocol error
        raise FlightToolError(
            f"The flights server ({where}) failed: {_describe(exc)}", retryable=True
        ) from exc
    return offers_from_result(result)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        return _describe(exc.exceptions[0])
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
