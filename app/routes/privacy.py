"""The user's own account: export everything, erase everything."""

from __future__ import annotations

from fastapi import APIRouter

from app.account import erase_user, export_user
from app.deps import Ctx, CurrentUser, RequestId
from app.schemas import AccountErased, UserExport

router = APIRouter(prefix="/me", tags=["privacy"])


@router.get("/export")
async def export_me(user: CurrentUser, ctx: Ctx) -> UserExport:
    """All of the user's data: brain state, events, SQL archive, backups, schedules."""
    return await export_user(ctx, user.user_id)


@router.delete("")
async def delete_me(user: CurrentUser, ctx: Ctx, request_id: RequestId) -> AccountErased:
    """Erase the account: brain ended and its history deleted, schedules and rows removed."""
    return await erase_user(ctx, user.user_id, request_id)
