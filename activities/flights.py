"""The flight search activity: MCP call → normalized options → ranking.

Bad input is a non-retryable failure; tool failures are retried by Temporal with backoff
(the brain's retry policy) until the circuit breaker opens after repeated failures.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any, Literal

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from mcos.flights.client import search_flights_mcp
from mcos.flights.errors import FlightInputError, FlightToolError, FlightToolTimeout
from mcos.flights.models import FlightOption
from mcos.flights.normalize import normalize_offers
from mcos.flights.rank import RankedFlight, rank_options, validate_llm_ranking
from mcos.infra.circuit import CircuitBreaker
from mcos.infra.metrics import TOOL_INVOCATIONS, TOOL_LATENCY
from mcos.kernel.contracts import FlightSearchInput, FlightSearchOutput
from mcos.kernel.errors import ErrorType
from mcos.kernel.settings import Settings

log = structlog.get_logger(__name__)
MAX_OPTIONS_KEPT = 8
TOOL = "search_flights"


class FlightActivities:
    def __init__(self, settings: Settings, provider: Any = None) -> None:
        self.settings = settings
        self.provider = provider  # an LLM provider for ranking; None: the scorer ranks
        self.breaker = CircuitBreaker(failure_threshold=5, reset_after_s=60)

    def _target(self) -> tuple[list[str] | None, str | None]:
        import shlex

        command = self.settings.flights_mcp_command
        return (shlex.split(command) if command else None), self.settings.flights_mcp_url

    @activity.defn(name="search_flights")
    async def search_flights(self, inp: FlightSearchInput) -> FlightSearchOutput:
        structlog.contextvars.bind_contextvars(
            user_id=inp.user_id, tool_invocation_id=inp.tool_invocation_id, tool_name=TOOL
        )
        if self.breaker.is_open:
            self._log("error", 0.0, 0, reason="circuit_open")
            raise ApplicationError(
                "flight search is paused after repeated failures (circuit open)",
                type=ErrorType.FLIGHT_CIRCUIT_OPEN,
                non_retryable=True,
            )
        command, url = self._target()
        started = time.perf_counter()
        try:
            offers = await search_flights_mcp(
                inp.params, command=command, url=url, timeout_s=self.settings.tool_timeout_s
            )
        except FlightInputError as exc:
            self._log("error", time.perf_counter() - started, 0, reason="invalid_input")
            raise ApplicationError(
                exc.message, type=ErrorType.FLIGHT_INPUT, non_retryable=True
            ) from None
        except FlightToolTimeout as exc:
            self.breaker.record_failure()
            self._log("timeout", time.perf_counter() - started, 0)
            raise ApplicationError(
                f"flight search timeout: {exc.message}", type=ErrorType.FLIGHT_TIMEOUT
            ) from None
        except FlightToolError as exc:
            self.breaker.record_failure()
            self._log("error", time.perf_counter() - started, 0)
            raise ApplicationError(
                exc.message, type=ErrorType.FLIGHT_TOOL, non_retryable=not exc.retryable
            ) from None
        self.breaker.record_success()
        options = normalize_offers(offers)
        billed = [0]  # the ranking model's tokens (this call's own counter)
        ranked, ranked_by = await self._rank(options, inp, billed)
        keep = {r.flight_id for r in ranked[:MAX_OPTIONS_KEPT]}
        self._log("success", time.perf_counter() - started, len(options))
        return FlightSearchOutput(
            options=[o.model_dump(mode="json") for o in options if o.id in keep],
            ranking=[r.model_dump(mode="json") for r in ranked[:MAX_OPTIONS_KEPT]],
            ranked_by=ranked_by,
            billed_tokens=billed[0],
        )

    async def _rank(
        self, options: list[FlightOption], inp: FlightSearchInput, billed: list[int]
    ) -> tuple[list[RankedFlight], Literal["llm", "scorer"]]:
        busy = [(datetime.fromisoformat(a), datetime.fromisoformat(b)) for a, b in inp.busy]
        if self.provider is not None and options:
            ranked = await self._rank_with_llm(options, inp, billed)
            if ranked:
                return ranked, "llm"
        return rank_options(options, inp.preferences, busy), "scorer"

    async def _rank_with_llm(
        self, options: list[FlightOption], inp: FlightSearchInput, billed: list[int]
    ) -> list[RankedFlight] | None:
        """Ask the model for ``{ranked: [...]}``; one fix-up attempt, then the scorer."""
        from mcos.llm.base import LlmError, LlmRequest, TokenChunk, UsageChunk

        brief = [
            o.model_dump(
                mode="json",
                include={
                    "id",
                    "airline_name",
                    "departure_at",
                    "arrival_at",
                    "duration_minutes",
                    "stops",
                    "total",
                    "currency",
                    "cabin_class",
                },
            )
            for o in options
        ]
        messages: list[dict[str, Any]] = [
            {
                "role": "system",
                "content": "Rank flight options for the user. Answer only JSON: "
                '{"ranked": [{"flight_id", "rank", "score" (0..1), "reasoning"}]}.',
            },
            {
                "role": "user",
                "content": json.dumps(
                    {"preferences": inp.preferences, "busy": inp.busy, "options": brief}
                ),
            },
        ]
        billable = getattr(self.provider, "billable", True)
        for _ in range(2):
            parts: list[str] = []
            try:
                async for c in self.provider.stream(LlmRequest(messages=messages, max_tokens=600)):
                    if isinstance(c, TokenChunk):
                        parts.append(c.text)
                    elif isinstance(c, UsageChunk) and billable:
                        # ranking calls spend the user's budget like chat replies do
                        billed[0] += c.prompt_tokens + c.completion_tokens
            except LlmError:
                return None
            text = "".join(parts)
            ranked = validate_llm_ranking(text, options)
            if ranked:
                return ranked
            messages += [
                {"role": "assistant", "content": text},
                {
                    "role": "user",
                    "content": "That was not valid. Reply with the JSON "
                    "object only, using only the given flight ids.",
                },
            ]
        return None

    def _log(self, status: str, latency_s: float, count: int, **extra: Any) -> None:
        TOOL_INVOCATIONS.labels(tool=TOOL, status=status).inc()
        TOOL_LATENCY.labels(tool=TOOL).observe(latency_s)
        log.info(
            "tool call",
            tool_status=status,
            tool_latency_ms=round(latency_s * 1000, 1),
            tool_result_count=count,
            **extra,
        )
