"""Each user's own Google account: connect (consent), use (a fresh access token for one
sync), forget (and revoke).

* ``start`` makes a consent link: a random ``state`` and PKCE verifier, kept in SQL (the
  state only as a hash, the verifier encrypted) with the user, the browser key (a random
  value the API sets as a cookie on the browser that asked) and an expiry of
  ``CONSENT_TTL`` — so the callback can only finish a consent that this user started in
  this browser, once, within ten minutes.
* ``finish`` takes that row (deleting it in the same statement), exchanges the code with
  the verifier and stores the refresh token encrypted; without a refresh token, or
  without the calendar scope granted, nothing is stored.
* ``access_token`` is what a sync uses: the stored refresh token of THAT user, traded for
  an access token that the MCP server gets for one run. No connection: ``None``.
* ``forget`` deletes the row (and any consent in progress) and asks Google to revoke the
  grant, best effort.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from authlib.common.security import generate_token
from sqlalchemy import Engine

from mcos.calendar.errors import CalendarSourceError, ErrorKind
from mcos.calendar.google_oauth import (
    GoogleOAuth,
    GoogleOAuthConfig,
    GoogleOAuthError,
    Grant,
    new_code_verifier,
    new_state,
)
from mcos.infra import db
from mcos.infra.secrets import CredentialCipher, CredentialsUnreadable, credential_cipher
from mcos.kernel.errors import DomainError, Unavailable
from mcos.kernel.settings import Settings

log = structlog.get_logger(__name__)

CONSENT_TTL = timedelta(minutes=10)
CONNECT_PATH = "/api/v1/calendar/google/connect"


class ConsentFailed(DomainError):
    """The callback cannot finish a consent (400): expired, reused, another browser,
    declined, or Google refused the code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message, {"connect": CONNECT_PATH}, 400)


@dataclass(frozen=True)
class ConsentStart:
    authorization_url: str
    browser_key: str
    expires_at: datetime


@dataclass(frozen=True)
class ConsentDone:
    user_id: str
    calendar_id: str
    scope: str


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def not_configured() -> DomainError:
    return DomainError(
        "google_not_configured",
        "this server has no Google client: an operator sets MCOS_GOOGLE_CLIENT_ID and "
        "MCOS_GOOGLE_CLIENT_SECRET",
        {"settings": ["MCOS_GOOGLE_CLIENT_ID", "MCOS_GOOGLE_CLIENT_SECRET"]},
        403,  # a choice of the operator, not an outage: retrying will not help
    )


def not_connected() -> DomainError:
    return DomainError(
        "google_not_connected",
        "no Google account is connected for this user: connect one first",
        {"connect": CONNECT_PATH},
        409,
    )


FULL_CALENDAR_SCOPE = "https://www.googleapis.com/auth/calendar"


def scopes_missing(wanted: str, granted: str) -> set[str]:
    """Scopes of ``wanted`` not granted; full calendar access covers every calendar scope."""
    have = set(granted.split())
    return {
        scope
        for scope in wanted.split()
        if scope not in have
        and not (FULL_CALENDAR_SCOPE in have and scope.startswith(FULL_CALENDAR_SCOPE + "."))
    }


