"""Google's OAuth 2.0 endpoints for a user's own calendar: authorization code with PKCE.

``authorization_url`` builds the consent link (``state``, ``code_challenge`` S256,
``access_type=offline`` so Google hands out a refresh token, read-only calendar scope);
``exchange`` trades the returned code (with the PKCE verifier) for tokens, ``refresh``
gets a fresh access token from a stored refresh token, ``revoke`` ends the grant. The
protocol is Authlib's; this module only names Google's endpoints and maps failures to
:class:`GoogleOAuthError` with a message safe to show.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import structlog
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client

from mcos.kernel.settings import Settings

log = structlog.get_logger(__name__)

FailureKind = Literal["invalid_grant", "refused", "unavailable"]
VERIFIER_BYTES = 64  # 64 characters, within PKCE's 43-128


class GoogleOAuthError(Exception):
    """``invalid_grant``: the code or refresh token is not (or no longer) good;
    ``refused``: Google answered with another OAuth error (bad client, scope…);
    ``unavailable``: the endpoint could not be reached or failed (retry later)."""

    def __init__(self, message: str, kind: FailureKind) -> None:
        super().__init__(message)
        self.message = message
        self.kind: FailureKind = kind


@dataclass(frozen=True)
class Grant:
    access_token: str
    expires_at: datetime
    refresh_token: str | None
    scope: str


@dataclass(frozen=True)
class GoogleOAuthConfig:
    client_id: str
    client_secret: str
    auth_url: str
    token_url: str
    revoke_url: str | None
    scopes: str
    timeout_s: float

    @classmethod
    def from_settings(cls, settings: Settings) -> GoogleOAuthConfig | None:
        """``None`` when this server has no Google client configured."""
        if not settings.google_client_id or settings.google_client_secret is None:
            return None
        return cls(
            client_id=settings.google_client_id,
            client_secret=settings.google_client_secret.get_secret_value(),
            auth_url=settings.google_auth_url,
            token_url=settings.google_token_url,
            revoke_url=settings.google_revoke_url,
            scopes=settings.google_scopes,
            timeout_s=settings.google_oauth_timeout_s,
        )


def new_code_verifier() -> str:
    return generate_token(VERIFIER_BYTES)


def new_state() -> str:
    return generate_token(43)


class GoogleOAuth:
    def __init__(self, config: GoogleOAuthConfig) -> None:
        self.config = config

    def _client(self, redirect_uri: str | None = None) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self.config.client_id,
            client_secret=self.config.client_secret,
            scope=self.config.scopes,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_post",
            revocation_endpoint_auth_method="client_secret_post",
            timeout=self.config.timeout_s,
            trust_env=False,
        )

    def authorization_url(self, redirect_uri: str, state: str, code_verifier: str) -> str:
        client = self._client(redirect_uri)
        url, _ = client.create_authorization_url(
            self.config.auth_url,
            state=state,
            code_verifier=code_verifier,
            access_type="offline",
            prompt="consent",  # a refresh token on every consent, not only the first
            include_granted_scopes="true",
        )
        return str(url)

    async def exchange(self, code: str, redirect_uri: str, code_verifier: str) -> Grant:
        async with self._client(redirect_uri) as client:
            token = await self._call(
                client.fetch_token(
                    self.config.token_url,
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=code_verifier,
                )
            )
        return self._grant(token)

    async def refresh(self, refresh_token: str) -> Grant:
        async with self._client() as client:
            token = await self._call(
                client.refresh_token(self.config.token_url, refresh_token=refresh_token)
            )
        grant = self._grant(token)
        if grant.refresh_token == refresh_token:
            return Grant(grant.access_token, grant.expires_at, None, grant.scope)
        return grant

    async def revoke(self, token: str) -> bool:
        """Ask Google to end the grant; ``False`` (logged) when that did not work."""
        if not self.config.revoke_url:
            return False
        try:
            async with self._client() as client:
                response = await client.revoke_token(self.config.revoke_url, token=token)
        except Exception as exc:  # noqa: BLE001 - best effort: the token is forgotten anyway
            log.warning("google revoke failed", error=type(exc).__name__)
            return False
        if response.status_code >= 400:
            log.warning("google revoke refused", status=response.status_code)
            return False
        return True

    async def _call(self, pending: Any) -> dict[str, Any]:
        try:
            token = await pending
        except OAuthError as exc:
            error = str(exc.error or "error")
            detail = f"{error}: {exc.description}" if exc.description else error
            kind: FailureKind = "invalid_grant" if error == "invalid_grant" else "refused"
            raise GoogleOAuthError(f"Google refused the request ({detail})", kind) from None
        except Exception as exc:  # noqa: BLE001 - network errors, 5xx, non-JSON answers
            raise GoogleOAuthError(
                f"Google's token endpoint failed ({type(exc).__name__})", "unavailable"
            ) from exc
        if not isinstance(token, dict) or not token.get("access_token"):
            raise GoogleOAuthError("Google's token answer has no access token", "refused")
        return dict(token)

    def _grant(self, token: dict[str, Any]) -> Grant:
        try:
            lifetime = max(0, int(token.get("expires_in") or 3600))
        except (TypeError, ValueError):
            lifetime = 3600
        return Grant(
            access_token=str(token["access_token"]),
            expires_at=datetime.now(UTC) + timedelta(seconds=lifetime),
            refresh_token=str(token["refresh_token"]) if token.get("refresh_token") else None,
            scope=str(token.get("scope") or self.config.scopes),
        )
