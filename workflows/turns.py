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

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
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
        DoubleTexting,
        FlightSearchOutput,
        LlmTurnInput,
        LlmTurnResult,
        ReplyDraft,
        Turn,
    )
    from mcos.kernel.errors import BrainRefusal, ErrorType
    from mcos.kernel.frames import Frame
    from mcos.kernel.models import BrainState, Event, EventType

from mcos.brain import approvals, eventlog, frames, limits, tree
from mcos.llm import lean
from mcos.llm.tools import tools_digest
from mcos.skills import core as skills
from workflows.tracing import asking_trace, in_trace

LLM_START_TO_CLOSE = timedelta(minutes=5)
FLIGHTS_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_attempts=3,
    non_retryable_error_types=[ErrorType.FLIGHT_INPUT, ErrorType.FLIGHT_CIRCUIT_OPEN],
)
MAX_TOOL_STEPS = 3
TRACED_TURNS = 8  # turns whose frames the main loop still publishes in their trace
RIDE_ARCHIVE_BATCH = 200  # messages archived with a turn's LLM call at most (v6)
APOLOGY = "Sorry — I couldn't finish that answer just now. Please try again in a moment."


def refused(exc: BrainRefusal) -> ApplicationError:
    """A refusal as an update's failure; the API maps its ``type`` to an HTTP error."""
    details = [exc.details] if exc.details else []
    return ApplicationError(exc.message, *details, type=exc.type, non_retryable=True)


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
    apply: Callable[[Event, bool], Event]  # seq, reduce, log; queue its frames if True
    emit: Callable[[Sequence[Frame]], None]  # queue frames that no event carries
    new_id: Callable[[str], str]
    now: Callable[[], datetime]
    version: Callable[[], int]  # the brain's behaviour version (workflow.patched)
    lend: Callable[[], list[Frame] | None]  # frames an LLM call publishes first (None: wait)
    give_back: Callable[[list[Frame] | None, bool], None]  # ... back after the call

    def record(
        self,
        type_: EventType,
        payload: dict[str, Any],
        request_id: str | None = None,
        timestamp: datetime | None = None,
        publish: bool = True,
    ) -> Event:
        """Apply a new event made by the brain itself (``publish=False``: its frames are
        already out)."""
        event = Event(
            event_id=self.new_id("evt"),
            type=type_,
            payload=payload,
            timestamp=timestamp or self.now(),
            request_id=request_id,
        )
        return self.apply(event, publish)

    def timezone(self) -> str:
        return skills.user_timezone(self.state(), self.config.default_timezone)


@dataclass
class _Reply:
    message_id: str
    text: list[str]
    cards: list[dict[str, Any]]
    tokens_prompt: int = 0
    tokens_completion: int = 0
    billed: int = 0
    streamed: int = 0
    status: str = "completed"
    finish_reason: str | None = None
    published: ReplyDraft | None = None  # the draft the LLM activity published
    finished_at: datetime | None = None
    after: str | None = None  # the message it follows when not the one it answers
    archive: list[dict[str, Any]] = field(default_factory=list)  # rides with the first call
    archived: list[str] = field(default_factory=list)  # ... and is in SQL (recorded with it)

    def add(self, result: LlmTurnResult) -> None:
        self.tokens_prompt += result.tokens_prompt
        self.tokens_completion += result.tokens_completion
        self.billed += result.billed_tokens
        self.streamed += result.tokens_streamed
        self.text.append(result.text)
        self.finish_reason = result.finish_reason


