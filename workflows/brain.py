"""``UserBrainWorkflow``: one long-running entity workflow per user, the single writer.

Every state change is an :class:`Event` applied by the pure reducer. Signals bring chat
messages and synced data; updates (with validators) bring commands that answer; queries
read. Side effects leave only through activities: realtime publishing (an activity
after each change), SQL archival and backups, and the chat turns' LLM and tool calls.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey, SearchAttributePair
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from mcos.brain.reducer import reduce
    from mcos.kernel.contracts import (
        ActionRecord,
        ArchiveInput,
        ArchiveResult,
        BackupInput,
        BrainConfig,
        BrainInput,
        CancelRequest,
        CommandResult,
        Delta,
        Diagnostics,
        EraseRequest,
        PublishInput,
        Turn,
    )
    from mcos.kernel.ids import id_from_parts
    from mcos.kernel.models import (
        BrainState,
        CalendarEvent,
        Event,
        FlightSelectedPayload,
        Memory,
        MemoryUnpinnedPayload,
        PreferenceSetPayload,
        Task,
        TaskDeletedPayload,
        TaskUpdatedPayload,
        UserMessagePayload,
    )
    from workflows import turns

PUBLISH_TIMEOUT = timedelta(seconds=10)
PUBLISH_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_attempts=5)
SQL_TIMEOUT = timedelta(seconds=60)
SQL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1)
)
ARCHIVE_BATCH = 200
PUBLISH_BATCH = 100
# v2 (workflow.patched id): frames published by a regular activity, one of each side
# effect per loop pass, small backlogs before continue-as-new. v1 histories still replay.
V2_SIDE_EFFECTS = "side-effects-v2"
# v3: continue-as-new is never starved by a backlog: when it is due (by the run's history
# length), the brain continues as soon as the carried input fits CARRY_BUDGET_BYTES (the
# outbox and the messages still to archive travel with the state), instead of waiting for
# the backlog to drain.
V3_CARRY_BACKLOG = "carry-backlog-v3"
CARRY_BUDGET_BYTES = 1024 * 1024  # half Temporal's 2 MB payload limit
CARRY_WINDOW_EVENTS = 100

SA_USER = SearchAttributeKey.for_keyword("McosUserId")
SA_MESSAGES = SearchAttributeKey.for_int("McosMessageCount")
SA_OPEN_TASKS = SearchAttributeKey.for_int("McosOpenTasks")
SA_LAST_ACTIVITY = SearchAttributeKey.for_datetime("McosLastActivity")
SEARCH_ATTRIBUTES = {
    "McosUserId": "Keyword",
    "McosMessageCount": "Int",
    "McosOpenTasks": "Int",
    "McosLastActivity": "Datetime",
}

# Which update may carry which event type.
COMMAND_TYPES = {
    "create_task": "task.created",
    "update_task": "task.updated",
    "delete_task": "task.deleted",
    "set_preference": "preference.set",
    "pin_memory": "memory.pinned",
    "unpin_memory": "memory.unpinned",
    "select_flight": "flight.selected",
    "add_calendar_event": "calendar.synced",
}
SIGNAL_TYPES = {"user.message", "calendar.synced"}


def workflow_id(user_id: str) -> str:
    return f"user-brain:{user_id}"


class _Lru:
    """An insertion-ordered set of recent keys with a value each, bounded."""

    def __init__(self, size: int, items: list[tuple[str, Any]] | None = None) -> None:
        self.size = size
        self.items: OrderedDict[str, Any] = OrderedDict(items or [])

    def get(self, key: str) -> Any:
        if key in self.items:
            self.items.move_to_end(key)
            return self.items[key]
        return None

    def __contains__(self, key: str) -> bool:
        return key in self.items

    def add(self, key: str, value: Any = None) -> None:
        self.items[key] = value
        self.items.move_to_end(key)
        while len(self.items) > self.size:
            self.items.popitem(last=False)


@workflow.defn(name="UserBrainWorkflow")
class UserBrainWorkflow:
    @workflow.init
    def __init__(self, inp: BrainInput) -> None:
        self.user_id = inp.user_id
        self.config: BrainConfig = inp.config
        self.state: BrainState = inp.state or BrainState(user_id=inp.user_id)
        self.window: list[Event] = list(inp.event_window)
        self.seen_events = _Lru(self.config.dedup_size, [(e, None) for e in inp.seen_event_ids])
        self.seen_actions = _Lru(
            self.config.dedup_size, [(a.client_action_id, a) for a in inp.seen_actions]
        )
        self.turns: list[Turn] = list(inp.pending_turns)
        self.runs = inp.runs
        self.outbox: list[dict[str, Any]] = list(inp.outbox)
        self.backup_due = inp.backup_due
        self.erased = False
        self.invalid_dropped = 0
        self.turn_running = False
        self.turn_handle: workflow.ActivityHandle[Any] | None = None
        self.turn_operation: str | None = None
        self.events_this_run = 0
        self.v3 = False  # set at the start of run(): histories recorded before v3 replay as v2
        self._sa_values: tuple[Any, ...] | None = None

    # --- main loop ------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: BrainInput) -> None:
        self.v3 = workflow.patched(V3_CARRY_BACKLOG)
        workflow.logger.info("brain started", extra={"user_id": self.user_id, "run": self.runs})
        turn_loop = asyncio.create_task(self._turn_loop())
        while True:
            await workflow.wait_condition(
                lambda: (
                    bool(self.outbox)
                    or self._archive_due()
                    or self.backup_due
                    or self.erased
                    or turn_loop.done()
                    or (self._continue_as_new_due() and not self.turn_running)
                )
            )
            if turn_loop.done() and not self.erased:
                # A bug in a turn must not silently stop all future turns: failing the
                # workflow task makes Temporal retry it (and shows it in the Web UI).
                turn_loop.result()
            if self.erased:
                turn_loop.cancel()
                if self.turn_handle is not None:
                    self.turn_handle.cancel()
                await workflow.wait_condition(workflow.all_handlers_finished)
                # Queries on the closed run must not show the erased data.
                self.state = BrainState(user_id=self.user_id)
                self.window = []
                workflow.logger.info("brain erased", extra={"user_id": self.user_id})
                return
            if self._continue_as_new_due() and not self.turn_running and self._may_continue():
                # Under a steady stream of signals there is always something to publish:
                # the outbox, queued turns and a due backup travel with the carried state.
                await workflow.wait_condition(workflow.all_handlers_finished)
                if self.turn_running:
                    continue
                turn_loop.cancel()
                workflow.logger.info(
                    "continue-as-new",
                    extra={"user_id": self.user_id, "seq": self.state.seq, "run": self.runs},
                )
                workflow.continue_as_new(self._carry_over())
            if not workflow.patched(V2_SIDE_EFFECTS):  # runs recorded before v2
                if self.outbox:
                    await self._flush_outbox()
                    self._upsert_search_attributes()
                elif self.backup_due:
                    await self._backup_profile()
                elif self._archive_due():
                    await self._archive()
                continue
            # One of each per pass: a flood of frames must not starve archival (or the
            # other way round).
            if self.outbox:
                await self._flush_outbox()
                self._upsert_search_attributes()
            if self.backup_due:
                await self._backup_profile()
            if self._archive_due():
                await self._archive()

    def _may_continue(self) -> bool:
        """Whether a due continue-as-new may happen now.

        v3: as soon as the carried input (backlog included) fits the budget; only a backlog
        too big to carry is drained first, one pass at a time. v2 waited for the whole
        backlog to drain, which a steady burst never allowed (one run grew past 2 MB).
        """
        if not workflow.patched(V2_SIDE_EFFECTS):
            return True
        small = len(self.outbox) <= PUBLISH_BATCH and not self._archive_due()
        if small or not self.v3:
            return small
        return len(self._carry_over().model_dump_json()) <= CARRY_BUDGET_BYTES

    def _carry_over(self) -> BrainInput:
        return BrainInput(
            user_id=self.user_id,
            config=self.config,
            state=self.state,
            # The newest events only: the carried input (in the history of both runs) stays
            # small; a delta older than the window is answered with a snapshot.
            event_window=self.window[-CARRY_WINDOW_EVENTS:],
            seen_event_ids=list(self.seen_events.items.keys()),
            seen_actions=list(self.seen_actions.items.values()),
            pending_turns=self.turns,
            outbox=self.outbox,
            backup_due=self.backup_due,
            runs=self.runs + 1,
        )

    def _continue_as_new_due(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            # v3 counts the run's history events (signals included), v2 the events applied
            or (info.get_current_history_length() if self.v3 else self.events_this_run)
            >= self.config.continue_as_new_events
        )

    def _archive_due(self) -> bool:
        return len(self.state.messages) > self.config.message_limit

    # --- applying events ----------------------------------------------------------

    def new_id(self, prefix: str) -> str:
        now_ms = int(workflow.now().timestamp() * 1000)
        return id_from_parts(prefix, now_ms, workflow.random().getrandbits(74))

    def new_event(
        self, type_: str, payload: dict[str, Any], request_id: str | None = None
    ) -> Event:
        return Event(
            event_id=self.new_id("evt"),
            type=type_,  # type: ignore[arg-type]
            payload=payload,
            timestamp=workflow.now(),
            request_id=request_id,
        )

    def apply(self, event: Event, frames: list[dict[str, Any]] | None = None) -> Event:
        """Assign the next seq, reduce, log, remember the id and queue the client frames."""
        event = event.model_copy(update={"seq": self.state.seq + 1})
        self.state = reduce(self.state, event)
        self.events_this_run += 1
        self.seen_events.add(event.event_id)
        if event.client_action_id:
            self.seen_actions.add(
                event.client_action_id,
                ActionRecord(
                    client_action_id=event.client_action_id,
                    event_id=event.event_id,
                    seq=event.seq,
                    entity_id=_entity_id(event),
                ),
            )
        self._log_event(event)
        if event.type in ("preference.set", "memory.pinned", "memory.unpinned"):
            self.backup_due = True
        self.outbox.extend(frames if frames is not None else self._frames_for(event))
        return event

    def _log_event(self, event: Event) -> None:
        self.window.append(event)
        cutoff = workflow.now() - timedelta(days=self.config.event_window_days)
        excess = len(self.window) - self.config.event_window
        drop = max(excess, 0)
        while drop < len(self.window) and self.window[drop].timestamp < cutoff:
            drop += 1
        if drop:
            del self.window[:drop]

    def _frames_for(self, event: Event) -> list[dict[str, Any]]:
        """Client frames for a domain event; ``key`` lets the bus drop republished ones."""
        base = {"seq": event.seq, "request_id": event.request_id, "key": f"seq:{event.seq}"}
        if event.type in ("user.message", "assistant.message"):
            msg = self.state.messages[-1] if self.state.messages else None
            if msg is None or msg.seq != event.seq:
                return []
            data = msg.model_dump(mode="json")
            frames = [{**base, "type": "message.created", "data": data}]
            if event.type == "assistant.message":
                kind = "llm.interrupted" if msg.status == "interrupted" else "message.completed"
                frames.append(
                    {
                        **base,
                        "key": f"seq:{event.seq}:done",
                        "type": kind,
                        "operation_id": msg.operation_id,
                        "data": data,
                    }
                )
            return frames
        if event.type.startswith("task."):
            task_id = event.payload.get("id")
            task = self.state.tasks.get(task_id) if task_id else None
            data = task.model_dump(mode="json") if task else {"id": task_id}
            return [{**base, "type": event.type, "data": data}]
        if event.type == "messages.archived":
            return []
        if event.type == "flight.selected":
            return [
                {**base, "type": "state.updated", "data": {"tasks": self._tasks_json()}},
            ]
        return [{**base, "type": "state.updated", "data": self._state_slice(event.type)}]

    def _tasks_json(self) -> list[dict[str, Any]]:
        return [t.model_dump(mode="json") for t in self.state.tasks.values()]

    def _state_slice(self, event_type: str) -> dict[str, Any]:
        s = self.state
        if event_type == "preference.set":
            return {"preferences": s.preferences}
        if event_type.startswith("memory."):
            return {"memories": [m.model_dump(mode="json") for m in s.memories.values()]}
        if event_type == "calendar.synced":
            return {
                "calendar": [c.model_dump(mode="json") for c in s.calendar.values()],
                "travel": [t.model_dump(mode="json") for t in s.travel],
            }
        if event_type == "flights.searched":
            return {"flight_searches": [f.search_id for f in s.flight_searches]}
        return {}

    def is_duplicate(self, event: Event) -> ActionRecord | bool:
        if event.client_action_id and event.client_action_id in self.seen_actions:
            return self.seen_actions.get(event.client_action_id)
        return event.event_id in self.seen_events

    def _drop_duplicate(self, event: Event) -> None:
        self.state = self.state.model_copy(
            update={
                "counters": self.state.counters.model_copy(
                    update={"duplicates_dropped": self.state.counters.duplicates_dropped + 1}
                )
            }
        )
        workflow.logger.info(
            "duplicate dropped",
            extra={"event_id": event.event_id, "client_action_id": event.client_action_id},
        )

    # --- signals ------------------------------------------------------------------

    @workflow.signal(name="submit")
    def submit(self, event: Event) -> None:
        """Chat messages and synced data. Invalid events are counted and dropped."""
        if self.erased:
            return
        if self.is_duplicate(event):
            self._drop_duplicate(event)
            return
        try:
            if event.type not in SIGNAL_TYPES:
                raise ValueError(f"event type {event.type} is not accepted as a signal")
            if event.type == "user.message":
                payload = UserMessagePayload.model_validate(event.payload)
                self._check_write_budget()
            else:
                turns.validate_calendar_payload(event.payload)
        except (ValidationError, ValueError, ApplicationError) as exc:
            self.invalid_dropped += 1
            if isinstance(exc, ApplicationError) and exc.type == "rate_limited":
                # The message was accepted (202) before the brain saw the day's writes were
                # used up: tell the user's clients instead of dropping it silently.
                self.outbox.append(self._refusal_frame(event, exc))
            workflow.logger.warning(
                "invalid event dropped", extra={"event_id": event.event_id, "error": str(exc)}
            )
            return
        if event.type == "calendar.synced" and turns.calendar_noop(self.state, event.payload):
            return  # a sync that changes nothing records nothing
        self.apply(event)
        if event.type == "user.message" and self.config.chat_replies:
            self.turns.append(
                Turn(
                    message_id=payload.message_id,
                    event_id=event.event_id,
                    request_id=event.request_id,
                    text=payload.text,
                )
            )
            if self.config.interrupt_on_new_message and self.turn_handle is not None:
                self.turn_handle.cancel()

    def _refusal_frame(self, event: Event, exc: ApplicationError) -> dict[str, Any]:
        details = dict(exc.details[0]) if exc.details else {}
        day_end = int(workflow.now().timestamp()) // 86400 * 86400 + 86400
        retry_after = max(day_end - int(workflow.now().timestamp()), 1)
        details |= {
            "current": details.get("current", 0) + 1,
            "reset_at": day_end,
            "retry_after": retry_after,
            "client_action_id": event.client_action_id,
        }
        return {
            "type": "rate_limited",
            "request_id": event.request_id,
            "key": f"refused:{event.event_id}",
            "data": {
                "error": {"code": "rate_limited", "message": str(exc.message), "details": details},
                "request_id": event.request_id,
            },
        }

    @workflow.signal(name="cancel_generation")
    def cancel_generation(self, req: CancelRequest) -> None:
        if self.turn_handle is None:
            return
        if req.operation_id and req.operation_id != self.turn_operation:
            return
        self.turn_handle.cancel()

    @workflow.signal(name="erase")
    def erase(self, req: EraseRequest) -> None:
        self.erased = True

    # --- updates (commands that answer) --------------------------------------------

    def _check_write_budget(self) -> None:
        turns.check_daily_limit(
            self, "writes", self.config.writes_per_day, "writes_per_day", "write"
        )

    def _validate_command(self, name: str, event: Event) -> None:
        """Validators run before anything is recorded: a refusal leaves no history."""
        if self.erased:
            raise ApplicationError("this account is being erased", type="gone")
        if event.type != COMMAND_TYPES[name]:
            raise ApplicationError(
                f"{name} takes {COMMAND_TYPES[name]}, not {event.type}", type="invalid_request"
            )
        if self.is_duplicate(event):
            return  # answered with the original result
        self._check_write_budget()
        try:
            self._validate_payload(event)
        except ValidationError as exc:
            raise ApplicationError(
                "invalid payload",
                {"errors": exc.errors(include_url=False, include_context=False)},
                type="invalid_request",
            ) from None

    def _validate_payload(self, event: Event) -> None:
        p = event.payload
        s = self.state
        if event.type == "task.created":
            task = Task.model_validate(p)
            if task.id in s.tasks:
                raise ApplicationError(f"task {task.id} exists", type="conflict")
            open_tasks = sum(1 for t in s.tasks.values() if t.status == "open")
            if open_tasks >= 500:
                raise ApplicationError("too many open tasks (500)", type="conflict")
        elif event.type == "task.updated":
            up = TaskUpdatedPayload.model_validate(p)
            if up.id not in s.tasks:
                raise ApplicationError(f"no task {up.id}", type="not_found")
        elif event.type == "task.deleted":
            if TaskDeletedPayload.model_validate(p).id not in s.tasks:
                raise ApplicationError(f"no task {p.get('id')}", type="not_found")
        elif event.type == "preference.set":
            PreferenceSetPayload.model_validate(p)
        elif event.type == "memory.pinned":
            Memory.model_validate(p)
            if len(s.memories) >= 200:
                raise ApplicationError("too many pinned memories (200)", type="conflict")
        elif event.type == "memory.unpinned":
            if MemoryUnpinnedPayload.model_validate(p).id not in s.memories:
                raise ApplicationError(f"no memory {p.get('id')}", type="not_found")
        elif event.type == "flight.selected":
            sel = FlightSelectedPayload.model_validate(p)
            turns.find_option(s, sel.search_id, sel.flight_id)  # raises not_found
        elif event.type == "calendar.synced":
            turns.validate_calendar_payload(p)
            for ev in p.get("upserts", []):
                CalendarEvent.model_validate(ev)

    def _command(self, event: Event) -> CommandResult:
        seen = self.is_duplicate(event)
        if seen:
            self._drop_duplicate(event)
            record = seen if isinstance(seen, ActionRecord) else None
            return CommandResult(
                event_id=record.event_id if record else event.event_id,
                seq=record.seq if record else 0,
                duplicate=True,
                entity_id=record.entity_id if record else _entity_id(event),
            )
        if event.type == "flight.selected":
            event = turns.with_follow_up_tasks(self, event)
        applied = self.apply(event)
        return CommandResult(
            event_id=applied.event_id,
            seq=applied.seq,
            entity_id=_entity_id(applied),
            data=self._command_data(applied),
        )

    def _command_data(self, event: Event) -> dict[str, Any]:
        if event.type.startswith("task.") and event.payload.get("id") in self.state.tasks:
            return self.state.tasks[event.payload["id"]].model_dump(mode="json")
        if event.type == "memory.pinned":
            return self.state.memories[event.payload["id"]].model_dump(mode="json")
        if event.type == "preference.set":
            return {"preferences": self.state.preferences}
        if event.type == "flight.selected":
            return {"follow_up_tasks": event.payload.get("follow_up_tasks", [])}
        return {}

    @workflow.update(name="create_task")
    def create_task(self, event: Event) -> CommandResult:
        return self._command(event)

    @create_task.validator
    def _v_create_task(self, event: Event) -> None:
        self._validate_command("create_task", event)

    @workflow.update(name="update_task")
    def update_task(self, event: Event) -> CommandResult:
        return self._command(event)

    @update_task.validator
    def _v_update_task(self, event: Event) -> None:
        self._validate_command("update_task", event)

    @workflow.update(name="delete_task")
    def delete_task(self, event: Event) -> CommandResult:
        return self._command(event)

    @delete_task.validator
    def _v_delete_task(self, event: Event) -> None:
        self._validate_command("delete_task", event)

    @workflow.update(name="set_preference")
    def set_preference(self, event: Event) -> CommandResult:
        return self._command(event)

    @set_preference.validator
    def _v_set_preference(self, event: Event) -> None:
        self._validate_command("set_preference", event)

    @workflow.update(name="pin_memory")
    def pin_memory(self, event: Event) -> CommandResult:
        return self._command(event)

    @pin_memory.validator
    def _v_pin_memory(self, event: Event) -> None:
        self._validate_command("pin_memory", event)

    @workflow.update(name="unpin_memory")
    def unpin_memory(self, event: Event) -> CommandResult:
        return self._command(event)

    @unpin_memory.validator
    def _v_unpin_memory(self, event: Event) -> None:
        self._validate_command("unpin_memory", event)

    @workflow.update(name="select_flight")
    def select_flight(self, event: Event) -> CommandResult:
        return self._command(event)

    @select_flight.validator
    def _v_select_flight(self, event: Event) -> None:
        self._validate_command("select_flight", event)

    @workflow.update(name="add_calendar_event")
    def add_calendar_event(self, event: Event) -> CommandResult:
        return self._command(event)

    @add_calendar_event.validator
    def _v_add_calendar_event(self, event: Event) -> None:
        self._validate_command("add_calendar_event", event)

    @workflow.update(name="search_flights")
    async def search_flights(self, request: dict[str, Any]) -> dict[str, Any]:
        """A direct flight search (``POST /tools/search_flights``), counted in the quota."""
        return await turns.direct_flight_search(self, request)

    @search_flights.validator
    def _v_search_flights(self, request: dict[str, Any]) -> None:
        if self.erased:
            raise ApplicationError("this account is being erased", type="gone")
        turns.check_flight_quota(self)
        self._check_write_budget()

    # --- queries ------------------------------------------------------------------

    @workflow.query(name="snapshot")
    def snapshot(self) -> BrainState:
        return self.state

    @workflow.query(name="delta")
    def delta(self, since: int) -> Delta:
        seq = self.state.seq
        if since >= seq:
            return Delta(since=since, seq=seq)
        first = self.window[0].seq if self.window else seq + 1
        if since + 1 < first:
            return Delta(since=since, seq=seq, snapshot=self.state)
        return Delta(since=since, seq=seq, events=[e for e in self.window if e.seq > since])

    @workflow.query(name="event_window")
    def event_window(self, limit: int = 1000) -> list[Event]:
        return self.window[-limit:] if limit > 0 else []

    @workflow.query(name="action_result")
    def action_result(self, client_action_id: str) -> ActionRecord | None:
        return self.seen_actions.items.get(client_action_id)

    @workflow.query(name="diagnostics")
    def diagnostics(self) -> Diagnostics:
        info = workflow.info()
        return Diagnostics(
            user_id=self.user_id,
            seq=self.state.seq,
            run=self.runs,
            event_count=self.state.counters.events_applied,
            window_events=len(self.window),
            history_length=info.get_current_history_length(),
            continue_as_new_suggested=info.is_continue_as_new_suggested(),
            duplicates_dropped=self.state.counters.duplicates_dropped,
            invalid_events_dropped=self.invalid_dropped,
            last_event_ids=list(self.seen_events.items.keys())[-10:],
            last_client_action_ids=list(self.seen_actions.items.keys())[-10:],
            pending_turns=len(self.turns),
            turn_running=self.turn_running,
            messages_in_state=len(self.state.messages),
        )

    # --- side effects -------------------------------------------------------------

    async def _flush_outbox(self) -> None:
        # v2: bounded batches keep each activity input far below Temporal's payload limits.
        batch = PUBLISH_BATCH if workflow.patched(V2_SIDE_EFFECTS) else len(self.outbox)
        frames, self.outbox = self.outbox[:batch], self.outbox[batch:]
        publish = PublishInput(user_id=self.user_id, frames=frames)
        summary = f"publish {len(frames)} frame(s)"
        if workflow.patched(V2_SIDE_EFFECTS):
            # A regular activity, not a local one: when a local activity's result reaches
            # the workflow relative to other work in the same task is not reproduced exactly
            # on replay, and the main loop's next choice (backup, archive, continue-as-new)
            # depends on it. Recorded completions replay the same way every time.
            await workflow.execute_activity(
                "publish_frames",
                publish,
                start_to_close_timeout=PUBLISH_TIMEOUT,
                retry_policy=PUBLISH_RETRY,
                summary=summary,
            )
        else:  # runs recorded before the patch
            await workflow.execute_local_activity(
                "publish_frames",
                publish,
                start_to_close_timeout=PUBLISH_TIMEOUT,
                retry_policy=PUBLISH_RETRY,
                summary=summary,
            )

    async def _archive(self) -> None:
        excess = len(self.state.messages) - self.config.message_limit
        size = ARCHIVE_BATCH if workflow.patched(V2_SIDE_EFFECTS) else 500  # v1: 500
        batch = self.state.messages[: min(excess, size)]
        result: ArchiveResult = await workflow.execute_activity(
            "archive_messages",
            ArchiveInput(user_id=self.user_id, messages=[m.model_dump(mode="json") for m in batch]),
            result_type=ArchiveResult,
            start_to_close_timeout=SQL_TIMEOUT,
            retry_policy=SQL_RETRY,
            summary=f"archive {len(batch)} message(s)",
        )
        ids = result.archived_ids
        self.apply(self.new_event("messages.archived", {"ids": ids, "count": len(ids)}))

    async def _backup_profile(self) -> None:
        self.backup_due = False
        s = self.state
        await workflow.execute_activity(
            "backup_profile",
            BackupInput(
                user_id=self.user_id,
                seq=s.seq,
                preferences=s.preferences,
                memories=[m.model_dump(mode="json") for m in s.memories.values()],
            ),
            start_to_close_timeout=SQL_TIMEOUT,
            retry_policy=SQL_RETRY,
            summary="backup preferences and memories",
        )

    def _upsert_search_attributes(self) -> None:
        if not self.config.search_attributes:
            return
        s = self.state
        open_tasks = sum(1 for t in s.tasks.values() if t.status == "open")
        values = (s.counters.messages_total, open_tasks, s.last_activity)
        if values == self._sa_values:
            return
        self._sa_values = values
        pairs: list[SearchAttributePair[Any]] = [
            SA_USER.value_set(self.user_id),
            SA_MESSAGES.value_set(s.counters.messages_total),
            SA_OPEN_TASKS.value_set(open_tasks),
        ]
        if s.last_activity is not None:
            pairs.append(SA_LAST_ACTIVITY.value_set(s.last_activity))
        workflow.upsert_search_attributes(pairs)

    # --- chat turns ---------------------------------------------------------------

    async def _turn_loop(self) -> None:
        while True:
            # A due continue-as-new goes first; queued turns travel to the next run.
            await workflow.wait_condition(
                lambda: bool(self.turns) and not self._continue_as_new_due()
            )
            turn = self.turns[0]
            self.turn_running = True
            try:
                await turns.run_turn(self, turn)
            finally:
                self.turns.pop(0)
                self.turn_running = False
                self.turn_handle = None
                self.turn_operation = None


def _entity_id(event: Event) -> str | None:
    p = event.payload
    if event.type == "user.message":
        return p.get("message_id")
    if event.type == "flight.selected":
        return p.get("search_id")
    return p.get("id")
