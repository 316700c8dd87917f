"""SQL archive and backups (SQLModel): SQLite file by default, PostgreSQL by URL.

Every write is idempotent, so a retried activity never duplicates a row.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Column, Engine, Table, delete, func, text
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


class ArchivedTask(SQLModel, table=True):
    """Tasks that left the brain: completed over a year ago, or past the tasks cap."""

    __tablename__ = "archived_tasks"

    id: str = Field(primary_key=True, max_length=64)
    user_id: str = Field(index=True, max_length=128)
    title: str
    status: str = Field(max_length=16)
    updated_at: datetime | None = Field(default=None, index=True)
    archived_at: datetime
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class ProfileBackup(SQLModel, table=True):
    """Preferences and pinned memories, rewritten on every change (newest ``seq`` wins)."""

    __tablename__ = "profile_backups"

    user_id: str = Field(primary_key=True, max_length=128)
    seq: int
    preferences: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    memories: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    updated_at: datetime


class GoogleConnection(SQLModel, table=True):
    """A user's own Google Calendar grant. The refresh token is stored only encrypted
    (``mcos.infra.secrets``): the row alone reads nothing."""

    __tablename__ = "google_connections"

    user_id: str = Field(primary_key=True, max_length=128)
    refresh_token_encrypted: str
    scope: str = Field(max_length=2048)
    connected_at: datetime
    refreshed_at: datetime | None = None


class GoogleAuthorization(SQLModel, table=True):
    """A consent in progress: single use, short-lived, bound to one user and one browser.
    Keys are hashes, so the table alone cannot finish anyone's consent."""

    __tablename__ = "google_authorizations"

    state_hash: str = Field(primary_key=True, max_length=64)
    user_id: str = Field(index=True, max_length=128)
    browser_hash: str = Field(max_length=64)
    code_verifier_encrypted: str
    redirect_uri: str = Field(max_length=2048)
    calendar_id: str = Field(max_length=256)
    expires_at: int = Field(index=True)  # unix seconds


def normalize_url(url: str) -> str:
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


SCHEMA_LOCK_KEY = 0x6D636F73  # "mcos": the advisory lock held while creating the tables


@lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    url = normalize_url(url)
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        SQLModel.metadata.create_all(engine)
        return engine
    engine = create_engine(url, pool_pre_ping=True)
    # Several APIs and workers start at once on a fresh database (a deploy, compose): one at
    # a time creates the tables, or the others fail on PostgreSQL's catalog unique index.
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
        SQLModel.metadata.create_all(conn)
    return engine


def _table(model: type[SQLModel]) -> Table:
    return model.__table__  # type: ignore[attr-defined]


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
    stmt = _insert(engine, _table(ArchivedMessage)).values(rows)
    stmt = stmt.on_conflict_do_nothing(index_elements=["id"]).returning(
        _table(ArchivedMessage).c.id
    )
    with engine.begin() as conn:
        return len(conn.execute(stmt).all())


def archive_tasks(engine: Engine, user_id: str, tasks: list[dict[str, Any]]) -> int:
    """Insert tasks not archived yet (a retried activity adds nothing); how many were new."""
    if not tasks:
        return 0
    now = datetime.now(UTC)
    rows = [
        {
            "id": t["id"],
            "user_id": user_id,
            "title": t["title"],
            "status": t.get("status", "open"),
            "updated_at": _as_datetime(t["updated_at"]) if t.get("updated_at") else None,
            "archived_at": now,
            "data": t,
        }
        for t in tasks
    ]
    stmt = _insert(engine, _table(ArchivedTask)).values(rows)
    stmt = stmt.on_conflict_do_nothing(index_elements=["id"]).returning(_table(ArchivedTask).c.id)
    with engine.begin() as conn:
        return len(conn.execute(stmt).all())