class TurnRunner:
    """Runs one chat turn at a time; ``cancel`` stops the running generation."""

    def __init__(self, port: BrainPort) -> None:
        self.port = port
        self.operation_id: str | None = None
        self._llm: workflow.ActivityHandle[LlmTurnResult] | None = None
        self.audience: lean.Audience | None = None  # the model the worker said it has (v6)

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
            spent = port.config.llm_billable and before >= limit
            # Ids come from workflow.random in a fixed order, and some (archived message ids)
            # come back in activity results: runs recorded before v4 drew the reply's id last.
            reply = _Reply(port.new_id("msg") if port.version() >= 4 else "", [], [])
            if port.version() >= 6:  # the oldest messages go to SQL with the LLM call
                reply.archive = archive_batch(port.state(), port.config, turn)
            if spent and port.version() < 4:
                reply.text = [limits.BUDGET_MESSAGE.format(used=before, limit=limit)]
                self._record(op_id, turn, reply)
                return
            if spent:  # the free offline model answers; the reply says what still works
                reply.text = [limits.BUDGET_MESSAGE_OFFLINE.format(used=before, limit=limit)]
            if turn.approval_id is not None:
                await self._after_approval(op_id, turn, turn.approval_id, reply, spent)
            else:
                await self._reply(op_id, turn, reply, spent)
            after = limits.usage_today(port.state(), port.now()).tokens
            if port.config.llm_billable and limits.budget_warning_crossed(before, after, limit):
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

    def _prompt(self, turn: Turn) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """The model's messages (the branch up to the turn's message) and offline context."""
        port = self.port
        state, now, tz = port.state(), port.now(), port.config.default_timezone
        branch = state.model_copy(update={"messages": tree.path_to(state, turn.message_id)})
        budget = skills.HISTORY_PROMPT_BYTES if port.version() >= 6 else None
        prompt = skills.build_prompt(branch, turn, tz, now, history_bytes=budget)
        return prompt, skills.offline_context(state, now, tz)

    async def _reply(self, op_id: str, turn: Turn, reply: _Reply, offline: bool) -> None:
        port = self.port
        messages, context = self._prompt(turn)
        tools = skills.tool_schemas()
        for step in range(MAX_TOOL_STEPS + 1):
            result = await self._call(op_id, turn, messages, tools, context, reply, offline)
            if result is None:
                break
            if result.status == "interrupted":
                reply.status = "interrupted"
                break
            if not result.tool_calls or step == MAX_TOOL_STEPS:
                break
            messages = [*messages, skills.assistant_tool_message(result)]
            waiting: list[str] = []
            for call in result.tool_calls:
                outcome = await run_tool(
                    port, op_id, turn, call.name, call.arguments, message_id=reply.message_id
                )
                if outcome.card:
                    reply.cards.append(outcome.card)
                if outcome.status == "awaiting_approval":
                    waiting.append(str(outcome.result.get("summary")))
                messages.append(skills.tool_result_message(call.id, call.name, outcome.result))
            if waiting:
                # The turn ends here; the user's answer starts the turn that goes on.
                ask = " and ".join(waiting)
                reply.text.append(f"\n\nShall I go ahead? ({ask}) Approve or reject it below.")
                reply.status = "awaiting_approval"
                reply.published = None  # the text grew after the last call
                break
            tools = []  # the answer after tool results is plain text
        self._record(op_id, turn, reply)

    async def _after_approval(
        self, op_id: str, turn: Turn, approval_id: str, reply: _Reply, offline: bool
    ) -> None:
        """The user answered: run the tool (or tell the model they declined), then reply."""
        port = self.port
        approval = port.state().approvals[approval_id]
        reply.after = approval.message_id  # the reply goes on after the question it asked
        messages, context = self._prompt(turn)
        call_id = f"call_{approval_id}"
        arguments = json.dumps(approval.arguments)
        messages.append(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {"name": approval.tool, "arguments": arguments},
                    },
                ],
            }
        )
        if approval.status == "approved":
            outcome = await run_tool(
                port, op_id, turn, approval.tool, approval.arguments, approved=True
            )
        else:
            outcome = skills.ToolOutcome.error(
                "You declined, so I did not do it.", code=ErrorType.DECLINED
            )
        messages.append(skills.tool_result_message(call_id, approval.tool, outcome.result))
        if outcome.card:
            reply.cards.append(outcome.card)
        result = await self._call(op_id, turn, messages, [], context, reply, offline)
        if result is not None and result.status == "interrupted":
            reply.status = "interrupted"
        self._record(op_id, turn, reply)

    async def _call(
        self,
        op_id: str,
        turn: Turn,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        context: dict[str, Any],
        reply: _Reply,
        offline: bool,
    ) -> LlmTurnResult | None:
        """One LLM call of the turn, its result added to ``reply``; ``None`` when it failed
        for good (the reply is then the apology) or was cancelled."""
        port, v4 = self.port, self.port.version() >= 4
        max_tokens: int | None = None
        retried = bounced = False
        while True:
            outbox = port.lend() if v4 else None
            if outbox is None:  # a publish is out: frames go after it, the reply too
                port.emit(turn.frames)
                lent, draft = None, None
            else:
                lent, draft = [*turn.frames, *outbox], self._draft(turn, reply)
            turn.frames = []
            extras = LlmExtras(lent or [], draft, offline, max_tokens, reply.archive)
            try:
                result = await self._call_llm(
                    op_id, turn, messages, tools, context, reply.streamed, extras
                )
            except ActivityError as err:
                port.give_back(lent, False)
                if isinstance(err.cause, CancelledError):
                    reply.status = "interrupted"
                    return None
                cause = err.cause if isinstance(err.cause, ApplicationError) else None
                details = cause.details[0] if cause and cause.details else {}
                if isinstance(details, dict):
                    reply.billed += int(details.get("billed_tokens") or 0)
                    if v4 and not retried and details.get("finish_reason") == "length":
                        # The model's tool call was cut at the token limit: ask once more
                        # with room for it (the identical request would be cut again).
                        max_tokens, retried = port.config.llm_max_tokens * 2, True
                        continue
                workflow.logger.warning(
                    "LLM failed after retries",
                    extra={"operation_id": op_id, "error": str(err.cause)},
                )
                reply.text, reply.status, reply.published = [APOLOGY], "failed", None
                return None
            port.give_back(lent, result.frames_published)
            if result.needs_audience is not None and not bounced:
                # v6: the worker's model reads the other packing; it said so without
                # answering. Ask again, and pack for it from now on.
                self.audience, bounced = result.needs_audience, True
                continue
            if reply.archive:  # tried once a turn: else the brain archives them after it
                reply.archive, reply.archived = [], result.archived_ids or []
            reply.add(result)
            if result.reply_published and draft is not None:
                reply.published, reply.finished_at = draft, result.finished_at
            return result

    def _draft(self, turn: Turn, reply: _Reply) -> ReplyDraft:
        """The reply as the brain will record it if this call is the last (see ReplyDraft)."""
        state = self.port.state()
        parent = reply.after or turn.message_id
        siblings = sum(1 for m in state.messages if m.parent_id == parent and m.role == "assistant")
        return ReplyDraft(
            message_id=reply.message_id,
            reply_to=turn.message_id,
            parent_id=parent,
            seq=state.seq + 1,
            branch={"index": siblings, "count": siblings + 1},
            text_prefix="".join(reply.text),
            cards=list(reply.cards),
            tokens_prompt=reply.tokens_prompt,
            tokens_completion=reply.tokens_completion,
        )

    async def _call_llm(
        self,
        op_id: str,
        turn: Turn,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        context: dict[str, Any],
        index_offset: int,
        extras: LlmExtras,
    ) -> LlmTurnResult:
        config = self.port.config
        number = self.port.state().counters.turns + 1
        step = " · with tool results" if messages and messages[-1].get("role") == "tool" else ""
        summary = f"LLM reply · turn {number} · ‘{eventlog.snippet(turn.text)}’{step}"
        inp = LlmTurnInput(
            user_id=self.port.user_id,
            operation_id=op_id,
            request_id=turn.request_id,
            messages=messages,
            # the schemas are the registry's: named here, rebuilt by the activity
            tool_names=[t["function"]["name"] for t in tools],
            tools_digest=tools_digest(tools) if tools else None,
            context=context if extras.offline or config.llm_offline else {},
            index_offset=index_offset,
            frames=extras.frames,
            reply=extras.reply,
            offline=extras.offline,
            max_tokens=extras.max_tokens,
        )
        if self.port.version() >= 6:
            inp = self._lean(inp, turn, context, extras)
        self._llm = workflow.start_activity_method(
            LlmActivities.llm_reply,
            inp,
            start_to_close_timeout=LLM_START_TO_CLOSE,
            heartbeat_timeout=timedelta(seconds=config.llm_heartbeat_timeout_s),
            retry_policy=llm_retry(config.llm_max_attempts),
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            summary=summary,
        )
        try:
            return await self._llm
        finally:
            self._llm = None

    def _lean(
        self, inp: LlmTurnInput, turn: Turn, context: dict[str, Any], extras: LlmExtras
    ) -> LlmTurnInput:
        """v6: what this call needs, once (``mcos.llm.lean``): the offline model's answer,
        or a real model's prompt by reference; the user's text once; the archival."""
        audience: lean.Audience = "offline"  # the free offline model when the budget is spent
        if not extras.offline:
            configured: lean.Audience = "offline" if self.port.config.llm_offline else "model"
            audience = self.audience or configured
        frames = [
            f.model_copy(update={"data": lean.ref_frame_text(f.data, turn.text)})
            if f.type == "message.created" and f.data.get("id") == turn.message_id
            else f
            for f in inp.frames
        ]
        update: dict[str, Any] = {
            "frames": frames,
            "user_text": turn.text,
            "archive": extras.archive,
            "audience": audience,
            "context": {},
            "messages": [],
        }
        if audience == "offline":
            update["script"] = lean.offline_script(
                inp.messages, inp.tool_names, context, self.port.now(), skills.REGISTRY
            )
        else:
            update["messages"] = lean.pack_messages(inp.messages, turn.text)
        return inp.model_copy(update=update)

    def _record(self, op_id: str, turn: Turn, reply: _Reply) -> None:
        prefix, text = "".join(reply.text[:-1]), reply.text[-1] if reply.text else ""
        text, status = frames.reply_outcome(prefix, text, reply.status, reply.finish_reason)
        draft = reply.published
        # The LLM activity already published the reply, as the brain records it.
        published = draft is not None and draft.parent_id == (reply.after or turn.message_id)
        payload = {
            "message_id": reply.message_id or self.port.new_id("msg"),
            "text": text,
            "operation_id": op_id,
            "status": status,
            "tokens_prompt": reply.tokens_prompt,
            "tokens_completion": reply.tokens_completion,
            "reply_to": turn.message_id,
            "cards": reply.cards,
        }
        if self.port.version() >= 4:
            payload["tokens_billed"] = reply.billed
            if reply.after:
                payload["after"] = reply.after
        self.port.record(
            "assistant.message",
            payload,
            request_id=turn.request_id,
            timestamp=reply.finished_at if published else None,
            publish=not published,
        )
        if reply.archived:  # v6: archived by the LLM call; they leave the state now
            ids = reply.archived
            self.port.record("messages.archived", {"ids": ids, "count": len(ids)})


