"""The FastAPI app: REST + WebSocket bridge, and the built chat UI at ``/``.

``uvicorn app.main:app`` serves the API alone (a worker runs elsewhere, sharing the bus
through Redis); ``mcos dev`` runs it with the worker embedded (``MCOS_EMBEDDED_WORKER``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import structlog
from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from app.context import AppContext
from app.errors import error_responses, install_error_handlers
from app.middleware import RequestContextMiddleware, StrictJsonMiddleware
from app.routes import (
    admin,
    approvals,
    auth,
    calendar,
    health,
    memory,
    messages,
    preferences,
    privacy,
    state,
    tasks,
    tools,
    travel,
    ws,
)
from mcos.infra.auth import TokenVerifier
from mcos.infra.bus import RealtimeBus
from mcos.infra.buses import make_bus
from mcos.infra.db import get_engine
from mcos.infra.logging import configure_logging
from mcos.infra.ratelimit import make_rate_limiter
from mcos.infra.temporal import connect_client
from mcos.infra.tracing import instrument_app
from mcos.kernel.frames import Frame
from mcos.kernel.settings import Settings, get_settings

log = structlog.get_logger("app")


def api_router() -> APIRouter:
    malformed = (400, "the body is not JSON (`http_error`)")
    router = APIRouter(prefix="/api/v1", responses=error_responses(malformed, 422))
    router.include_router(auth.router)  # signing in: no token, no brain
    for module in (
        messages,
        approvals,
        state,
        tasks,
        preferences,
        memory,
        calendar,
        travel,
        tools,
        ws,
        privacy,
        admin,
    ):
        router.include_router(module.router, responses=error_responses(401, 503))
    # Google's redirect back to us: no token (the consent's state and cookie say whose).
    router.include_router(calendar.callback_router, responses=error_responses(503))
    return router


def create_app(
    settings: Settings | None = None,
    *,
    bus: RealtimeBus | None = None,
    client: Any = None,
    provider: Any = None,
) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, bool(settings.log_json or settings.production))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx = AppContext(
            settings=settings,
            bus=bus or make_bus(settings.bus_url, settings.bus_buffer_frames),
            engine=get_engine(settings.sql_url),
            limiter=make_rate_limiter(settings, settings.rate_limit_url),
            verifier=TokenVerifier(settings),
            client=client,
        )
        app.state.ctx = ctx
        connecting = None
        if ctx.client is None and not settings.embedded_worker:
            connecting = asyncio.create_task(_connect_in_background(ctx))
        worker_task = None
        if settings.embedded_worker:
            from worker import build_worker
            from workflows.schedules import ensure_retention_schedule

            # The worker keeps the SDK's patient retries; the API's own client answers 503
            # quickly instead (api_retry_config).
            worker_client = client or await connect_client(settings)
            worker = build_worker(worker_client, settings, ctx.bus, ctx.engine, provider=provider)
            await ensure_retention_schedule(worker_client, settings)
            worker_task = asyncio.create_task(worker.run())
            ctx.worker_running = True
            ctx.extras["worker"] = worker
            log.info("embedded worker running", task_queue=settings.temporal_task_queue)
        try:
            yield
        finally:
            if connecting is not None:
                connecting.cancel()
            if worker_task is not None:
                await ctx.extras["worker"].shutdown()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker_task
            await ctx.limiter.aclose()
            if bus is None:
                await ctx.bus.close()

    app = FastAPI(
        title="Micro Chief of Staff",
        version="0.1.0",
        lifespan=lifespan,
        responses=error_responses(500),
    )
    app.add_middleware(StrictJsonMiddleware)  # inner: runs after the request id and size limit
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes)
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(api_router())
    _document_frames(app)
    _mount_ui(app, settings)
    instrument_app(app, settings)
    return app


def _document_frames(app: FastAPI) -> None:
    """The realtime ``Frame`` is no HTTP answer, so FastAPI leaves it out of the schema; it
    goes into the components, so the UI's frame types are checked against its names."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        missing = app.openapi_schema is None
        schema = build()
        if missing:
            frame = Frame.model_json_schema(ref_template="#/components/schemas/{model}")
            schema["components"]["schemas"].update(frame.pop("$defs", {}), Frame=frame)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


async def _connect_in_background(ctx: AppContext) -> None:
    """Start-up that waits: reach Temporal with bounded retries (logged with the address);
    until then ``/ready`` says why, and requests still try on their own (503 if down)."""
    from mcos.infra.temporal import TemporalUnreachable, api_retry_config, connect_with_retry

    def note(reason: str) -> None:
        ctx.extras["temporal_reason"] = reason

    try:
        client = await connect_with_retry(
            ctx.settings, on_error=note, retry_config=api_retry_config(ctx.settings)
        )
    except TemporalUnreachable as exc:
        log.error("API serving without Temporal; requests answer 503", reason=str(exc))
        ctx.extras.pop("temporal_reason", None)  # from now on /ready tries itself
        return
    ctx.extras.pop("temporal_reason", None)
    if ctx.client is None:
        ctx.client = client


def _mount_ui(app: FastAPI, settings: Settings) -> None:
    dist = settings.web_dist
    if not (dist / "index.html").exists():

        @app.get("/", include_in_schema=False)
        async def ui_missing() -> JSONResponse:
            return JSONResponse(
                {
                    "message": "The chat UI is not built: run `npm --prefix web ci && "
                    "npm --prefix web run build`, or start with `mcos dev`.",
                    "api": "/docs",
                }
            )

        return
    if (dist / "assets").exists():
        app.mount("/assets", StaticFiles(directory=dist / "assets"), name="assets")

    @app.get("/", include_in_schema=False)
    async def ui_index() -> FileResponse:
        return FileResponse(dist / "index.html")


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options for this API wherever it is served (``mcos api``, ``mcos dev``, the
    tests, the benchmarks): frames up to 1 MiB, permessage-deflate as configured."""
    return {"ws_max_size": 1 << 20, "ws_per_message_deflate": settings.ws_per_message_deflate}


def __getattr__(name: str) -> Any:
    # `uvicorn app.main:app` builds the app on first access, from the environment.
    if name == "app":
        return create_app()
    raise AttributeError(name)
