"""The typed door into the brain workflows: signal-with-start, update-with-start, queries.

The API, the worker's calendar sync and the CLI call these. Every call names the
workflow's handler by reference (``UserBrainWorkflow.submit``), never by a string; Temporal
failures are mapped here, once, to domain errors.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

import structlog
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.workflow import UpdateMethodMultiParam

from mcos.brain.commands import CommandName
from mcos.kernel.contracts import (
    ActionRecord,
    BrainConfig,
    BrainInput,
    CancelRequest,
    CommandResult,
    Delta,
    Diagnostics,
    EraseRequest,
)
from mcos.kernel.contracts import brain_workflow_id as workflow_id
from mcos.kernel.errors import (
    BrainUnavailable,
    Conflict,
    DomainError,
    ErrorType,
    NotFoundError,
    RateLimited,
    ValidationFailed,
)
from mcos.kernel.ids import new_id
from mcos.kernel.models import BrainState, Event
from mcos.kernel.settings import Settings
from workflows.brain import SUBMIT, UserBrainWorkflow

COMMANDS: dict[CommandName, UpdateMethodMultiParam[[UserBrainWorkflow, Event], CommandResult]] = {
    "create_task": UserBrainWorkflow.create_task,
    "update_task": UserBrainWorkflow.update_task,
    "delete_task": UserBrainWorkflow.delete_task,
    "set_preference": UserBrainWorkflow.set_preference,
    "pin_memory": UserBrainWorkflow.pin_memory,
    "unpin_memory": UserBrainWorkflow.unpin_memory,
    "select_flight": UserBrainWorkflow.select_flight,
    "add_calendar_event": UserBrainWorkflow.add_calendar_event,
    "respond_approval": UserBrainWorkflow.respond_approval,
    "regenerate_message": UserBrainWorkflow.regenerate_message,
    "edit_message": UserBrainWorkflow.edit_message,
    "activate_branch": UserBrainWorkflow.activate_branch,
}

T = TypeVar("T")
log = structlog.get_logger(__name__)
UPDATE_ATTEMPTS = 5


def brain_config(settings: Settings) -> BrainConfig:
    return BrainConfig(
        message_limit=settings.brain_message_limit,
        event_window=settings.brain_event_window,
        event_window_days=settings.brain_event_window_days,
        dedup_size=settings.brain_dedup_size,
        continue_as_new_events=settings.brain_continue_as_new_events,
        continue_as_new_bytes=settings.brain_continue_as_new_bytes,
        chat_replies=settings.brain_chat_replies,
        interrupt_on_new_message=settings.brain_interrupt_on_new_message,
        double_texting=settings.brain_double_texting,
        merge_window_ms=settings.brain_merge_window_ms,
        approval_ttl_s=settings.brain_approval_ttl_s,
        tasks_cap=settings.brain_tasks_cap,
        llm_billable=settings.llm_provider == "openai",
        llm_offline=settings.llm_provider == "offline",
        llm_max_tokens=settings.llm_max_tokens,
        llm_heartbeat_timeout_s=settings.llm_heartbeat_timeout_s,
        llm_max_attempts=settings.llm_max_attempts,
        tokens_per_day=settings.limit_tokens_per_day,
        flight_searches_per_day=settings.limit_flight_searches_per_day,
        writes_per_day=settings.limit_writes_per_day,
        default_timezone=settings.default_timezone,
        search_attributes=settings.temporal_search_attributes,
        tool_timeout_s=settings.tool_timeout_s,
    )


def make_event(
    type_: str,
    payload: dict[str, Any],
    request_id: str | None,
    client_action_id: str | None = None,
) -> Event:
    """A new event envelope; its id is bound to the request's log context."""
    event_id = new_id("evt")
    structlog.contextvars.bind_contextvars(event_id=event_id)
    return Event(
        event_id=event_id,
        type=type_,  # type: ignore[arg-type]
        payload=payload,
        timestamp=datetime.now(UTC),
        request_id=request_id,
        client_action_id=client_action_id,
    )