@dataclass
class LlmExtras:
    """What else an LLM call carries (v4): frames to publish first, the reply's draft, the
    free offline model when the budget is spent, a larger token limit for a retry; and
    (v6) the oldest messages to archive meanwhile."""

    frames: list[Frame]
    reply: ReplyDraft | None
    offline: bool = False
    max_tokens: int | None = None
    archive: list[dict[str, Any]] = field(default_factory=list)


def archive_batch(state: BrainState, config: BrainConfig, turn: Turn) -> list[dict[str, Any]]:
    """v6: the oldest messages past the limit once the turn's reply is recorded (never the
    turn's own message); they ride with its first LLM call instead of an activity each."""
    excess = min(len(state.messages) + 1 - config.message_limit, RIDE_ARCHIVE_BATCH)
    batch: list[dict[str, Any]] = []
    for message in state.messages[: max(excess, 0)]:
        if message.id == turn.message_id:
            break
        batch.append(message.model_dump(mode="json"))
    return batch


# --- tools ------------------------------------------------------------------------------


async def run_tool(
    port: BrainPort,
    op_id: str,
    turn: Turn,
    name: str,
    args: dict[str, Any],
    approved: bool = False,
    message_id: str | None = None,
) -> skills.ToolOutcome:
    request_id = turn.request_id
    tool_id = port.new_id("tool")
    port.emit([frames.action_frame(op_id, request_id, tool_id, name, args)])
    if not approved and port.version() >= 4 and approvals.needs_approval(port.state(), name):
        outcome = _ask_approval(port, op_id, turn, name, args, message_id)
    elif name == "search_flights":
        outcome = await flight_search(port, args, tool_id, request_id)
    else:
        ctx = skills.SkillContext(
            state=port.state(), now=port.now(), timezone=port.timezone(), new_id=port.new_id
        )
        outcome = skills.run_state_tool(ctx, name, args)
        for event_type, payload in outcome.events:
            port.record(event_type, payload, request_id=request_id)  # type: ignore[arg-type]
    if port.version() >= 4:
        # Each tool action is its own entry in the history (the memo shows the last one).
        workflow.upsert_memo(
            {
                "last_action": {
                    "tool": name,
                    "summary": describe_action(name, args),
                    "status": outcome.status,
                    "operation_id": op_id,
                    "tool_invocation_id": tool_id,
                }
            }
        )
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


