"""SQL archival and preference/memory backups. Idempotent: retries never duplicate rows."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from sqlalchemy import Engine
from temporalio import activity

from mcos.infra import db
from mcos.infra.metrics import MESSAGES_ARCHIVED
from mcos.kernel.contracts import (
    ArchiveInput,
    ArchiveResult,
    BackupInput,
    PurgeInput,
    TaskArchiveInput,
)

log = structlog.get_logger(__name__)


class SqlActivities:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @activity.defn(name="archive_messages")
    async def archive_messages(self, inp: ArchiveInput) -> ArchiveResult:
        inserted = await self.archive(inp.user_id, inp.messages)
        return ArchiveResult(archived_ids=[m["id"] for m in inp.messages], inserted=inserted)

    async def archive(self, user_id: str, messages: list[dict[str, Any]]) -> int:
        """Insert messages not archived yet (also what the LLM activity archives a turn's
        oldest messages with, v6); how many rows were new."""
        inserted = await asyncio.to_thread(db.archive_messages, self.engine, user_id, messages)
        MESSAGES_ARCHIVED.inc(inserted)
        log.info("messages archived", user_id=user_id, count=len(messages), inserted=inserted)
        return inserted

    @activity.defn(name="archive_tasks")
    async def archive_tasks(self, inp: TaskArchiveInput) -> ArchiveResult:
        inserted = await asyncio.to_thread(db.archive_tasks, self.engine, inp.user_id, inp.tasks)
        log.info("tasks archived", user_id=inp.user_id, count=len(inp.tasks), inserted=inserted)
        return ArchiveResult(archived_ids=[t["id"] for t in inp.tasks], inserted=inserted)

    @activity.defn(name="backup_profile")
    async def backup_profile(self, inp: BackupInput) -> bool:
        return await asyncio.to_thread(
            db.backup_profile, self.engine, inp.user_id, inp.seq, inp.preferences, inp.memories
        )

    @activity.defn(name="purge_archive")
    async def purge_archive(self, inp: PurgeInput) -> int:
        deleted = await asyncio.to_thread(db.purge_archived_before, self.engine, inp.before)
        log.info("archive purged", before=inp.before.isoformat(), deleted=deleted)
        return deleted
