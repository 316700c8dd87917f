"""Liveness, readiness and metrics."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

from app.deps import Ctx
from app.schemas import Health, Readiness, ReadinessChecks
from mcos.infra.temporal import temporal_target

router = APIRouter(tags=["health"])


@router.get("/health")
async def get_health() -> Health:
    """Liveness: the process answers."""
    return Health()


READY_TIMEOUT_S = 3.0


@router.get(
    "/ready",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "not ready: `reasons` says why"}},
)
async def get_ready(ctx: Ctx) -> JSONResponse:
    """Readiness: Temporal reachable and a worker polling the task queue; when not ready,
    ``reasons`` says why (the address tried, the error, the task queue without pollers)."""
    checks: dict[str, bool] = {"temporal": False, "worker": False}
    reasons: dict[str, str] = {}
    target = temporal_target(ctx.settings)
    queue = ctx.settings.temporal_task_queue
    try:
        if ctx.client is None and ctx.extras.get("temporal_reason"):
            raise _NotYet(str(ctx.extras["temporal_reason"]))  # start-up still retrying
        async with asyncio.timeout(READY_TIMEOUT_S):
            client = await ctx.temporal()
            await client.service_client.check_health()
        checks["temporal"] = True
        async with asyncio.timeout(READY_TIMEOUT_S):
            described = await client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=ctx.settings.temporal_namespace,
                    task_queue=TaskQueue(name=queue),
                    task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
                )
            )
        checks["worker"] = len(described.pollers) > 0 or ctx.worker_running
        if not checks["worker"]:
            reasons["worker"] = f"no worker is polling task queue {queue!r}"
    except _NotYet as exc:
        reasons["temporal"] = str(exc)
    except TimeoutError:
        key = "worker" if checks["temporal"] else "temporal"
        reasons[key] = f"Temporal at {target} did not answer within {READY_TIMEOUT_S:.0f} s"
    except Exception as exc:  # noqa: BLE001 - readiness reports, it does not raise
        key = "worker" if checks["temporal"] else "temporal"
        cause = exc.__cause__ or exc
        reasons[key] = f"Temporal at {target}: {str(cause)[:200] or type(cause).__name__}"
    if not checks["temporal"]:
        reasons.setdefault("worker", "unknown until Temporal is reachable")
    ready = all(checks.values())
    body = Readiness(
        status="ready" if ready else "not_ready",
        checks=ReadinessChecks(**checks),
        reasons=reasons or None,
    )
    body_json = body.model_dump(mode="json", exclude_none=True)
    return JSONResponse(body_json, status_code=200 if ready else 503)


class _NotYet(Exception):
    pass


@router.get("/metrics", include_in_schema=False)
async def get_metrics() -> Response:
    """Prometheus metrics."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
