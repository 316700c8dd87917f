"""How the UI signs in: the auth mode, and dev tokens in dev mode."""

from __future__ import annotations

from fastapi import APIRouter

from app.deps import AppSettings
from app.errors import error_responses
from app.schemas import AuthConfig, DevToken, DevTokenIn
from mcos.infra.auth import issue_dev_token
from mcos.kernel.errors import ForbiddenError

router = APIRouter(prefix="/auth", tags=["auth"])


@router.get("/config")
async def get_auth_config(settings: AppSettings) -> AuthConfig:
    """The sign-in mode the UI should offer."""
    dev = not settings.production and settings.auth_mode == "hs256"
    return AuthConfig(mode="dev" if dev else "production", provider=settings.auth_provider)


@router.post("/dev-token", responses=error_responses((403, "not in dev mode")))
async def create_dev_token(body: DevTokenIn, settings: AppSettings) -> DevToken:
    """A dev token for any user name (dev mode only)."""
    if settings.production or settings.auth_mode != "hs256":
        raise ForbiddenError("dev tokens are only issued in dev mode")
    return DevToken(token=issue_dev_token(body.user_id, settings), user_id=body.user_id)