def archived_tasks(engine: Engine, user_id: str, limit: int = 200) -> list[dict[str, Any]]:
    """The user's archived tasks, most recently changed first."""
    with Session(engine) as session:
        query = (
            select(ArchivedTask)
            .where(ArchivedTask.user_id == user_id)
            .order_by(ArchivedTask.updated_at.desc())  # type: ignore[union-attr]
            .limit(limit)
        )
        return [{**row.data, "archived": True} for row in session.exec(query).all()]


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
    table = _table(ProfileBackup)
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
    deleted = 0
    with engine.begin() as conn:
        for model in (
            ArchivedMessage,
            ArchivedTask,
            ProfileBackup,
            GoogleConnection,
            GoogleAuthorization,
        ):
            table = _table(model)
            deleted += conn.execute(delete(table).where(table.c.user_id == user_id)).rowcount or 0
    return deleted


# --- Google connections ---------------------------------------------------------------


def save_google_authorization(engine: Engine, row: GoogleAuthorization, now: int) -> None:
    """Store a consent in progress; the user's earlier ones and expired ones go."""
    table = _table(GoogleAuthorization)
    stale = (table.c.user_id == row.user_id) | (table.c.expires_at < now)
    with engine.begin() as conn:
        conn.execute(delete(table).where(stale))
        conn.execute(table.insert().values(row.model_dump()))


def take_google_authorization(engine: Engine, state_hash: str) -> GoogleAuthorization | None:
    """The consent in progress for ``state_hash``, removed in the same statement: a second
    callback with the same state finds nothing."""
    table = _table(GoogleAuthorization)
    stmt = delete(table).where(table.c.state_hash == state_hash).returning(*table.c)
    with engine.begin() as conn:
        found = conn.execute(stmt).mappings().first()
    return GoogleAuthorization(**found) if found else None


def save_google_connection(
    engine: Engine, user_id: str, refresh_token_encrypted: str, scope: str
) -> None:
    now = datetime.now(UTC)
    values = {
        "user_id": user_id,
        "refresh_token_encrypted": refresh_token_encrypted,
        "scope": scope,
        "connected_at": now,
        "refreshed_at": None,
    }
    table = _table(GoogleConnection)
    stmt = _insert(engine, table).values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["user_id"],
        set_={k: stmt.excluded[k] for k in values if k != "user_id"},
    )
    with engine.begin() as conn:
        conn.execute(stmt)


def load_google_connection(engine: Engine, user_id: str) -> GoogleConnection | None:
    with Session(engine) as session:
        return session.get(GoogleConnection, user_id)


def record_google_refresh(
    engine: Engine, user_id: str, refresh_token_encrypted: str | None
) -> None:
    """Note a successful refresh (and store the new refresh token if Google rotated it)."""
    table = _table(GoogleConnection)
    values: dict[str, Any] = {"refreshed_at": datetime.now(UTC)}
    if refresh_token_encrypted:
        values["refresh_token_encrypted"] = refresh_token_encrypted
    with engine.begin() as conn:
        conn.execute(table.update().where(table.c.user_id == user_id).values(values))


def delete_google_connection(engine: Engine, user_id: str) -> GoogleConnection | None:
    """Forget the user's grant; the row it was (to revoke its token), or ``None``."""
    table = _table(GoogleConnection)
    stmt = delete(table).where(table.c.user_id == user_id).returning(*table.c)
    with engine.begin() as conn:
        found = conn.execute(stmt).mappings().first()
        conn.execute(
            delete(_table(GoogleAuthorization)).where(
                _table(GoogleAuthorization).c.user_id == user_id
            )
        )
    return GoogleConnection(**found) if found else None


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def purge_archived_before(engine: Engine, before: datetime) -> int:
    """Delete archived messages created before ``before`` (all users); returns the count."""
    table = _table(ArchivedMessage)
    with engine.begin() as conn:
        stmt = delete(ArchivedMessage).where(ArchivedMessage.created_at < before)  # type: ignore[arg-type]
        return len(conn.execute(stmt.returning(table.c.id)).all())
