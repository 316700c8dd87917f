"""Prometheus metrics (served at ``/metrics``); names as in the observability spec."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

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
