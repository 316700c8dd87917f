"""Liveness, readiness and metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

from app.deps import Ctx

router = APIRouter(tags=["health"])


@router.get("/health")
async def get_health() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/ready")
async def get_ready(ctx: Ctx) -> JSONResponse:
    """Readiness: Temporal reachable and a worker polling the task queue."""
    checks: dict[str, bool] = {"temporal": False, "worker": False}
    try:
        client = await ctx.temporal()
        await client.service_client.check_health()
        checks["temporal"] = True
        described = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=ctx.settings.temporal_namespace,
                task_queue=TaskQueue(name=ctx.settings.temporal_task_queue),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            )
        )
        checks["worker"] = len(described.pollers) > 0 or ctx.worker_running
    except Exception:  # noqa: BLE001 - readiness reports, it does not raise
        pass
    ready = all(checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks},
        status_code=200 if ready else 503,
    )


@router.get("/metrics", include_in_schema=False)
async def get_metrics() -> Response:
    """Prometheus metrics."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
