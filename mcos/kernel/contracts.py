"""Inputs and outputs of the brain workflow and its activities (one model per call)."""

from __future__ import annotations

import zlib
from collections import OrderedDict
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mcos.kernel.errors import ErrorType
from mcos.kernel.frames import Frame
from mcos.kernel.models import BrainState, Event, Record

# What happens to a chat message sent while a turn runs (events-and-api.md, "Additions").
DoubleTexting = Literal["queue", "interrupt", "merge", "reject"]

# Search attributes the brain keeps up to date (registered by `mcos dev` and the tests).
SEARCH_ATTRIBUTES = {
    "McosUserId": "Keyword",
    "McosMessageCount": "Int",
    "McosOpenTasks": "Int",
    "McosLastActivity": "Datetime",
}


def brain_workflow_id(user_id: str) -> str:
    """The id of a user's brain workflow: readable in the Web UI and the CLI."""
    return f"user-brain:{user_id}"


class BrainConfig(BaseModel):
    """Knobs the brain runs with; set by whoever starts it and carried across runs."""

    message_limit: int = 100
    event_window: int = 1000
    event_window_days: int = 30
    dedup_size: int = 1000
    continue_as_new_events: int = 2000
    # v5: also continue once the run's history holds this many bytes (the carried input,
    # up to ~250 KB, included; the continue-as-new event repeats it), so no run nears 1 MB
    continue_as_new_bytes: int = 400_000
    chat_replies: bool = True
    interrupt_on_new_message: bool = False  # before `double_texting`: means "interrupt"
    double_texting: DoubleTexting = "queue"
    merge_window_ms: int = 1500
    approval_ttl_s: float = 24 * 3600
    tasks_cap: int = 500  # past it, the oldest tasks move to SQL (completed ones first)
    llm_billable: bool = False  # the configured model bills tokens (an OpenAI-compatible API)
    llm_offline: bool = True  # the configured model is the offline one (it reads `context`)
    llm_max_tokens: int = 1024
    done_tasks_kept_days: int = 365  # completed tasks older than this move to SQL
    llm_heartbeat_timeout_s: float = 15.0
    llm_max_attempts: int = 3
    tokens_per_day: int = 100_000
    flight_searches_per_day: int = 10
    writes_per_day: int = 1000
    default_timezone: str = "UTC"
    search_attributes: bool = False
    tool_timeout_s: float = 20.0


class ActionRecord(BaseModel):
    """What a client action produced, returned again when it is repeated."""

    client_action_id: str
    event_id: str
    seq: int
    entity_id: str | None = None


class Turn(BaseModel):
    """A chat turn waiting to run: the user message it answers."""

    message_id: str
    event_id: str
    request_id: str | None = None
    text: str
    queued_at: datetime | None = None
    approval_id: str | None = None  # a turn that goes on after the user answered an approval
    frames: list[Frame] = Field(default_factory=list)  # its message's frames, sent with the LLM
    trace: dict[str, str] = Field(default_factory=dict)  # the asking request's trace (W3C)


PACK_LEVEL = 6  # zlib's default: deterministic for a given input, as replay needs


class BrainCarry(BaseModel):
    """Everything a brain carries from one run to the next (continue-as-new), in one model.

    The workflow holds one of these and changes it in place; continuing as new passes it
    on whole. Nothing else survives the boundary.
    """

    state: BrainState
    window: list[Event] = Field(default_factory=list)  # the event log, oldest first
    seen_events: OrderedDict[str, None] = Field(default_factory=OrderedDict)  # LRU, newest last
    seen_actions: OrderedDict[str, ActionRecord] = Field(default_factory=OrderedDict)
    turns: list[Turn] = Field(default_factory=list)  # queued chat turns, next first
    outbox: list[Frame] = Field(default_factory=list)  # frames not yet published
    duplicates_reported: int = 0  # v6: of counters.duplicates_dropped, reported by a publish
    backup_due: bool = False
    runs: int = 1


