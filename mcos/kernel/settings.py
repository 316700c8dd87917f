"""The one settings object (env prefix ``MCOS_``), built once and imported."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Literal

from cryptography.fernet import Fernet
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "mcos-dev-secret-change-me-0123456789abcdef"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MCOS_", env_file=".env", extra="ignore")

    env: Literal["dev", "production"] = "dev"
    data_dir: Path = Path("data")

    # Temporal
    temporal_address: str | None = None  # None: `mcos dev` starts its own dev server
    temporal_namespace: str = "default"
    temporal_task_queue: str = "micro-cos"
    temporal_tls: bool = False
    temporal_api_key: str | None = None
    temporal_dev_port: int = 7233
    temporal_search_attributes: bool = False  # set by `mcos dev`, which registers them
    temporal_ui_port: int = 8233
    # API calls to Temporal: a query/signal/describe gives up after this (503), and the
    # client's own retries of an unreachable server stop after temporal_api_retry_ms.
    temporal_rpc_timeout_s: float = 10.0
    temporal_update_timeout_s: float = 30.0
    temporal_api_retry_ms: int = 1200
    # Start-up: the worker and the API keep trying to reach Temporal this long (logged with
    # the address, backing off up to 5 s); then the worker exits non-zero (to be restarted).
    temporal_connect_timeout_s: float = Field(default=120.0, ge=0)

    # Worker
    # SIGTERM: stop polling, let running activities finish this long; an LLM reply still
    # running then fails retryably and another worker answers it again (`llm.restarted`).
    worker_graceful_shutdown_s: float = Field(default=20.0, ge=0)
    # the standalone worker's GET /health (compose checks it) and GET /metrics (Prometheus)
    worker_health_port: int | None = None

    # API
    host: str = "127.0.0.1"
    port: int = 8000
    embedded_worker: bool = False  # run the worker inside the API process (`mcos dev`)
    max_body_bytes: int = 65536
    # SIGTERM: WebSockets are closed at once with 1012 (the UI reconnects, to another API);
    # HTTP requests in flight get this long to finish.
    api_graceful_shutdown_s: int = Field(default=10, ge=0)
    # permessage-deflate on the WebSocket: off, as Node's `ws` server has it by default. Its
    # zlib state was ~41 KB of each idle connection's ~91 KB (bench.perf idle, 1,000
    # sockets), and a token frame is a few hundred bytes, too small to gain from it.
    ws_per_message_deflate: bool = False

    # Storage and realtime
    database_url: str | None = None  # None: sqlite file under data_dir
    bus_url: str = "memory"  # "memory" or redis://...
    bus_buffer_frames: int = 2000
    rate_limit_url: str | None = None  # redis://… to share the message window across APIs
    # Redis unreachable: "local" counts each API process's own window meanwhile (chat goes
    # on; N processes admit at most N times the limit), "refuse" answers 503.
    rate_limit_redis_down: Literal["local", "refuse"] = "local"

    # Brain
    brain_message_limit: int = 100
    brain_event_window: int = 1000
    brain_event_window_days: int = 30
    brain_dedup_size: int = 1000
    brain_continue_as_new_events: int = 2000
    brain_continue_as_new_bytes: int = Field(default=400_000, ge=100_000, le=1_500_000)
    brain_tasks_cap: int = 500
    brain_chat_replies: bool = True
    brain_interrupt_on_new_message: bool = False  # kept: the same as double_texting=interrupt
    brain_double_texting: Literal["queue", "interrupt", "merge", "reject"] = "queue"
    brain_merge_window_ms: int = Field(default=1500, ge=0, le=60_000)
    brain_approval_ttl_s: float = Field(default=24 * 3600, gt=0)  # then approval.expired
    default_timezone: str = "UTC"
    llm_heartbeat_timeout_s: float = 15.0
    llm_max_attempts: int = 3

    # Retention
    retention_archived_message_days: int = 90

    # LLM
    llm_provider: Literal["offline", "openai", "local"] = "offline"
    llm_base_url: str = "https://api.cloudflare.com/client/v4/accounts/ACCOUNT_ID/ai/v1"
    llm_api_key: str | None = None
    llm_model: str = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
    llm_temperature: float = 0.4
    llm_top_p: float = 0.9
    llm_max_tokens: int = 1024
    llm_timeout_s: float = 60.0
    offline_token_delay_ms: float = 15.0
    # The local provider: llama.cpp's server (PyPI xllamacpp) as a child process. Set by
    # `mcos dev`/`worker.py` once started; set it yourself to use a server already running.
    llm_local_url: str | None = None
    llm_local_model_path: Path | None = None  # None: the pinned model in llm_local_model_dir
    llm_local_model_sha256: str | None = None  # pin for a model of your own (checked at start)
    llm_local_model_dir: Path = Field(
        default=Path(__file__).resolve().parents[2] / ".cache" / "models"
    )
    llm_local_model_alias: str = "local"
    # None: the bundled ChatML+tools template for the pinned model, the GGUF's own otherwise.
    llm_local_chat_template: Path | None = None
    llm_local_ctx: int = Field(default=8192, ge=256)
    llm_local_threads: int | None = None  # None: every core but one
    llm_local_parallel: int = Field(default=1, ge=1)
    llm_local_start_timeout_s: float = 120.0

    # Auth
    auth_mode: Literal["off", "hs256", "jwks"] = "hs256"
    jwt_secret: str = DEV_JWT_SECRET
    auth_provider: Literal["clerk", "auth0", "cloudflare"] | None = None
    jwks_url: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_admin_claim: str = "mcos_admin"
    allow_user_header: bool = False  # X-User-Id names the user when no token (dev/tests only)

    # Limits
    limit_messages_per_minute: int = 60
    limit_tokens_per_day: int = 100_000
    limit_flight_searches_per_day: int = 10
    limit_writes_per_day: int = 1000
    limit_ws_frames_per_minute: int = 1000
    limit_message_bytes: int = Field(default=8192, ge=1, le=8192)  # ≤ the wire cap (MAX_TEXT_BYTES)

    # Tools
    flights_mcp_command: str | None = None  # None: the bundled server over stdio
    flights_mcp_url: str | None = None
    duffel_api_key: str | None = None
    tool_timeout_s: float = 20.0

    # Calendar sync
    calendar_sync_interval_minutes: int = Field(default=15, ge=1)
    calendar_days_back: int = Field(default=1, ge=0)
    calendar_days_ahead: int = Field(default=60, ge=0, le=366)
    calendar_fetch_timeout_s: float = 60.0  # the first `npx -y` run downloads the package
    # ICS file paths are only read under this directory (None: data_dir/calendars); the API
    # never lets a remote user name an arbitrary server file. URLs must be http(s).
    calendar_ics_dir: Path | None = None
    # Addresses a fetch of a user-named URL (ICS feeds) may reach although they are internal
    # (loopback, private, link-local…), as CIDRs. None: loopback in dev, nothing in production.
    fetch_allowed_networks: list[str] | None = None
    # The version scripts/gcal-mcp/package-lock.json pins (tests/deploy/test_lock.py).
    google_calendar_mcp_command: str = "npx -y @cocal/google-calendar-mcp@2.6.3"
    google_calendar_mcp_env: dict[str, str] = Field(default_factory=dict)  # JSON in the env
    # Per-user Google connections (OAuth 2.0 authorization code + PKCE, a web client).
    google_client_id: str | None = None
    google_client_secret: SecretStr | None = None
    google_auth_url: str = "https://accounts.google.com/o/oauth2/v2/auth"
    google_token_url: str = "https://oauth2.googleapis.com/token"
    google_revoke_url: str | None = "https://oauth2.googleapis.com/revoke"
    google_scopes: str = "https://www.googleapis.com/auth/calendar.readonly"
    google_redirect_url: str | None = None  # None: this API's own callback URL
    google_connected_url: str = "/"  # where the browser goes after a successful consent
    google_oauth_timeout_s: float = Field(default=20.0, gt=0)
    # Single-user mode: this one user's Google syncs run with the operator's own MCP
    # credentials (below); nobody else ever uses them.
    google_single_user: str | None = None
    google_oauth_credentials: str | None = None  # path passed as GOOGLE_OAUTH_CREDENTIALS
    # Fernet keys (comma-separated, the first encrypts) for credentials stored in SQL. Dev
    # without one: a key file under data_dir; production refuses to store without one.
    credentials_key: SecretStr | None = None

    log_json: bool | None = None  # None: JSON in production, console in dev
    log_level: str = "INFO"
    tracing: Literal["off", "memory", "otlp"] = "off"  # OpenTelemetry (mcos.infra.tracing)
    otlp_endpoint: str | None = None  # OTLP/HTTP traces URL; None: the exporter's default

    web_dist: Path = Field(default=Path(__file__).resolve().parents[2] / "web" / "dist")

    @property
    def sql_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'mcos.infra.db').as_posix()}"

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def ics_dir(self) -> Path:
        return self.calendar_ics_dir or self.data_dir / "calendars"

    @property
    def credential_keys(self) -> list[str]:
        raw = self.credentials_key.get_secret_value() if self.credentials_key else ""
        return [k.strip() for k in raw.split(",") if k.strip()]

    @field_validator("fetch_allowed_networks")
    @classmethod
    def _networks(cls, value: list[str] | None) -> list[str] | None:
        for network in value or []:
            ipaddress.ip_network(network, strict=False)  # ValueError names the bad one
        return value

    @field_validator("credentials_key")
    @classmethod
    def _fernet_keys(cls, value: SecretStr | None) -> SecretStr | None:
        for key in (value.get_secret_value() if value else "").split(","):
            if key.strip():
                try:
                    Fernet(key.strip())
                except ValueError:
                    raise ValueError(
                        "MCOS_CREDENTIALS_KEY must be Fernet keys (32 url-safe base64 bytes)"
                    ) from None
        return value

    @model_validator(mode="after")
    def _refuse_insecure_production(self) -> Settings:
        if self.google_client_id and not self.google_client_secret:
            raise ValueError("MCOS_GOOGLE_CLIENT_ID needs MCOS_GOOGLE_CLIENT_SECRET")
        if self.env == "production":
            if self.google_client_id and not self.credential_keys:
                raise ValueError(
                    "Google connections need MCOS_CREDENTIALS_KEY in production "
                    "(refresh tokens are stored encrypted)"
                )
            if self.auth_mode == "off":
                raise ValueError("MCOS_AUTH_MODE=off is refused in production")
            if self.auth_mode == "hs256" and self.jwt_secret == DEV_JWT_SECRET:
                raise ValueError("the dev JWT secret is refused in production: set MCOS_JWT_SECRET")
            if self.allow_user_header:
                raise ValueError("MCOS_ALLOW_USER_HEADER must be false in production")
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
