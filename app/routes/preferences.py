"""Preferences: read, and set several keys at once."""

from __future__ import annotations

import re

from fastapi import APIRouter

from app.deps import Brain, CurrentUser, RequestId
from app.errors import error_responses
from app.schemas import PreferencesPatch, PreferencesView
from mcos.kernel.errors import ValidationFailed
from mcos.kernel.models import KEY_PATTERN
from workflows.client import make_event

router = APIRouter(prefix="/preferences", tags=["preferences"])
MAX_KEYS_PER_PATCH = 20
_KEY = re.compile(KEY_PATTERN)


@router.get("")
async def get_preferences(user: CurrentUser, brain: Brain) -> PreferencesView:
    """The user's preferences."""
    return PreferencesView(preferences=(await brain.snapshot(user.user_id)).preferences)


@router.patch("", responses=error_responses(429))
async def set_preferences(
    body: PreferencesPatch, user: CurrentUser, brain: Brain, request_id: RequestId
) -> PreferencesView:
    """Set preferences: ``{"key": value}``; ``null`` removes a key."""
    items = body.items()
    if not items or len(items) > MAX_KEYS_PER_PATCH:
        raise ValidationFailed(f"send 1 to {MAX_KEYS_PER_PATCH} preferences")
    for key, value in items.items():
        if not _KEY.match(key):
            raise ValidationFailed(f"bad preference key {key[:64]!r}")
        if not isinstance(value, (str, int, float, bool, list, type(None))):
            raise ValidationFailed(f"preference {key} must be a string, number, bool or list")
        if (
            isinstance(value, str)
            and len(value) > 500
            or isinstance(value, list)
            and (len(value) > 20 or not all(isinstance(v, str) and len(v) <= 100 for v in value))
        ):
            raise ValidationFailed(f"preference {key} is too large")
    preferences: dict = {}
    for key, value in items.items():
        event = make_event("preference.set", {"key": key, "value": value}, request_id)
        result = await brain.command(user.user_id, "set_preference", event)
        preferences = result.data.get("preferences", preferences)
    return PreferencesView(preferences=preferences)
