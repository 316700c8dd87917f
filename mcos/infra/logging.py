"""structlog, configured once per process; contextvars carry the ids of the work."""

from __future__ import annotations

import atexit
import logging
import logging.handlers
import queue
import sys
import traceback
from typing import Any

import structlog

_configured = False
TRACEBACK_FRAMES = 8  # per exception of a chain
TRACEBACK_LINES = 60  # in all


def short_traceback(exc_info: Any) -> str:
    """A short plain traceback: the last frames of each chained exception, no local
    variables (a rich traceback with locals ran to ~11,000 lines and held the loop)."""
    if isinstance(exc_info, BaseException):
        exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
    elif not isinstance(exc_info, tuple):
        exc_info = sys.exc_info()
    if exc_info[0] is None:
        return ""
    lines = "".join(
        traceback.TracebackException(*exc_info, limit=-TRACEBACK_FRAMES).format()
    ).splitlines()
    if len(lines) > TRACEBACK_LINES:
        cut = len(lines) - TRACEBACK_LINES
        lines = [*lines[:10], f"  ... {cut} lines cut ...", *lines[-(TRACEBACK_LINES - 10) :]]
    from mcos.infra.auth import redact_text

    return redact_text("\n".join(lines))


def _render_exception(
    logger: Any, method: str, event_dict: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    exc_info = event_dict.pop("exc_info", None)
    if exc_info:
        event_dict["exception"] = short_traceback(exc_info)
    return event_dict


class _HandOff(logging.handlers.QueueHandler):
    """Hands records to the writer thread untouched: formatting and writing never run on
    the event loop (a slow terminal or a long record cannot block it)."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        return record


_listener: logging.handlers.QueueListener | None = None


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

    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _render_exception,
        redact_secrets,
    ]
    renderer = (
        structlog.processors.JSONRenderer()
        if json_logs
        else structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = build_formatter(shared, renderer)
    global _listener
    handler = logging.StreamHandler()
    handler.setFormatter(formatter)
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    _listener = logging.handlers.QueueListener(records, handler, respect_handler_level=False)
    _listener.start()
    atexit.register(_stop_listener)
    root = logging.getLogger()
    root.handlers[:] = [_HandOff(records)]
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "mcp", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _stop_listener() -> None:
    if _listener is not None:
        _listener.stop()


def flush_logs() -> None:
    """Writes out every record handed off so far (at exit; tests reading stderr)."""
    global _listener
    if _listener is not None:
        _listener.stop()
        _listener.start()


def build_formatter(
    shared: list[structlog.typing.Processor], renderer: structlog.typing.Processor
) -> logging.Formatter:
    """The formatter for stdlib records: ``extra={…}`` fields (``workflow.logger``'s among
    them) become fields of the line; Temporal's ``temporal_workflow`` /
    ``temporal_activity`` context dicts are flattened to their ids."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.ExtraAdder(), _temporal_context, *shared],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )


def _temporal_context(
    _: Any, __: str, event: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    for key in ("temporal_workflow", "temporal_activity"):
        ctx = event.pop(key, None)
        if isinstance(ctx, dict):
            for name in ("workflow_id", "run_id", "workflow_type", "activity_type"):
                if ctx.get(name) is not None:
                    event.setdefault(name, ctx[name])
    return event


def get_logger(name: str = "mcos") -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)
