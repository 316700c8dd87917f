"""SQL archive and backups (SQLModel): SQLite file by default, PostgreSQL by URL.

Every write is idempotent, so a retried activity never duplicates a row.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Column, Engine, delete, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Field, Session, SQLModel, create_engine, select


class ArchivedMessage(SQLModel, table=True):
    __tablename__ = "archived_messages"

    id: str = Field(primary_key=True, max_length=64)
    user_id: str = Field(index=True, max_length=128)
    seq: int = Field(index=True)
    role: str = Field(max_length=16)
    text: str
    created_at: datetime = Field(index=True)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class ProfileBackup(SQLModel, table=True):
    """Preferences and pinned memories, rewritten on every change (newest ``seq`` wins)."""

    __tablename__ = "profile_backups"

    user_id: str = Field(primary_key=True, max_length=128)
    seq: int
    preferences: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    memories: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    updated_at: datetime


def normalize_url(url: str) -> str:
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


@lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    url = normalize_url(url)
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
    else:
        engine = create_engine(url, pool_pre_ping=True)
    SQLModel.metadata.create_all(engine)
    return engine


def _insert(engine: Engine, table: Any) -> Any:
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def archive_messages(engine: Engine, user_id: str, messages: list[dict[str, Any]]) -> int:
    """Insert messages not archived yet; returns how many rows were new."""
    if not messages:
        return 0
    rows = [
        {
            "id": m["id"],
            "user_id": user_id,
            "seq": m.get("seq", 0),
            "role": m["role"],
            "text": m["text"],
            "created_at": _as_datetime(m["created_at"]),
            "data": {k: v for k, v in m.items() if k not in {"id", "role", "text", "created_at"}},
        }
        for m in messages
    ]
    stmt = _insert(engine, ArchivedMessage.__table__).values(rows)
    stmt = stmt.on_conflict_do_nothing(index_elements=["id"]).returning(
        ArchivedMessage.__table__.c.id
    )
    with engine.begin() as conn:
        return len(conn.execute(stmt).all())


def backup_profile(
    engine: Engine, user_id: str, seq: int, preferences: dict[str, Any], memories: list[dict]
) -> bool:
    """Upsert the backup unless a newer one (higher seq) is already stored."""
    values = {
        "user_id": user_id,
        "seq": seq,
        "preferences": preferences,
        "memories": memories,
        "updated_at": datetime.now(UTC),
    }
    table = ProfileBackup.__table__
    stmt = _insert(engine, table).values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["user_id"],
        set_={k: stmt.excluded[k] for k in ("seq", "preferences", "memories", "updated_at")},
        where=table.c.seq < stmt.excluded.seq,
    ).returning(table.c.user_id)
    with engine.begin() as conn:
        return bool(conn.execute(stmt).all())


def load_profile(engine: Engine, user_id: str) -> ProfileBackup | None:
    with Session(engine) as session:
        return session.get(ProfileBackup, user_id)


def archived_page(
    engine: Engine, user_id: str, before_seq: int | None, limit: int
) -> list[ArchivedMessage]:
    """Archived messages, newest first, with ``seq < before_seq``."""
    with Session(engine) as session:
        query = select(ArchivedMessage).where(ArchivedMessage.user_id == user_id)
        if before_seq is not None:
            query = query.where(ArchivedMessage.seq < before_seq)
        query = query.order_by(ArchivedMessage.seq.desc()).limit(limit)  # type: ignore[attr-defined]
        return list(session.exec(query).all())


def archived_seq(engine: Engine, user_id: str, message_id: str) -> int | None:
    """The ``seq`` of one of the user's archived messages (None: not theirs, or unknown)."""
    with Session(engine) as session:
        row = session.get(ArchivedMessage, message_id)
        return row.seq if row is not None and row.user_id == user_id else None


def count_archived(engine: Engine, user_id: str) -> int:
    with Session(engine) as session:
        query = select(func.count()).select_from(ArchivedMessage)
        return int(session.exec(query.where(ArchivedMessage.user_id == user_id)).one())


def delete_user(engine: Engine, user_id: str) -> int:
    with engine.begin() as conn:
        n = conn.execute(delete(ArchivedMessage).where(ArchivedMessage.user_id == user_id))
        m = conn.execute(delete(ProfileBackup).where(ProfileBackup.user_id == user_id))
    return (n.rowcount or 0) + (m.rowcount or 0)


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def purge_archived_before(engine: Engine, before: datetime) -> int:
    """Delete archived messages created before ``before`` (all users); returns the count."""
    table = ArchivedMessage.__table__
    with engine.begin() as conn:
        stmt = delete(ArchivedMessage).where(ArchivedMessage.created_at < before)  # type: ignore[arg-type]
        return len(conn.execute(stmt.returning(table.c.id)).all())
