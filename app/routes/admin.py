"""Operator routes: need a token with the admin claim."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from app.deps import AdminUser, Brain
from app.errors import error_responses
from mcos.infra.auth import USER_ID_RE
from mcos.kernel.contracts import Diagnostics
from mcos.kernel.errors import NotFoundError

router = APIRouter(prefix="/admin", tags=["admin"])
UserId = Annotated[str, Path(pattern=f"^{USER_ID_RE.pattern}$")]


@router.get(
    "/users/{user_id}/diagnostics",
    responses=error_responses(
        (403, "the token has no admin claim"), (404, "no brain for this user")
    ),
)
async def get_user_diagnostics(user_id: UserId, admin: AdminUser, brain: Brain) -> Diagnostics:
    """Another user's brain counters (admin only)."""
    diag = await brain.diagnostics(user_id)
    if diag is None:
        raise NotFoundError("no brain for this user")
    return diag
