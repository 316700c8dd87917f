"""structlog, configured once per process; contextvars carry the ids of the work."""

from __future__ import annotations

import logging
import sys

import structlog

_configured = False


def configure_logging(level: str = "INFO", json_logs: bool = False) -> None:
    global _configured
    if _configured:
        return
    _configured = True
    from mcos.infra.auth import RedactingFilter, redact_secrets

    # Filters on the originating loggers run before every handler (tests' ones included).
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "websockets.server"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())

    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
    ]
    renderer = (
        structlog.processors.JSONRenderer()
        if json_logs
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = build_formatter(shared, renderer)
    handler = logging.StreamHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "mcp", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def build_formatter(shared: list, renderer: object) -> logging.Formatter:
    """The formatter for stdlib records: ``extra={…}`` fields (``workflow.logger``'s among
    them) become fields of the line; Temporal's ``temporal_workflow`` /
    ``temporal_activity`` context dicts are flattened to their ids."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.ExtraAdder(), _temporal_context, *shared],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )


def _temporal_context(_: object, __: str, event: dict) -> dict:
    for key in ("temporal_workflow", "temporal_activity"):
        ctx = event.pop(key, None)
        if isinstance(ctx, dict):
            for name in ("workflow_id", "run_id", "workflow_type", "activity_type"):
                if ctx.get(name) is not None:
                    event.setdefault(name, ctx[name])
    return event


def get_logger(name: str = "mcos") -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)
