"""IANA time zones by name, for workflow code.

This package is passed through Temporal's workflow sandbox. Inside the sandbox
``zoneinfo.ZoneInfo(...)`` returns a restricted proxy that ``datetime`` refuses as a
``tzinfo`` ("tzinfo argument must be … a tzinfo subclass"); zones built here are real.
Loading a zone reads the tz database, which is deterministic for a given deployment.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["ZoneInfoNotFoundError", "is_timezone", "zone"]


def zone(name: str) -> ZoneInfo:
    """The zone called ``name``; raises ``ZoneInfoNotFoundError``/``ValueError`` if unknown."""
    return ZoneInfo(name)


def is_timezone(name: object) -> bool:
    if not isinstance(name, str) or not name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