def describe_action(name: str, args: dict[str, Any]) -> str:
    """``create_task ‘Call John’``: what a tool call did, for operators (a short quote)."""
    subject = next(
        (
            str(args[k])
            for k in ("title", "title_query", "key", "destination", "range", "task_id")
            if args.get(k)
        ),
        "",
    )
    return f"{name} ‘{eventlog.snippet(subject)}’" if subject else name


def _ask_approval(
    port: BrainPort,
    op_id: str,
    turn: Turn,
    name: str,
    args: dict[str, Any],
    message_id: str | None,
) -> skills.ToolOutcome:
    """Record ``approval.requested``; the tool runs once the user approves."""
    approval_id = port.new_id("apr")
    summary = approvals.summary(name, args, port.state())
    port.record(
        "approval.requested",
        {
            "id": approval_id,
            "operation_id": op_id,
            "tool": name,
            "arguments": args,
            "summary": summary,
            "reply_to": turn.message_id,
            "message_id": message_id,
            "expires_at": (port.now() + timedelta(seconds=port.config.approval_ttl_s)).isoformat(),
        },
        request_id=turn.request_id,
    )
    return skills.ToolOutcome(
        status="awaiting_approval",
        result={
            "ok": False,
            "awaiting_approval": True,
            "approval_id": approval_id,
            "summary": summary,
            "message": f"Waiting for the user's approval: {summary}",
        },
        card={
            "type": "approval",
            "approval_id": approval_id,
            "tool": name,
            "arguments": args,
            "summary": summary,
        },
    )


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
    payload["tokens_billed"] = found.billed_tokens  # the ranking model's, if it ran
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


