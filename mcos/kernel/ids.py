"""Prefixed UUIDv7 identifiers (``evt_…``, ``req_…``) shared by every layer."""

from __future__ import annotations

import re

import uuid_utils

PREFIXES = ("req", "evt", "op", "tool", "msg", "task", "mem", "fs", "cal", "apr")
ID_PATTERN = rf"^({'|'.join(PREFIXES)})_[0-9a-f]{{32}}$"
_ID_RE = re.compile(ID_PATTERN)


def new_id(prefix: str) -> str:
    """A new prefixed UUIDv7 (time-ordered) id. Not for workflow code: see ``workflow_id``."""
    if prefix not in PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    return f"{prefix}_{uuid_utils.uuid7().hex}"


def id_from_parts(prefix: str, unix_ms: int, rand: int) -> str:
    """A UUIDv7 built from a timestamp and 74 random bits: deterministic inside a workflow."""
    value = (unix_ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return f"{prefix}_{value:032x}"


def is_id(value: str, prefix: str | None = None) -> bool:
    if not _ID_RE.match(value):
        return False
    return prefix is None or value.startswith(prefix + "_")
