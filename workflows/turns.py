"""Chat turns and tool dispatch, run inside :class:`UserBrainWorkflow` (workflow code).

A turn: build the prompt from the brain's state → LLM activity (tokens go straight to the
realtime bus) → if the model asked for tools, run them (state tools apply events here;
flight search runs as an activity) and ask the model again with their results → record
one ``assistant.message``. Retries, cancellation and the apology path live here too.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError

with workflow.unsafe.imports_passed_through():
    from mcos.brain.reducer import usage_for_day
    from mcos.kernel.contracts import LlmTurnInput, LlmTurnResult, Turn
    from mcos.kernel.models import BrainState, CalendarSyncedPayload, Event
    from mcos.skills import core as skills

if TYPE_CHECKING:
    from workflows.brain import UserBrainWorkflow

LLM_START_TO_CLOSE = timedelta(minutes=5)
FLIGHTS_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_attempts=3,
    non_retryable_error_types=["FlightInputError", "FlightToolCircuitOpen"],
)
MAX_TOOL_STEPS = 3
APOLOGY = "Sorry — I couldn't finish that answer just now. Please try again in a moment."
BUDGET_MESSAGE = (
    "You've used today's assistant budget ({used:,} of {limit:,} tokens). "
    "It resets at midnight UTC; your tasks and reminders keep working meanwhile."
)
BUDGET_WARNING_RATIO = 0.8


def llm_retry(config_attempts: int) -> RetryPolicy:
    return RetryPolicy(
        initial_interval=timedelta(milliseconds=500),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=10),
        maximum_attempts=config_attempts,
        non_retryable_error_types=["LlmNonRetryable"],
    )


async def run_turn(wf: UserBrainWorkflow, turn: Turn) -> None:
    op_id = wf.new_id("op")
    wf.turn_operation = op_id
    usage = usage_for_day(wf.state.counters.usage, workflow.now().date().isoformat())
    if usage.tokens >= wf.config.tokens_per_day:
        text = BUDGET_MESSAGE.format(used=usage.tokens, limit=wf.config.tokens_per_day)
        _record_reply(wf, op_id, turn, text, "completed", 0, 0, [])
        return
    await _reply(wf, op_id, turn)
    _warn_when_budget_nearly_spent(wf, usage.tokens, turn.request_id)


def _warn_when_budget_nearly_spent(
    wf: UserBrainWorkflow, before: int, request_id: str | None
) -> None:
    """One ``limit.warning`` frame on the turn that crosses 80 % of the daily token budget."""
    limit = wf.config.tokens_per_day
    after = usage_for_day(wf.state.counters.usage, workflow.now().date().isoformat()).tokens
    threshold = limit * BUDGET_WARNING_RATIO
    if not before < threshold <= after:
        return
    day = workflow.now().date().isoformat()
    wf.outbox.append(
        {
            "type": "limit.warning",
            "request_id": request_id,
            "key": f"limit.warning:tokens_per_day:{day}",
            "data": {
                "limit_type": "tokens_per_day",
                "limit": limit,
                "current": after,
                "ratio": round(after / limit, 3) if limit else 1.0,
                "message": f"You've used {after:,} of today's {limit:,} assistant tokens.",
            },
        }
    )


async def _reply(wf: UserBrainWorkflow, op_id: str, turn: Turn) -> None:
    messages = skills.build_prompt(wf.state, turn, wf.config.default_timezone, workflow.now())
    context = skills.offline_context(wf.state, workflow.now(), wf.config.default_timezone)
    tools = skills.tool_schemas()
    text_parts: list[str] = []
    cards: list[dict[str, Any]] = []
    tokens_prompt = tokens_completion = streamed = 0
    status = "completed"
    for step in range(MAX_TOOL_STEPS + 1):
        try:
            result = await _call_llm(wf, op_id, turn, messages, tools, context, streamed)
        except ActivityError as err:
            if isinstance(err.cause, CancelledError):
                status = "interrupted"
                break
            workflow.logger.warning(
                "LLM failed after retries", extra={"operation_id": op_id, "error": str(err.cause)}
            )
            _record_reply(
                wf, op_id, turn, APOLOGY, "failed", tokens_prompt, tokens_completion, cards
            )
            return
        tokens_prompt += result.tokens_prompt
        tokens_completion += result.tokens_completion
        streamed += result.tokens_streamed
        text_parts.append(result.text)
        if result.status == "interrupted":
            status = "interrupted"
            break
        if not result.tool_calls or step == MAX_TOOL_STEPS:
            break
        messages = [*messages, skills.assistant_tool_message(result)]
        for call in result.tool_calls:
            outcome = await run_tool(wf, op_id, turn, call.name, call.arguments)
            if outcome.card:
                cards.append(outcome.card)
            messages.append(skills.tool_result_message(call.id, call.name, outcome.result))
        tools = []  # the answer after tool results is plain text
    _record_reply(
        wf, op_id, turn, "".join(text_parts), status, tokens_prompt, tokens_completion, cards
    )


async def _call_llm(
    wf: UserBrainWorkflow,
    op_id: str,
    turn: Turn,
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]],
    context: dict[str, Any],
    index_offset: int,
) -> LlmTurnResult:
    handle = workflow.start_activity(
        "llm_reply",
        LlmTurnInput(
            user_id=wf.user_id,
            operation_id=op_id,
            request_id=turn.request_id,
            messages=messages,
            tools=tools,
            context=context,
            index_offset=index_offset,
        ),
        result_type=LlmTurnResult,
        start_to_close_timeout=LLM_START_TO_CLOSE,
        heartbeat_timeout=timedelta(seconds=wf.config.llm_heartbeat_timeout_s),
        retry_policy=llm_retry(wf.config.llm_max_attempts),
        cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        summary="LLM reply",
    )
    wf.turn_handle = handle
    try:
        return await handle
    finally:
        wf.turn_handle = None


def _record_reply(
    wf: UserBrainWorkflow,
    op_id: str,
    turn: Turn,
    text: str,
    status: str,
    tokens_prompt: int,
    tokens_completion: int,
    cards: list[dict[str, Any]],
) -> None:
    if not text.strip() and status == "completed":
        text = "Done."
    wf.apply(
        wf.new_event(
            "assistant.message",
            {
                "message_id": wf.new_id("msg"),
                "text": text,
                "operation_id": op_id,
                "status": status,
                "tokens_prompt": tokens_prompt,
                "tokens_completion": tokens_completion,
                "reply_to": turn.message_id,
                "cards": cards,
            },
            request_id=turn.request_id,
        )
    )


# --- tools ------------------------------------------------------------------------------


async def run_tool(
    wf: UserBrainWorkflow, op_id: str, turn: Turn, name: str, args: dict[str, Any]
) -> skills.ToolOutcome:
    tool_id = wf.new_id("tool")
    wf.outbox.append(
        {
            "type": "llm.action",
            "operation_id": op_id,
            "request_id": turn.request_id,
            "key": f"{tool_id}:action",
            "data": {
                "operation_id": op_id,
                "tool_invocation_id": tool_id,
                "name": name,
                "arguments": args,
            },
        }
    )
    if name == "search_flights":
        outcome = await _flight_search_tool(wf, args, tool_id, turn.request_id)
    else:
        ctx = skills.SkillContext(
            state=wf.state,
            now=workflow.now(),
            timezone=skills.user_timezone(wf.state, wf.config.default_timezone),
            new_id=wf.new_id,
        )
        outcome = skills.run_state_tool(ctx, name, args)
        for event_type, payload in outcome.events:
            wf.apply(wf.new_event(event_type, payload, request_id=turn.request_id))
    wf.outbox.append(
        {
            "type": "tool.result",
            "operation_id": op_id,
            "request_id": turn.request_id,
            "key": f"{tool_id}:result",
            "data": {
                "operation_id": op_id,
                "tool_invocation_id": tool_id,
                "tool": name,
                "status": outcome.status,
                "card": outcome.card,
                "summary": outcome.result.get("message"),
            },
        }
    )
    return outcome


def check_daily_limit(
    wf: UserBrainWorkflow, counter: str, limit: int, limit_type: str, what: str
) -> None:
    """Refuse with a ``rate_limited`` ApplicationError once today's ``counter`` is used up."""
    usage = usage_for_day(wf.state.counters.usage, workflow.now().date().isoformat())
    current = getattr(usage, counter)
    if current >= limit:
        raise ApplicationError(
            f"daily {what} limit reached",
            {"limit_type": limit_type, "limit": limit, "current": current},
            type="rate_limited",
            non_retryable=True,
        )