class TurnQueue:
    """Chat turns one at a time; what a message sent meanwhile does is the user's
    ``double_texting`` preference, else the brain's setting: ``queue`` (one turn after
    another), ``interrupt`` (stop the running turn, keep its partial text), ``merge``
    (messages within the merge window get one answer) or ``reject`` (a ``busy`` frame;
    nothing is recorded)."""

    def __init__(
        self,
        port: BrainPort,
        runner: TurnRunner,
        turns: list[Turn],
        hold: Callable[[], bool],
        changed: Callable[[bool], None] = lambda ended: None,
    ) -> None:
        self.port = port
        self.runner = runner
        self.turns = turns  # the carried queue (BrainCarry.turns), next first
        self.hold = hold  # True while turns must wait (a continue-as-new is due)
        self.changed = changed  # the brain refreshes what operators see (True: a turn ended)
        self.running = False
        self.traces: dict[str, dict[str, str]] = {}  # the latest turns' traces by request_id

    def trace_of(self, frames: Sequence[Frame]) -> dict[str, str] | None:
        """The trace of the turn these frames belong to (their request), if one ran lately:
        the brain publishes them in it."""
        return next((self.traces[f.request_id] for f in frames if f.request_id in self.traces),
                    None)  # fmt: skip

    def policy(self) -> DoubleTexting:
        chosen = self.port.state().preferences.get("double_texting")
        if chosen in ("queue", "interrupt", "merge", "reject"):
            return chosen
        config = self.port.config
        return "interrupt" if config.interrupt_on_new_message else config.double_texting

    def busy(self) -> bool:
        return self.running or bool(self.turns)

    def refuses(self) -> bool:
        """Whether a new chat message must be turned away (``reject`` while busy)."""
        return self.busy() and self.policy() == "reject"

    def add(self, turn: Turn) -> None:
        self.turns.append(turn)
        if self.running and self.policy() == "interrupt":
            self.runner.cancel()

    def starts_now(self) -> bool:
        """Whether a turn queued now would start at once (nothing runs or waits)."""
        return (
            self.port.config.chat_replies
            and not self.busy()
            and not self.hold()
            and self.policy() != "merge"
        )

    def reply_to(
        self,
        event: Event,
        message_id: str,
        text: str,
        approval_id: str | None = None,
        frames: list[Frame] | None = None,
    ) -> bool:
        """Queue the chat turn that answers a message (when the brain replies at all)."""
        if not self.port.config.chat_replies:
            return False
        self.add(
            Turn(
                message_id=message_id,
                event_id=event.event_id,
                request_id=event.request_id,
                text=text,
                queued_at=self.port.now(),
                approval_id=approval_id,
                frames=frames or [],
                trace=asking_trace(),
            )
        )
        return True

    def after_command(self, name: str, event: Event) -> None:
        """The chat turn a command starts: answer an edit, redo a reply, or go on after an
        approval (remembering "always allow")."""
        state, p = self.port.state(), event.payload
        if name == "respond_approval":
            approval = state.approvals[p["approval_id"]]
            if p.get("always") and p.get("decision") == "approve":
                policy = approvals.always_allow(state, approval.tool)
                self.port.record("preference.set", {"key": "approvals", "value": policy})
            asked = tree.by_id(state).get(approval.reply_to)
            self.reply_to(event, approval.reply_to, asked.text if asked else "", approval.id)
        elif name == "regenerate_message":
            user = tree.by_id(state).get(state.active_leaf or "")
            if user is not None:
                self.reply_to(event, user.id, user.text)
        elif name == "edit_message":
            self.reply_to(event, p["message_id"], p["text"])

    async def run(self) -> None:
        while True:
            # A due continue-as-new goes first; queued turns travel to the next run.
            await workflow.wait_condition(lambda: bool(self.turns) and not self.hold())
            if self.policy() == "merge" and self.turns[0].approval_id is None:
                await self._merge()
            self.running = True
            self.changed(False)
            turn = self.turns[0]
            number = self.port.state().counters.turns + 1
            if turn.trace and turn.request_id:
                self.traces[turn.request_id] = turn.trace
                for old in list(self.traces)[:-TRACED_TURNS]:
                    del self.traces[old]
            attributes = {
                "mcos.user_id": self.port.user_id,
                "mcos.message_id": turn.message_id,
                "mcos.text_bytes": len(turn.text.encode()),  # never the text itself
            }
            try:
                with in_trace(turn.trace, f"Turn:{number}", attributes):
                    await self._run(turn, number)
            finally:
                self.turns.pop(0)
                self.running = False
            self.changed(True)

    async def _run(self, turn: Turn, number: int) -> None:
        if self.port.version() >= 4:
            # One group in the Web UI: the turn's LLM calls, tools and timers.
            group = workflow.create_event_group(
                f"turn:{turn.event_id}", label=f"turn {number} · ‘{eventlog.snippet(turn.text)}’"
            )
            with group.scope():
                await self.runner.run(turn)
        else:
            await self.runner.run(turn)

    async def _merge(self) -> None:
        """Wait until no message came for the merge window; then one turn answers them all
        (the earlier ones are on its branch)."""
        window = timedelta(milliseconds=self.port.config.merge_window_ms)
        while True:
            newest = max((t.queued_at for t in self.turns if t.queued_at), default=None)
            left = (newest + window - self.port.now()) if newest else timedelta(0)
            if left <= timedelta(0):
                break
            count = len(self.turns)
            try:
                await workflow.wait_condition(
                    lambda count=count: len(self.turns) != count,  # type: ignore[misc]
                    timeout=left,
                    timeout_summary="merge window",
                )
            except TimeoutError:
                break
        chat = [t for t in self.turns if t.approval_id is None]
        if len(chat) > 1:
            keep = chat[-1]
            self.turns[:] = [t for t in self.turns if t.approval_id is not None or t is keep]
