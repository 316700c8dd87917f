"""Prometheus metrics (served at ``/metrics``); names as in the observability spec.

Workflow code never touches these (it is replayed): what the brain does is counted where a
process observes it — the frames an activity puts on the bus (:func:`frames_published`:
messages created, state tools run, rate-limit refusals), the duplicates the brain reports
with a publish (v6), the API's own refusals and look-ups.
"""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import Counter, Gauge, Histogram

from mcos.kernel.frames import Frame

LLM_TTFT = Histogram(
    "llm_time_to_first_token_seconds",
    "Time from the LLM activity start to its first token",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
LLM_TOKENS = Counter("llm_tokens_total", "LLM tokens", ["kind"])
LLM_FAILURES = Counter("llm_failures_total", "LLM attempts that failed")
TOOL_INVOCATIONS = Counter("tool_invocations_total", "Tool calls", ["tool", "status"])
TOOL_LATENCY = Histogram("tool_latency_seconds", "Tool call latency", ["tool"])
DUPLICATES_DROPPED = Counter("duplicate_events_dropped_total", "Duplicate events dropped")
MESSAGES_CREATED = Counter("messages_created_total", "Messages accepted", ["role"])
MESSAGES_ARCHIVED = Counter("messages_archived_total", "Messages archived to SQL")
REALTIME_FRAMES_PUBLISHED = Counter("realtime_frames_published_total", "Frames put on the bus")
REALTIME_FRAMES_SENT = Counter("realtime_frames_sent_total", "Frames sent to WebSocket clients")
WS_CONNECTIONS = Gauge("ws_connections", "Open WebSocket connections")
RATE_LIMIT_REJECTIONS = Counter(
    "rate_limit_rejections_total", "Requests refused by a limit", ["limit_type"]
)
CALENDAR_SYNCS = Counter("calendar_sync_total", "Calendar sync runs", ["status"])
# Counted by the activity that runs it, which sees timeouts and rate limits (state tools
# run in the workflow and are counted from their `tool.result` frames).
ACTIVITY_TOOLS = frozenset({"search_flights"})


def frames_published(frames: Sequence[Frame]) -> None:
    """Count frames that reached the bus (each once: the bus drops repeated keys) and what
    they show happened in the brain."""
    REALTIME_FRAMES_PUBLISHED.inc(len(frames))
    for frame in frames:
        data = frame.data
        if frame.type == "message.created":
            MESSAGES_CREATED.labels(role=str(data.get("role") or "unknown")).inc()
        elif frame.type == "tool.result" and data.get("tool") not in ACTIVITY_TOOLS:
            tool, status = str(data.get("tool") or "unknown"), str(data.get("status") or "")
            TOOL_INVOCATIONS.labels(tool=tool, status=status).inc()
        elif frame.type == "rate_limited":
            error = data.get("error")
            details = error.get("details") if isinstance(error, dict) else None
            limit = details.get("limit_type") if isinstance(details, dict) else None
            RATE_LIMIT_REJECTIONS.labels(limit_type=str(limit or "")).inc()