class GoogleAccounts:
    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        config = GoogleOAuthConfig.from_settings(settings)
        self.oauth = GoogleOAuth(config) if config else None

    def _cipher(self) -> CredentialCipher:
        return credential_cipher(self.settings)

    def _require_oauth(self) -> GoogleOAuth:
        if self.oauth is None:
            raise not_configured()
        return self.oauth

    # --- consent ---------------------------------------------------------------------

    async def start(self, user_id: str, redirect_uri: str, calendar_id: str) -> ConsentStart:
        oauth = self._require_oauth()
        cipher = self._cipher()
        state, verifier, browser_key = new_state(), new_code_verifier(), generate_token(32)
        now = int(time.time())
        expires = now + int(CONSENT_TTL.total_seconds())
        row = db.GoogleAuthorization(
            state_hash=_digest(state),
            user_id=user_id,
            browser_hash=_digest(browser_key),
            code_verifier_encrypted=cipher.encrypt(verifier),
            redirect_uri=redirect_uri,
            calendar_id=calendar_id,
            expires_at=expires,
        )
        await asyncio.to_thread(db.save_google_authorization, self.engine, row, now)
        return ConsentStart(
            authorization_url=oauth.authorization_url(redirect_uri, state, verifier),
            browser_key=browser_key,
            expires_at=datetime.fromtimestamp(expires, UTC),
        )

    async def decline(self, state: str) -> None:
        """The user said no at Google: the consent in progress is dropped."""
        await asyncio.to_thread(db.take_google_authorization, self.engine, _digest(state))

    async def finish(self, state: str, code: str, browser_key: str | None) -> ConsentDone:
        oauth = self._require_oauth()
        cipher = self._cipher()
        row = await asyncio.to_thread(db.take_google_authorization, self.engine, _digest(state))
        if row is None or row.expires_at < time.time():
            raise ConsentFailed(
                "consent_expired",
                "this Google consent link expired or was already used: connect again",
            )
        if not browser_key or not hmac.compare_digest(_digest(browser_key), row.browser_hash):
            raise ConsentFailed(
                "consent_other_browser",
                "finish the Google consent in the browser that started it: connect again",
            )
        try:
            verifier = cipher.decrypt(row.code_verifier_encrypted)
        except CredentialsUnreadable:
            raise ConsentFailed("consent_expired", "the consent can no longer be read") from None
        try:
            grant = await oauth.exchange(code, row.redirect_uri, verifier)
        except GoogleOAuthError as err:
            if err.kind == "unavailable":
                raise Unavailable(f"{err.message}; try connecting again later") from None
            raise ConsentFailed("consent_refused", err.message) from None
        if not grant.refresh_token:
            raise ConsentFailed(
                "consent_no_refresh_token",
                "Google gave no refresh token, so background syncs could not run: remove "
                "this app's access in your Google account settings, then connect again",
            )
        if scopes_missing(oauth.config.scopes, grant.scope):
            raise ConsentFailed(
                "consent_scope_missing",
                "calendar access was not granted (tick the calendar box on Google's consent "
                "screen): connect again",
            )
        await asyncio.to_thread(
            db.save_google_connection,
            self.engine,
            row.user_id,
            cipher.encrypt(grant.refresh_token),
            grant.scope,
        )
        log.info("google account connected", user_id=row.user_id)
        return ConsentDone(row.user_id, row.calendar_id, grant.scope)

    # --- use -------------------------------------------------------------------------

    async def connection(self, user_id: str) -> db.GoogleConnection | None:
        return await asyncio.to_thread(db.load_google_connection, self.engine, user_id)

    async def access_token(self, user_id: str) -> Grant | None:
        """A fresh access token from ``user_id``'s own grant; ``None`` without one. Raises
        ``CalendarSourceError`` (``auth``: revoked or unreadable, reconnect; ``unavailable``:
        Google's token endpoint failed, retry)."""
        row = await self.connection(user_id)
        if row is None:
            return None
        if self.oauth is None:
            raise CalendarSourceError(
                "this server has no Google client configured any more", kind="auth", source="google"
            )
        try:
            cipher = self._cipher()
            refresh_token = cipher.decrypt(row.refresh_token_encrypted)
        except (CredentialsUnreadable, Unavailable):
            raise CalendarSourceError(
                "the stored Google authorization cannot be read with this server's key: "
                "connect Google again",
                kind="auth",
                source="google",
            ) from None
        try:
            grant = await self.oauth.refresh(refresh_token)
        except GoogleOAuthError as err:
            kind: ErrorKind = "unavailable" if err.kind == "unavailable" else "auth"
            hint = "" if kind == "unavailable" else " (revoked or expired): connect Google again"
            raise CalendarSourceError(f"{err.message}{hint}", kind=kind, source="google") from None
        rotated = cipher.encrypt(grant.refresh_token) if grant.refresh_token else None
        await asyncio.to_thread(db.record_google_refresh, self.engine, user_id, rotated)
        return grant

    # --- forget ----------------------------------------------------------------------

    async def forget(self, user_id: str) -> tuple[bool, bool]:
        """``(a grant was forgotten, Google confirmed the revocation)``."""
        row = await asyncio.to_thread(db.delete_google_connection, self.engine, user_id)
        if row is None:
            return False, False
        log.info("google account forgotten", user_id=user_id)
        if self.oauth is None:
            return True, False
        try:
            token = self._cipher().decrypt(row.refresh_token_encrypted)
        except (CredentialsUnreadable, Unavailable):
            return True, False
        return True, await self.oauth.revoke(token)
