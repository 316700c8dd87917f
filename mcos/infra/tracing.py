"""OpenTelemetry tracing (off by default): Temporal's TracingInterceptor on the client and
worker, FastAPI's instrumentation on the API, and one root span per WebSocket frame so a
chat turn is one trace (frame → signal → workflow → LLM and tool activities → the
publishes of its frames). The brain runs each turn in the trace of the signal or update
that queued it (``workflows/tracing.py``); activities add their own spans (:func:`span`).

``MCOS_TRACING=otlp`` exports over OTLP/HTTP to ``MCOS_OTLP_ENDPOINT`` (the collector's
``/v1/traces`` URL); ``memory`` keeps spans in memory (tests read them)."""

from __future__ import annotations

from typing import Any

from mcos.kernel.settings import Settings

_provider: Any = None
_memory: Any = None


def tracer_provider(settings: Settings) -> Any:
    """The process's tracer provider for these settings (``None``: tracing is off)."""
    global _provider, _memory
    if settings.tracing == "off":
        return None
    if _provider is None:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

        provider = TracerProvider(resource=Resource.create({"service.name": "mcos"}))
        if settings.tracing == "memory":
            from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
                InMemorySpanExporter,
            )

            _memory = InMemorySpanExporter()
            provider.add_span_processor(SimpleSpanProcessor(_memory))
        else:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            provider.add_span_processor(
                BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.otlp_endpoint))
            )
        _provider = provider
    return _provider


def shutdown_tracing() -> None:
    """Exports the spans still batched (at exit; the SDK's own atexit hook may not run)."""
    if _provider is not None:
        _provider.shutdown()


def memory_exporter() -> Any:
    """The in-memory exporter (``MCOS_TRACING=memory``), or ``None``."""
    return _memory


def temporal_interceptors(settings: Settings) -> list[Any]:
    provider = tracer_provider(settings)
    if provider is None:
        return []
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return [TracingInterceptor(provider.get_tracer("temporalio"))]


def instrument_app(app: Any, settings: Settings) -> None:
    provider = tracer_provider(settings)
    if provider is None:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider)


def span(name: str, attributes: dict[str, Any]) -> Any:
    """A child span of the current one (in an activity: its ``RunActivity``), when this
    process traces; a no-op context manager otherwise."""
    if _provider is None:
        import contextlib

        return contextlib.nullcontext()
    return _provider.get_tracer("mcos").start_as_current_span(
        name, attributes={k: v for k, v in attributes.items() if v is not None}
    )


def annotate(**attributes: Any) -> None:
    """Attributes on the current span (what a frame turned out to be), if it records."""
    if _provider is None:
        return
    from opentelemetry import trace

    current = trace.get_current_span()
    for key, value in attributes.items():
        if value is not None:
            current.set_attribute(key, value)


def frame_span(settings: Settings, name: str, attributes: dict[str, Any]) -> Any:
    """A new root span for one WebSocket frame (a context manager; a no-op when off)."""
    provider = tracer_provider(settings)
    if provider is None:
        import contextlib

        return contextlib.nullcontext()
    from opentelemetry.context import Context

    return provider.get_tracer("mcos.ws").start_as_current_span(
        name, context=Context(), attributes={k: v for k, v in attributes.items() if v}
    )
