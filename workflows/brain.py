"""``UserBrainWorkflow``: one long-running entity workflow per user, the single writer.

Every state change is an :class:`Event` applied by the pure reducer. Signals bring chat
messages and synced data; updates (with validators) bring commands that answer; queries
read. Side effects leave only through activities: publishing, SQL archival and backups
(``workflows/effects.py``), the turns' LLM and tool calls (``workflows/turns.py``).

Versions (``workflow.patched`` ids, ``workflows/versions.py``) keep earlier histories
replaying.
"""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import workflow
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from mcos.kernel.contracts import (
        ActionRecord,
        BrainCarry,
        BrainConfig,
        BrainInput,
        CancelRequest,
        CommandResult,
        Delta,
        Diagnostics,
        EraseRequest,
    )
    from mcos.kernel.errors import BrainRefusal, ErrorType
    from mcos.kernel.ids import id_from_parts
    from mcos.kernel.models import BrainState, Event, UserMessagePayload

from mcos.brain import commands, eventlog
from mcos.brain.frames import busy_frame, frames_for, refusal_frame
from mcos.brain.reducer import reduce
from workflows import turns
from workflows.effects import SideEffects
from workflows.timers import Timers
from workflows.versions import V2_SIDE_EFFECTS, brain_version

SUBMIT = "submit"  # the signal's name (the client's signal-with-start needs it)
CARRY_BUDGET_BYTES = 1024 * 1024  # half Temporal's 2 MB payload limit
PROFILE_EVENTS = frozenset({"preference.set", "memory.pinned", "memory.unpinned"})