class BrainInput(BaseModel):
    """A brain run's input. From v8 a continue-as-new hands the carry on zlib-compressed
    (``packed``, base64 in the JSON payload): it is written into the history twice (the
    continue-as-new event and the next run's start), and a backlog carried under load made
    the two ~420 KB each, a 1.2 MB run. Packed, a carry is 5-6x smaller."""

    model_config = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")

    user_id: str
    config: BrainConfig = Field(default_factory=BrainConfig)
    carry: BrainCarry | None = None  # None (and nothing packed): a new brain
    packed: bytes | None = None  # v8: the carry, compressed

    @classmethod
    def packing(cls, user_id: str, config: BrainConfig, carry: BrainCarry) -> BrainInput:
        data = zlib.compress(carry.model_dump_json().encode(), PACK_LEVEL)
        return cls(user_id=user_id, config=config, packed=data)

    def carried(self) -> BrainCarry | None:
        """The carry handed on, whichever way it came."""
        if self.packed is not None:
            return BrainCarry.model_validate_json(zlib.decompress(self.packed))
        return self.carry

    @model_validator(mode="before")
    @classmethod
    def _legacy_flat_input(cls, data: object) -> object:
        """Runs started before the carry model had its fields at the top level."""
        if not isinstance(data, dict) or "carry" in data or data.get("state") is None:
            return data
        legacy = dict(data)
        carry = {
            "state": legacy.pop("state"),
            "window": legacy.pop("event_window", []),
            "seen_events": dict.fromkeys(legacy.pop("seen_event_ids", [])),
            "seen_actions": {a["client_action_id"]: a for a in legacy.pop("seen_actions", [])},
            "turns": legacy.pop("pending_turns", []),
            "outbox": legacy.pop("outbox", []),
            "backup_due": legacy.pop("backup_due", False),
            "runs": legacy.pop("runs", 1),
        }
        return {**legacy, "carry": carry}


class CommandResult(BaseModel):
    event_id: str
    seq: int
    duplicate: bool = False
    entity_id: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class Delta(BaseModel):
    """Events after ``since``; ``snapshot`` instead when they are older than the window."""

    since: int
    seq: int
    events: list[Event] = Field(default_factory=list)
    snapshot: BrainState | None = None


class Diagnostics(Record):
    user_id: str
    seq: int
    run: int
    event_count: int
    window_events: int
    history_length: int
    continue_as_new_suggested: bool
    duplicates_dropped: int
    invalid_events_dropped: int
    last_event_ids: list[str]
    last_client_action_ids: list[str]
    pending_turns: int
    turn_running: bool
    messages_in_state: int


class CancelRequest(BaseModel):
    request_id: str | None = None
    operation_id: str | None = None


# --- activities -----------------------------------------------------------------------


class PublishInput(BaseModel):
    user_id: str
    frames: list[Frame]
    duplicates_dropped: int = 0  # v6: dropped since the last report (for the metric)


class ArchiveInput(BaseModel):
    user_id: str
    messages: list[dict[str, Any]]


class TaskArchiveInput(BaseModel):
    user_id: str
    tasks: list[dict[str, Any]]


class ArchiveResult(BaseModel):
    archived_ids: list[str]
    inserted: int


class BackupInput(BaseModel):
    user_id: str
    seq: int
    preferences: dict[str, Any]
    memories: list[dict[str, Any]]


class ToolCall(BaseModel):
    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class OfflineScript(BaseModel):
    """The offline model's whole answer, worked out by the brain (v6, ``mcos.llm.lean``):
    the LLM activity only streams it, so the call needs neither the prompt nor the state."""

    text: str = ""
    calls: list[ToolCall] = Field(default_factory=list)
    prompt_tokens: int = 0


class ReplyDraft(BaseModel):
    """What the brain will record if this LLM call is the turn's last: the LLM activity then
    publishes the reply's frames itself (one publish activity less per turn), without a
    ``seq`` (the brain assigns it when it records the reply). The brain predicts the
    ``parent_id`` and ``branch``; when the recorded message differs, it publishes the
    corrected frames."""

    message_id: str
    reply_to: str
    parent_id: str | None = None
    seq: int
    branch: dict[str, int] = Field(default_factory=dict)
    text_prefix: str = ""  # text of the turn's earlier LLM calls
    cards: list[dict[str, Any]] = Field(default_factory=list)
    tokens_prompt: int = 0  # of the earlier calls
    tokens_completion: int = 0