def check_flight_quota(wf: UserBrainWorkflow) -> None:
    check_daily_limit(
        wf,
        "flight_searches",
        wf.config.flight_searches_per_day,
        "flight_searches_per_day",
        "flight search",
    )


async def _flight_search_tool(
    wf: UserBrainWorkflow, args: dict[str, Any], tool_id: str, request_id: str | None
) -> skills.ToolOutcome:
    try:
        check_flight_quota(wf)
    except ApplicationError:
        limit = wf.config.flight_searches_per_day
        return skills.ToolOutcome.error(
            f"You've reached today's limit of {limit} flight searches. "
            "It resets at midnight UTC — I can search again tomorrow.",
            code="rate_limited",
        )
    tz = skills.user_timezone(wf.state, wf.config.default_timezone)
    try:
        request = skills.flight_request(wf.state, args, workflow.now(), tz)
    except skills.SkillInputError as exc:
        return skills.ToolOutcome.error(str(exc), code="invalid_input")
    try:
        found = await workflow.execute_activity(
            "search_flights",
            skills.flight_activity_input(wf, request, tool_id),
            start_to_close_timeout=timedelta(seconds=wf.config.tool_timeout_s * 3 + 5),
            retry_policy=FLIGHTS_RETRY,
            summary=f"flights-mcp {request['origin']}→{request['destination']}",
        )
    except ActivityError as err:
        workflow.logger.warning("flight search failed", extra={"tool_invocation_id": tool_id})
        return skills.ToolOutcome.error(skills.friendly_tool_error(err.cause), code="tool_error")
    search_id = wf.new_id("fs")
    payload = skills.flights_searched_payload(search_id, request, found, tool_id)
    wf.apply(wf.new_event("flights.searched", payload, request_id=request_id))
    return skills.flights_outcome(payload)