@workflow.defn(name="UserBrainWorkflow")
class UserBrainWorkflow:
    @workflow.init
    def __init__(self, inp: BrainInput) -> None:
        self.user_id = inp.user_id
        self.config: BrainConfig = inp.config
        self.carry = inp.carried() or BrainCarry(state=BrainState(user_id=inp.user_id))
        self.version = 2  # set first thing in run(): runs recorded earlier replay as before
        self.start_bytes = 0  # the history size when this run began (v7)
        self.port = turns.BrainPort(
            self.user_id,
            self.config,
            lambda: self.carry.state,
            self.apply,
            self.emit,
            self.new_id,
            workflow.now,
            lambda: self.version,
            lambda: self.effects.lend(),
            lambda frames, published: self.effects.give_back(frames, published),
        )
        self.turns = turns.TurnRunner(self.port)
        self.queue = turns.TurnQueue(
            self.port, self.turns, self.carry.turns, self._continue_as_new_due, self._turn_changed
        )
        self.effects = SideEffects(self.port, self.carry, self.queue)
        self.erased = False
        self.events_this_run = 0

    # --- main loop ------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: BrainInput) -> None:
        self.version = brain_version()
        # v7: the size trigger counts what this run adds, not the input it was handed
        self.start_bytes = workflow.info().get_current_history_size() if self.version >= 7 else 0
        workflow.logger.info(
            "brain started", extra={"user_id": self.user_id, "run": self.carry.runs}
        )
        turn_loop = asyncio.create_task(self.queue.run())
        if self.version >= 4:
            asyncio.create_task(Timers(self.port).run())  # noqa: RUF006 - ends with the run
        c, fx = self.carry, self.effects
        while True:
            await workflow.wait_condition(
                lambda: (
                    fx.pending()
                    or self.erased
                    or turn_loop.done()
                    or (self._continue_as_new_due() and not self.queue.running)
                )
            )
            if turn_loop.done() and not self.erased:
                # A bug in a turn must not silently stop all future turns: failing the
                # workflow task makes Temporal retry it (and shows it in the Web UI).
                turn_loop.result()
            if self.erased:
                turn_loop.cancel()
                self.turns.cancel()
                await workflow.wait_condition(workflow.all_handlers_finished)
                # Queries on the closed run must not show the erased data.
                self.carry = BrainCarry(state=BrainState(user_id=self.user_id))
                workflow.logger.info("brain erased", extra={"user_id": self.user_id})
                return
            if self._continue_as_new_due() and not self.queue.running and self._may_continue():
                # The outbox, queued turns and a due backup travel with the carried state.
                await workflow.wait_condition(workflow.all_handlers_finished)
                if self.queue.running:
                    continue
                turn_loop.cancel()
                workflow.logger.info(
                    "continue-as-new",
                    extra={"user_id": self.user_id, "seq": c.state.seq, "run": c.runs},
                )
                workflow.continue_as_new(self._next_input())
            await fx.run_pass(v2=workflow.patched(V2_SIDE_EFFECTS))

    def _continue_as_new_due(self) -> bool:
        info, c = workflow.info(), self.config
        # v3 counts the run's history events (signals included), v2 events applied; v5 bytes
        length = info.get_current_history_length() if self.version >= 3 else self.events_this_run
        size = info.get_current_history_size()  # v7: and the run grew by half the trigger
        grown = self.version < 7 or size - self.start_bytes >= c.continue_as_new_bytes // 2
        big = self.version >= 5 and size >= c.continue_as_new_bytes and grown
        return big or info.is_continue_as_new_suggested() or length >= c.continue_as_new_events

    def _may_continue(self) -> bool:
        """v3: as soon as the carried input (backlog included) fits the budget. v2 waited
        for the backlog to drain, which a steady burst never allowed."""
        if not workflow.patched(V2_SIDE_EFFECTS):
            return True
        if self.effects.backlog_small() or self.version < 3:
            return self.effects.backlog_small()
        # measured unpacked: a decision must not hang on what zlib's output is on this host
        return len(self._next_input(pack=False).model_dump_json()) <= CARRY_BUDGET_BYTES

    def _next_input(self, pack: bool = True) -> BrainInput:
        carry = eventlog.for_continue_as_new(self.carry)
        if pack and self.version >= 8:  # compressed: written twice into the history
            return BrainInput.packing(self.user_id, self.config, carry)
        return BrainInput(user_id=self.user_id, config=self.config, carry=carry)

    # --- applying events ----------------------------------------------------------

    def new_id(self, prefix: str) -> str:
        now_ms = int(workflow.now().timestamp() * 1000)
        return id_from_parts(prefix, now_ms, workflow.random().getrandbits(74))

    def apply(self, event: Event, publish: bool = True) -> Event:
        """Assign the next seq, reduce, log, remember the id and queue the client frames
        (unless they are out already: ``publish=False``)."""
        c = self.carry
        event = event.model_copy(update={"seq": c.state.seq + 1})
        c.state = reduce(c.state, event)
        self.events_this_run += 1
        eventlog.remember_event(c, event, commands.entity_id(event), self.config.dedup_size)
        eventlog.log_event(c, event, self.config, workflow.now())
        if event.type in PROFILE_EVENTS:
            c.backup_due = True
        if publish:
            c.outbox.extend(frames_for(c.state, event))
        self._details()
        return event

    def _turn_changed(self, ended: bool) -> None:
        self._details()
        if ended and self.version >= 4:  # the reply went out with the LLM call: no publish
            self.effects.upsert_search_attributes()

    def _details(self) -> None:
        """The Web UI's Current Details: turn running or idle, queue, counts, last event."""
        workflow.set_current_details(eventlog.current_details(self.carry, self.queue.running))

    def emit(self, frames: Any) -> None:
        self.carry.outbox.extend(frames)

    def _drop_duplicate(self, event: Event) -> None:
        eventlog.count_dropped(self.carry, "duplicates_dropped")
        workflow.logger.info(
            "duplicate dropped",
            extra={"event_id": event.event_id, "client_action_id": event.client_action_id},
        )

    # --- signals ------------------------------------------------------------------

    @workflow.signal(name=SUBMIT)
    def submit(self, raw: RawValue) -> None:
        """Chat messages and synced data. Invalid events are counted and dropped.

        The payload arrives raw and is decoded here, so one that is not an event at all (a
        hand-typed ``temporal workflow signal``) is counted and logged once, readably,
        instead of failing in the SDK with a traceback that comes back on every replay.
        """
        if self.erased:
            return
        try:
            event = workflow.payload_converter().from_payload(raw.payload, Event)
        except Exception as exc:  # noqa: BLE001 - whatever it is, it is not an event
            eventlog.count_dropped(self.carry, "invalid_dropped")
            workflow.logger.warning(
                "malformed submit signal dropped",
                extra={"user_id": self.user_id, "error": eventlog.describe_invalid(exc)},
            )
            return
        if eventlog.seen_before(self.carry, event):
            self._drop_duplicate(event)
            return
        try:
            payload = commands.validate_signal(self.carry.state, self.config, workflow.now(), event)
        except (ValidationError, ValueError, BrainRefusal) as exc:
            eventlog.count_dropped(self.carry, "invalid_dropped")
            if isinstance(exc, BrainRefusal) and exc.type == ErrorType.RATE_LIMITED:
                # The message was accepted (202) before the brain saw the day's writes were
                # used up: tell the user's clients instead of dropping it silently.
                self.emit([refusal_frame(event, exc, workflow.now())])
            workflow.logger.warning(
                "invalid event dropped", extra={"event_id": event.event_id, "error": str(exc)}
            )
            return
        if not isinstance(payload, UserMessagePayload):
            if commands.calendar_noop(self.carry.state, payload):
                return  # a sync that changes nothing records nothing
            self.apply(event)
            return
        if self.config.chat_replies and self.queue.refuses():
            self.emit([busy_frame(event)])  # double texting "reject": nothing recorded
            return
        # v4: a message the brain answers at once rides with the LLM call (no publish first)
        ride = self.version >= 4 and not self.carry.outbox and self.queue.starts_now()
        applied = self.apply(event, publish=not ride)
        frames = frames_for(self.carry.state, applied) if ride else []
        if not self.queue.reply_to(applied, payload.message_id, payload.text, frames=frames):
            self.emit(frames)

    @workflow.signal(name="cancel_generation")
    def cancel_generation(self, req: CancelRequest) -> None:
        self.turns.cancel(req.operation_id)

    @workflow.signal(name="erase")
    def erase(self, req: EraseRequest) -> None:
        self.erased = True

    # --- updates (commands that answer) --------------------------------------------

    def _validate(self, name: commands.CommandName, event: Event) -> None:
        """Validators run before anything is recorded: a refusal leaves no history."""
        if self.erased:
            raise ApplicationError("this account is being erased", type=ErrorType.GONE)
        try:
            commands.check_command_type(name, event)
            if eventlog.seen_before(self.carry, event):
                return  # answered with the original result
            commands.validate_command(self.carry.state, self.config, workflow.now(), name, event)
        except BrainRefusal as exc:
            raise turns.refused(exc) from None

    def _command(self, name: commands.CommandName, event: Event) -> CommandResult:
        seen = eventlog.seen_before(self.carry, event)
        if seen:
            self._drop_duplicate(event)
            return commands.duplicate_result(seen, event)
        if event.type == "flight.selected":
            event = commands.with_follow_up_tasks(
                self.carry.state, event, self.new_id, workflow.now()
            )
        applied = self.apply(event)
        if name in commands.TURN_COMMANDS:
            self.queue.after_command(name, applied)
        return commands.command_result(self.carry.state, applied)

    def _command_update(  # type: ignore[misc]  # noqa: N805 - runs in the class body
        name: commands.CommandName,
    ) -> workflow.UpdateMethodMultiParam[[UserBrainWorkflow, Event], CommandResult]:
        """One update per command, each validated before anything is recorded."""

        @workflow.update(name=name)
        def command(self, event: Event) -> CommandResult:
            return self._command(name, event)

        @command.validator
        def validate(self, event: Event) -> None:
            self._validate(name, event)

        return command

    create_task = _command_update("create_task")
    update_task = _command_update("update_task")
    delete_task = _command_update("delete_task")
    set_preference = _command_update("set_preference")
    pin_memory = _command_update("pin_memory")
    unpin_memory = _command_update("unpin_memory")
    select_flight = _command_update("select_flight")
    add_calendar_event = _command_update("add_calendar_event")
    respond_approval = _command_update("respond_approval")
    regenerate_message = _command_update("regenerate_message")
    edit_message = _command_update("edit_message")
    activate_branch = _command_update("activate_branch")
    del _command_update

    @workflow.update(name="search_flights")
    async def search_flights(self, request: dict[str, Any]) -> dict[str, Any]:
        """A direct flight search (``POST /tools/search_flights``), counted in the quota."""
        return await turns.direct_flight_search(self.port, request)

    @search_flights.validator
    def _v_search_flights(self, request: dict[str, Any]) -> None:
        if self.erased:
            raise ApplicationError("this account is being erased", type=ErrorType.GONE)
        try:
            turns.check_flight_quota(self.carry.state, self.config, workflow.now())
            commands.check_writes(self.carry.state, self.config, workflow.now())
        except BrainRefusal as exc:
            raise turns.refused(exc) from None

    # --- queries ------------------------------------------------------------------

    @workflow.query(name="snapshot")
    def snapshot(self) -> BrainState:
        return self.carry.state

    @workflow.query(name="delta")
    def delta(self, since: int) -> Delta:
        return eventlog.delta(self.carry, since)

    @workflow.query(name="event_window")
    def event_window(self, limit: int = 1000) -> list[Event]:
        return self.carry.window[-limit:] if limit > 0 else []

    @workflow.query(name="action_result")
    def action_result(self, client_action_id: str) -> ActionRecord | None:
        return self.carry.seen_actions.get(client_action_id)

    @workflow.query(name="diagnostics")
    def diagnostics(self) -> Diagnostics:
        info = workflow.info()
        history = (info.get_current_history_length(), info.is_continue_as_new_suggested())
        return eventlog.diagnostics(self.user_id, self.carry, *history, self.queue.running)