def domain_error_from(err: BaseException) -> DomainError:
    """An update's failure (its ApplicationError ``type``) as the matching domain error."""
    cause = err
    while cause is not None and not isinstance(cause, ApplicationError):
        cause = cause.__cause__ or getattr(cause, "cause", None)  # type: ignore[assignment]
    if cause is None:
        return DomainError("internal", "the assistant could not process that", status=500)
    details = cause.details[0] if cause.details and isinstance(cause.details[0], dict) else {}
    kind = ErrorType.of(cause.type)
    if kind == ErrorType.RATE_LIMITED:
        now = int(datetime.now(UTC).timestamp())
        reset = (now // 86400 + 1) * 86400
        return RateLimited(
            limit_type=details.get("limit_type", "unknown"),
            limit=int(details.get("limit", 0)),
            current=int(details.get("current", 0)) + 1,
            reset_at=reset,
            retry_after=max(reset - now, 1),
            message=cause.message,
        )
    if kind == ErrorType.NOT_FOUND:
        return NotFoundError(cause.message)
    if kind in (ErrorType.CONFLICT, ErrorType.GONE):
        return Conflict(cause.message)
    if kind in (ErrorType.INVALID_REQUEST, ErrorType.INVALID_INPUT, ErrorType.FLIGHT_INPUT):
        return ValidationFailed(cause.message, details)
    if kind == ErrorType.TOOL_ERROR:
        return DomainError("tool_error", cause.message, status=502)
    return DomainError("internal", "the assistant could not process that", status=500)


class BrainClient:
    def __init__(self, client: Client, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.config = brain_config(settings)
        # Bounded calls: an unreachable or hung Temporal answers 503 quickly, never hangs.
        self.rpc_timeout = timedelta(seconds=settings.temporal_rpc_timeout_s)
        self.update_timeout = timedelta(seconds=settings.temporal_update_timeout_s)

    def _start_args(self, user_id: str, reuse: WorkflowIDReusePolicy) -> dict[str, Any]:
        return {
            "id": workflow_id(user_id),
            "task_queue": self.settings.temporal_task_queue,
            "static_summary": f"brain of {user_id}",
            # A brain that stopped (failed, terminated) must never be replaced by an empty
            # one: only a brain that completed (erased) may start again.
            "id_reuse_policy": reuse,
        }

    async def _reuse_policy(self, user_id: str) -> WorkflowIDReusePolicy:
        """After a start was refused: may a new brain replace the closed one?"""
        status = await self.status(user_id)
        if status == WorkflowExecutionStatus.COMPLETED:  # erased, history not yet deleted
            return WorkflowIDReusePolicy.ALLOW_DUPLICATE
        if status == WorkflowExecutionStatus.RUNNING:  # it started meanwhile
            return WorkflowIDReusePolicy.REJECT_DUPLICATE
        raise BrainUnavailable(status.name if status else "UNKNOWN")

    async def signal_event(self, user_id: str, event: Event, *, allow_restart: bool = True) -> None:
        """Signal-with-start: the first message creates the brain. ``allow_restart=False``
        (background work: a calendar sync) never replaces a closed brain, erased or not:
        the event is dropped."""
        reuse = WorkflowIDReusePolicy.REJECT_DUPLICATE
        for _ in range(2):
            try:
                await self.client.start_workflow(
                    UserBrainWorkflow.run,
                    BrainInput(user_id=user_id, config=self.config),
                    start_signal=SUBMIT,  # the SDK takes the start signal by name only
                    start_signal_args=[event],
                    rpc_timeout=self.rpc_timeout,
                    **self._start_args(user_id, reuse),
                )
                return
            except WorkflowAlreadyStartedError:
                reuse = await self._reuse_policy(user_id)
                if not allow_restart and reuse == WorkflowIDReusePolicy.ALLOW_DUPLICATE:
                    log.info("event dropped: the brain was closed", type=event.type)
                    return
        raise BrainUnavailable("UNKNOWN")

    async def run_open(self, workflow_id: str, run_id: str) -> bool:
        """Is that workflow run (a calendar sync, say) still running?"""
        try:
            desc = await self.client.get_workflow_handle(workflow_id, run_id=run_id).describe(
                rpc_timeout=self.rpc_timeout
            )
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return False
            raise
        return desc.status == WorkflowExecutionStatus.RUNNING

    async def command(self, user_id: str, name: CommandName, event: Event) -> CommandResult:
        """A command (event) through update-with-start."""
        return await self._update(
            lambda start: self.client.execute_update_with_start_workflow(
                COMMANDS[name],
                event,
                start_workflow_operation=start,
                rpc_timeout=self.update_timeout,
            ),
            user_id,
        )

    async def respond_approval(
        self,
        user_id: str,
        approval_id: str,
        decision: str,
        request_id: str | None,
        always: bool = False,
        decided_by: str | None = None,
    ) -> CommandResult:
        """Approve or reject a tool call the assistant asked about (409 when not pending)."""
        payload = {
            "approval_id": approval_id,
            "decision": decision,
            "always": always,
            "decided_by": decided_by,
        }
        event = make_event("approval.resolved", payload, request_id)
        return await self.command(user_id, "respond_approval", event)

    async def regenerate(
        self, user_id: str, message_id: str, request_id: str | None
    ) -> CommandResult:
        """A new reply to the user message an assistant message answered (a sibling)."""
        event = make_event("message.regenerated", {"message_id": message_id}, request_id)
        return await self.command(user_id, "regenerate_message", event)

    async def edit(
        self, user_id: str, message_id: str, text: str, request_id: str | None
    ) -> CommandResult:
        """An edited copy of a user message (a sibling), answered by a new turn."""
        payload = {"message_id": new_id("msg"), "text": text, "edit_of": message_id}
        return await self.command(
            user_id, "edit_message", make_event("user.message", payload, request_id)
        )

    async def activate(
        self, user_id: str, message_id: str, request_id: str | None
    ) -> CommandResult:
        """Show the branch through ``message_id`` (its newest continuation)."""
        event = make_event("branch.activated", {"message_id": message_id}, request_id)
        return await self.command(user_id, "activate_branch", event)

    async def search_flights(self, user_id: str, request: dict[str, Any]) -> dict[str, Any]:
        """A direct flight search (counted in the user's daily quota)."""
        # The SDK's typing of a named async update keeps the coroutine in its return type.
        update = cast(
            UpdateMethodMultiParam[[UserBrainWorkflow, dict[str, Any]], dict[str, Any]],
            UserBrainWorkflow.search_flights,
        )
        return await self._update(
            lambda start: self.client.execute_update_with_start_workflow(
                update, request, start_workflow_operation=start, rpc_timeout=self.update_timeout
            ),
            user_id,
        )

    async def _update(
        self,
        call: Callable[[WithStartWorkflowOperation[UserBrainWorkflow, None]], Awaitable[T]],
        user_id: str,
    ) -> T:
        """Update-with-start; a refused update raises the matching domain error.

        The server refuses an update whose workflow task failed or timed out (a busy worker,
        a continue-as-new under way) with FAILED_PRECONDITION; it is retried a few times.
        That is safe: a repeated event id or client action id is answered, not re-applied.
        """
        reuse = WorkflowIDReusePolicy.REJECT_DUPLICATE
        for attempt in range(UPDATE_ATTEMPTS):
            start = WithStartWorkflowOperation(
                UserBrainWorkflow.run,
                BrainInput(user_id=user_id, config=self.config),
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                **self._start_args(user_id, reuse),
            )
            try:
                return await call(start)
            except WorkflowUpdateFailedError as err:
                raise domain_error_from(err) from None
            except WorkflowAlreadyStartedError:
                reuse = await self._reuse_policy(user_id)
            except RPCError as err:
                if err.status != RPCStatusCode.FAILED_PRECONDITION or (
                    attempt == UPDATE_ATTEMPTS - 1
                ):
                    raise
                await asyncio.sleep(0.2 * 2**attempt)
        raise AssertionError("unreachable")

    async def _read(
        self, user_id: str, call: Callable[[WorkflowHandle[Any, Any]], Awaitable[T]]
    ) -> T | None:
        """A query of the user's brain; ``None`` when there is no brain."""
        try:
            return await call(self.client.get_workflow_handle(workflow_id(user_id)))
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return None
            raise
        except WorkflowQueryFailedError as err:
            raise DomainError("internal", f"query failed: {err}", status=500) from None

    async def snapshot(self, user_id: str) -> BrainState:
        state = await self._read(
            user_id, lambda h: h.query(UserBrainWorkflow.snapshot, rpc_timeout=self.rpc_timeout)
        )
        return state or BrainState(user_id=user_id)

    async def delta(self, user_id: str, since: int) -> Delta:
        delta = await self._read(
            user_id, lambda h: h.query(UserBrainWorkflow.delta, since, rpc_timeout=self.rpc_timeout)
        )
        return delta or Delta(since=since, seq=0)

    async def event_window(self, user_id: str, limit: int = 1000) -> list[Event]:
        events = await self._read(
            user_id,
            lambda h: h.query(UserBrainWorkflow.event_window, limit, rpc_timeout=self.rpc_timeout),
        )
        return events or []

    async def action_result(self, user_id: str, client_action_id: str) -> ActionRecord | None:
        return await self._read(
            user_id,
            lambda h: h.query(
                UserBrainWorkflow.action_result, client_action_id, rpc_timeout=self.rpc_timeout
            ),
        )

    async def diagnostics(self, user_id: str) -> Diagnostics | None:
        return await self._read(
            user_id, lambda h: h.query(UserBrainWorkflow.diagnostics, rpc_timeout=self.rpc_timeout)
        )

    async def cancel_generation(self, user_id: str, request_id: str | None) -> None:
        await self._signal(
            user_id, UserBrainWorkflow.cancel_generation, CancelRequest(request_id=request_id)
        )

    async def erase(self, user_id: str, request_id: str | None) -> None:
        await self._signal(user_id, UserBrainWorkflow.erase, EraseRequest(request_id=request_id))

    async def _signal(
        self, user_id: str, signal: Callable[[UserBrainWorkflow, Any], None], arg: Any
    ) -> None:
        """A signal to a running brain; none running is not an error (nothing to stop)."""
        handle = self.client.get_workflow_handle(workflow_id(user_id))
        try:
            await handle.signal(signal, arg, rpc_timeout=self.rpc_timeout)
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise

    async def status(self, user_id: str) -> WorkflowExecutionStatus | None:
        """The brain's execution status (``None``: no brain)."""
        try:
            handle = self.client.get_workflow_handle(workflow_id(user_id))
            desc = await handle.describe(rpc_timeout=self.rpc_timeout)
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return None
            raise
        return desc.status

    async def is_running(self, user_id: str) -> bool:
        return await self.status(user_id) == WorkflowExecutionStatus.RUNNING