async def direct_flight_search(wf: UserBrainWorkflow, request: dict[str, Any]) -> dict[str, Any]:
    tool_id = wf.new_id("tool")
    outcome = await _flight_search_tool(wf, request, tool_id, None)
    if outcome.status != "success":
        raise ApplicationError(
            outcome.result.get("message", "flight search failed"),
            type=outcome.result.get("code", "tool_error"),
            non_retryable=True,
        )
    # API callers get the full options (the model reads a compact view of them).
    return {**outcome.result, "options": outcome.card["options"] if outcome.card else []}


def with_follow_up_tasks(wf: UserBrainWorkflow, event: Event) -> Event:
    """A selection arrives without tasks; the brain makes them (ids from the workflow RNG)."""
    p = dict(event.payload)
    option = find_option(wf.state, p["search_id"], p["flight_id"])
    p["follow_up_tasks"] = skills.follow_up_tasks(option, wf.new_id, workflow.now())
    return event.model_copy(update={"payload": p})


def find_option(state: BrainState, search_id: str, flight_id: str) -> dict[str, Any]:
    for search in state.flight_searches:
        if search.search_id == search_id:
            for option in search.options:
                if option.get("id") == flight_id:
                    return option
            raise ApplicationError(f"no flight {flight_id} in {search_id}", type="not_found")
    raise ApplicationError(f"no flight search {search_id}", type="not_found")


# --- calendar ---------------------------------------------------------------------------


def validate_calendar_payload(payload: dict[str, Any]) -> CalendarSyncedPayload:
    p = CalendarSyncedPayload.model_validate(payload)
    if len(p.upserts) > 5000 or len(p.deletes) > 5000:
        raise ValueError("calendar change too large")
    return p


def calendar_noop(state: BrainState, payload: dict[str, Any]) -> bool:
    p = CalendarSyncedPayload.model_validate(payload)
    if p.deletes and any(d in state.calendar for d in p.deletes):
        return False
    for ev in p.upserts:
        if state.calendar.get(ev.id) != ev:
            return False
    return True  # a moved window alone is not a change: the next real change carries it
