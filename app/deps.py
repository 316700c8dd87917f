"""Dependencies as ``Annotated`` aliases; routes only declare them."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine

from app.context import AppContext
from mcos.calendar.google_accounts import GoogleAccounts
from mcos.infra.auth import Principal, extract_token
from mcos.infra.bus import RealtimeBus
from mcos.kernel.errors import AuthError, ForbiddenError
from mcos.kernel.settings import Settings
from workflows.client import BrainClient
from workflows.schedules import CalendarScheduler

USER_HEADER_RE = re.compile(r"^[A-Za-z0-9_.@:-]{1,128}$")


def get_ctx(request: Request) -> AppContext:
    return request.app.state.ctx


Ctx = Annotated[AppContext, Depends(get_ctx)]


def get_settings_dep(ctx: Ctx) -> Settings:
    return ctx.settings


async def authenticate(headers, query, ctx: AppContext) -> Principal:  # noqa: ANN001
    token = extract_token(headers, query)
    if token:
        return await ctx.verifier.averify(token)
    if ctx.settings.allow_user_header or ctx.settings.auth_mode == "off":
        user = headers.get("x-user-id")
        if user and USER_HEADER_RE.match(user):
            return Principal(user_id=user)
    raise AuthError()


# Declares the bearer token in the OpenAPI schema (each route that needs it, and /docs's
# "Authorize"); it refuses nothing itself: ``authenticate`` reads and checks the token.
bearer = HTTPBearer(
    auto_error=False,
    description="a JWT: `POST /api/v1/auth/dev-token` in dev mode, else your identity provider's",
)


async def current_user(
    request: Request,
    ctx: Ctx,
    _documented: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> Principal:
    principal = await authenticate(request.headers, {}, ctx)
    request.state.user_id = principal.user_id
    return principal


async def admin_user(principal: Annotated[Principal, Depends(current_user)]) -> Principal:
    if not principal.is_admin:
        raise ForbiddenError("admin only")
    return principal


async def get_brain(ctx: Ctx) -> BrainClient:
    return await ctx.brain()


async def get_calendar(ctx: Ctx) -> CalendarScheduler:
    return CalendarScheduler(await ctx.temporal(), ctx.settings)


def get_google(ctx: Ctx) -> GoogleAccounts:
    return GoogleAccounts(ctx.settings, ctx.engine)


def get_bus(ctx: Ctx) -> RealtimeBus:
    return ctx.bus


def get_engine_dep(ctx: Ctx) -> Engine:
    return ctx.engine


def request_id(request: Request) -> str:
    return request.state.request_id


CurrentUser = Annotated[Principal, Depends(current_user)]
AdminUser = Annotated[Principal, Depends(admin_user)]
Brain = Annotated[BrainClient, Depends(get_brain)]
Calendar = Annotated[CalendarScheduler, Depends(get_calendar)]
Google = Annotated[GoogleAccounts, Depends(get_google)]
Bus = Annotated[RealtimeBus, Depends(get_bus)]
Db = Annotated[Engine, Depends(get_engine_dep)]
RequestId = Annotated[str, Depends(request_id)]
AppSettings = Annotated[Settings, Depends(get_settings_dep)]