class LlmTurnInput(BaseModel):
    user_id: str
    operation_id: str
    request_id: str | None = None
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] = Field(default_factory=list)  # histories before tool_names
    # The registry's tools, by name, and their digest: the activity rebuilds the schemas.
    tool_names: list[str] = Field(default_factory=list)
    tools_digest: str | None = None
    context: dict[str, Any] = Field(default_factory=dict)
    max_tokens: int | None = None
    index_offset: int = 0
    frames: list[Frame] = Field(default_factory=list)  # publish these before streaming
    reply: ReplyDraft | None = None
    offline: bool = False  # the budget is spent: the free offline model answers
    # v6 (mcos.llm.lean): which model the call was packed for (None: before v6, the whole
    # prompt and the offline context both), the offline model's answer (then no prompt), the
    # user's text that messages and frames name, and the oldest messages to archive meanwhile.
    audience: Literal["model", "offline"] | None = None
    script: OfflineScript | None = None
    user_text: str | None = None
    archive: list[dict[str, Any]] = Field(default_factory=list)


class LlmTurnResult(BaseModel):
    text: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tokens_prompt: int = 0
    tokens_completion: int = 0
    tokens_streamed: int = 0
    status: Literal["completed", "interrupted"] = "completed"
    attempt: int = 1
    # How the generation ended, from the provider (stop/length/tool_calls/content_filter).
    finish_reason: str | None = None
    billed_tokens: int = 0  # counted against the daily budget (failed attempts included)
    frames_published: bool = True  # the input's frames reached the bus
    reply_published: bool = False  # the activity published the reply's frames
    finished_at: datetime | None = None  # the reply's created_at when it published them
    # v6: this worker's model needs the other packing (nothing was published or billed)
    needs_audience: Literal["model", "offline"] | None = None
    archived_ids: list[str] | None = None  # the input's `archive`, in SQL (None: not done)


class EraseRequest(BaseModel):
    request_id: str | None = None
    requested_at: datetime | None = None


class FlightSearchInput(BaseModel):
    user_id: str
    tool_invocation_id: str
    params: dict[str, Any]
    preferences: dict[str, Any] = Field(default_factory=dict)
    busy: list[list[str]] = Field(default_factory=list)


class FlightSearchOutput(BaseModel):
    options: list[dict[str, Any]]
    ranking: list[dict[str, Any]]
    ranked_by: Literal["llm", "scorer"] = "scorer"
    billed_tokens: int = 0  # of the ranking model, against the user's daily budget


# --- calendar sync ----------------------------------------------------------------------

# "ok", or why the sync failed: auth_error, unavailable, timeout, not_found, invalid,
# refused (an internal address), error.
CalendarSyncStatus = Literal["ok"] | ErrorType


class CalendarSource(BaseModel):
    """A connected calendar: an ICS feed (``location`` is an http(s) URL or a file path
    under the configured ICS directory) or Google Calendar over MCP (``calendar_id``)."""

    kind: Literal["ics", "google"]
    location: str | None = None
    calendar_id: str = "primary"

    @property
    def name(self) -> str:
        """The ``CalendarEvent.source`` of this source's events."""
        return self.kind


class CalendarFetchInput(BaseModel):
    user_id: str
    source: CalendarSource
    window_start: datetime
    window_end: datetime
    timeout_s: float = 60.0


class CalendarFetchOutput(BaseModel):
    status: CalendarSyncStatus = "ok"
    events: list[dict[str, Any]] = Field(default_factory=list)
    error: str | None = None


class CalendarApplyInput(BaseModel):
    """Fetched events of one source, to diff against the brain's warm calendar."""

    user_id: str
    source: str
    window_start: datetime
    window_end: datetime
    events: list[dict[str, Any]] = Field(default_factory=list)
    event_id: str  # deterministic per sync run: a retried signal is dropped as a duplicate
    request_id: str | None = None


class CalendarApplyOutput(BaseModel):
    upserts: int = 0
    deletes: int = 0
    signalled: bool = False
    event_id: str | None = None


class CalendarSyncInput(BaseModel):
    user_id: str
    source: CalendarSource
    days_back: int = 1
    days_ahead: int = 60
    fetch_timeout_s: float = 60.0


class CalendarSyncResult(BaseModel):
    """What one sync run did; the status endpoint reads it from the schedule's last run."""

    user_id: str
    source: CalendarSource
    status: CalendarSyncStatus
    synced_at: datetime
    window_start: datetime
    window_end: datetime
    fetched: int = 0
    upserts: int = 0
    deletes: int = 0
    event_id: str | None = None
    error: str | None = None


class RetentionInput(BaseModel):
    archived_message_days: int = 90


class PurgeInput(BaseModel):
    before: datetime


class RetentionResult(BaseModel):
    cutoff: datetime
    messages_deleted: int
