"""Chat turns: the LLM and the tools it asks for, run inside the brain (workflow code).

A turn: build the prompt from the brain's state → LLM activity (tokens go straight to the
realtime bus) → if the model asked for tools, run them (state tools apply events; flight
search runs as an activity) and ask the model again with their results → record one
``assistant.message``. Retries, cancellation and the apology path live here too.

Turn code reaches the brain only through :class:`BrainPort` (its state, apply an event,
emit frames, a new id, the time, the config), never through the workflow object. It runs
in the workflow sandbox: a wall-clock read or I/O here is refused, not silently allowed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError

with workflow.unsafe.imports_passed_through():
    # Activity modules pass through: only their typed references are used here; their
    # code runs in the worker, never inside the workflow.
    from activities.flights import FlightActivities
    from activities.llm_reply import LlmActivities
    from mcos.kernel.contracts import (
        BrainConfig,
        FlightSearchOutput,
        LlmTurnInput,
        LlmTurnResult,
        Turn,
    )
    from mcos.kernel.errors import BrainRefusal, ErrorType
    from mcos.kernel.frames import Frame
    from mcos.kernel.models import BrainState, Event, EventType

from mcos.brain import frames, limits
from mcos.skills import core as skills

LLM_START_TO_CLOSE = timedelta(minutes=5)
FLIGHTS_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_attempts=3,
    non_retryable_error_types=[ErrorType.FLIGHT_INPUT, ErrorType.FLIGHT_CIRCUIT_OPEN],
)
MAX_TOOL_STEPS = 3
APOLOGY = "Sorry — I couldn't finish that answer just now. Please try again in a moment."


def llm_retry(attempts: int) -> RetryPolicy:
    return RetryPolicy(
        initial_interval=timedelta(milliseconds=500),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=10),
        maximum_attempts=attempts,
        non_retryable_error_types=[ErrorType.LLM_PERMANENT],
    )


@dataclass(frozen=True)
class BrainPort:
    """What turn code may do to the brain."""

    user_id: str
    config: BrainConfig
    state: Callable[[], BrainState]
    apply: Callable[[Event], Event]  # assign the next seq, reduce, log, queue its frames
    emit: Callable[[Sequence[Frame]], None]  # queue frames that no event carries
    new_id: Callable[[str], str]
    now: Callable[[], datetime]

    def record(
        self, type_: EventType, payload: dict[str, Any], request_id: str | None = None
    ) -> Event:
        """Apply a new event made by the brain itself."""
        return self.apply(
            Event(
                event_id=self.new_id("evt"),
                type=type_,
                payload=payload,
                timestamp=self.now(),
                request_id=request_id,
            )
        )

    def timezone(self) -> str:
        return skills.user_timezone(self.state(), self.config.default_timezone)


@dataclass
class _Reply:
    text: list[str]
    cards: list[dict[str, Any]]
    tokens_prompt: int = 0
    tokens_completion: int = 0
    streamed: int = 0
    status: str = "completed"


class TurnRunner:
    """Runs one chat turn at a time; ``cancel`` stops the running generation."""

    def __init__(self, port: BrainPort) -> None:
        self.port = port
        self.operation_id: str | None = None
        self._llm: workflow.ActivityHandle[LlmTurnResult] | None = None

    def cancel(self, operation_id: str | None = None) -> bool:
        """Cancel the running LLM call (all of them, or only ``operation_id``'s)."""
        if self._llm is None or (operation_id and operation_id != self.operation_id):
            return False
        self._llm.cancel()
        return True

    async def run(self, turn: Turn) -> None:
        port = self.port
        self.operation_id = op_id = port.new_id("op")
        try:
            before = limits.usage_today(port.state(), port.now()).tokens
            limit = port.config.tokens_per_day
            if before >= limit:
                text = limits.BUDGET_MESSAGE.format(used=before, limit=limit)
                self._record(op_id, turn, _Reply([text], []))
                return
            await self._reply(op_id, turn)
            after = limits.usage_today(port.state(), port.now()).tokens
            if limits.budget_warning_crossed(before, after, limit):
                day = port.now().date().isoformat()
                port.emit(
                    [
                        frames.limit_warning_frame(
                            "tokens_per_day", limit, after, day, turn.request_id
                        )
                    ]
                )
        finally:
            self.operation_id = None
            self._llm = None

    async def _reply(self, op_id: str, turn: Turn) -> None:
        port = self.port
        state, now, tz = port.state(), port.now(), port.config.default_timezone
        messages = skills.build_prompt(state, turn, tz, now)
        context = skills.offline_context(state, now, tz)
        tools = skills.tool_schemas()
        reply = _Reply([], [])
        for step in range(MAX_TOOL_STEPS + 1):
            try:
                result = await self._call_llm(op_id, turn, messages, tools, context, reply.streamed)
            except ActivityError as err:
                if isinstance(err.cause, CancelledError):
                    reply.status = "interrupted"
                    break
                workflow.logger.warning(
                    "LLM failed after retries",
                    extra={"operation_id": op_id, "error": str(err.cause)},
                )
                reply.text, reply.status = [APOLOGY], "failed"
                break
            reply.tokens_prompt += result.tokens_prompt
            reply.tokens_completion += result.tokens_completion
            reply.streamed += result.tokens_streamed
            reply.text.append(result.text)
            if result.status == "interrupted":
                reply.status = "interrupted"
                break
            if not result.tool_calls or step == MAX_TOOL_STEPS:
                break
            messages = [*messages, skills.assistant_tool_message(result)]
            for call in result.tool_calls:
                outcome = await run_tool(port, op_id, turn.request_id, call.name, call.arguments)
                if outcome.card:
                    reply.cards.append(outcome.card)
                messages.append(skills.tool_result_message(call.id, call.name, outcome.result))
            tools = []  # the answer after tool results is plain text
        self._record(op_id, turn, reply)

    async def _call_llm(
        self,
        op_id: str,
        turn: Turn,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        context: dict[str, Any],
        index_offset: int,
    ) -> LlmTurnResult:
        config = self.port.config
        self._llm = workflow.start_activity_method(
            LlmActivities.llm_reply,
            LlmTurnInput(
                user_id=self.port.user_id,
                operation_id=op_id,
                request_id=turn.request_id,
                messages=messages,
                tools=tools,
                context=context,
                index_offset=index_offset,
            ),
            start_to_close_timeout=LLM_START_TO_CLOSE,
            heartbeat_timeout=timedelta(seconds=config.llm_heartbeat_timeout_s),
            retry_policy=llm_retry(config.llm_max_attempts),
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            summary="LLM reply",
        )
        try:
            return await self._llm
        finally:
            self._llm = None

    def _record(self, op_id: str, turn: Turn, reply: _Reply) -> None:
        text = "".join(reply.text)
        if not text.strip() and reply.status == "completed":
            text = "Done."
        self.port.record(
            "assistant.message",
            {
                "message_id": self.port.new_id("msg"),
                "text": text,
                "operation_id": op_id,
                "status": reply.status,
                "tokens_prompt": reply.tokens_prompt,
                "tokens_completion": reply.tokens_completion,
                "reply_to": turn.message_id,
                "cards": reply.cards,
            },
            request_id=turn.request_id,
        )


# --- tools ------------------------------------------------------------------------------


async def run_tool(
    port: BrainPort, op_id: str, request_id: str | None, name: str, args: dict[str, Any]
) -> skills.ToolOutcome:
    tool_id = port.new_id("tool")
    port.emit([frames.action_frame(op_id, request_id, tool_id, name, args)])
    if name == "search_flights":
        outcome = await flight_search(port, args, tool_id, request_id)
    else:
        ctx = skills.SkillContext(
            state=port.state(), now=port.now(), timezone=port.timezone(), new_id=port.new_id
        )
        outcome = skills.run_state_tool(ctx, name, args)
        for event_type, payload in outcome.events:
            port.record(event_type, payload, request_id=request_id)  # type: ignore[arg-type]
    port.emit(
        [
            frames.tool_result_frame(
                op_id,
                request_id,
                tool_id,
                name,
                outcome.status,
                outcome.card,
                outcome.result.get("message"),
            )
        ]
    )
    return outcome


def check_flight_quota(state: BrainState, config: BrainConfig, now: datetime) -> None:
    limits.check_daily_limit(
        state,
        now,
        "flight_searches",
        config.flight_searches_per_day,
        "flight_searches_per_day",
        "flight search",
    )


async def flight_search(
    port: BrainPort, args: dict[str, Any], tool_id: str, request_id: str | None
) -> skills.ToolOutcome:
    state, now, config = port.state(), port.now(), port.config
    try:
        check_flight_quota(state, config, now)
    except BrainRefusal:
        return skills.ToolOutcome.error(
            f"You've reached today's limit of {config.flight_searches_per_day} flight "
            "searches. It resets at midnight UTC — I can search again tomorrow.",
            code=ErrorType.RATE_LIMITED,
        )
    try:
        request = skills.flight_request(state, args, now, port.timezone())
    except skills.SkillInputError as exc:
        return skills.ToolOutcome.error(str(exc), code=ErrorType.INVALID_INPUT)
    try:
        found = await workflow.execute_activity_method(
            FlightActivities.search_flights,
            skills.flight_activity_input(port.user_id, state, request, tool_id),
            start_to_close_timeout=timedelta(seconds=config.tool_timeout_s * 3 + 5),
            retry_policy=FLIGHTS_RETRY,
            summary=f"flights-mcp {request['origin']}→{request['destination']}",
        )
    except ActivityError as err:
        workflow.logger.warning("flight search failed", extra={"tool_invocation_id": tool_id})
        return skills.ToolOutcome.error(
            skills.friendly_tool_error(err.cause), code=ErrorType.TOOL_ERROR
        )
    payload = skills.flights_searched_payload(port.new_id("fs"), request, found, tool_id)
    port.record("flights.searched", payload, request_id=request_id)
    return skills.flights_outcome(payload)


async def direct_flight_search(port: BrainPort, request: dict[str, Any]) -> dict[str, Any]:
    """``POST /tools/search_flights``: the same search, answered to the API caller."""
    outcome = await flight_search(port, request, port.new_id("tool"), None)
    if outcome.status != "success":
        raise ApplicationError(
            outcome.result.get("message", "flight search failed"),
            type=outcome.result.get("code", ErrorType.TOOL_ERROR),
            non_retryable=True,
        )
    # API callers get the full options (the model reads a compact view of them).
    return {**outcome.result, "options": outcome.card["options"] if outcome.card else []}


__all__ = ["BrainPort", "FlightSearchOutput", "TurnRunner", "direct_flight_search"]
