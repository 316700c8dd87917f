"""Bearer-token authentication: token extraction, verification, dev tokens, log redaction.

Framework-free: the API's ``deps`` module turns headers/query into a token with
``extract_token`` and a token into a ``Principal`` with ``TokenVerifier.verify``.

Modes (``Settings.auth_mode``):

- ``hs256``: tokens signed with ``jwt_secret`` (dev tokens from ``issue_dev_token``, or any
  backend sharing the secret). ``off`` verifies the same way: a token that is sent must be
  valid; whether one is *required* is the caller's decision.
- ``jwks``: RS256/ES256 tokens checked against the provider's JWKS (Clerk, Auth0,
  Cloudflare Access), with ``jwt_issuer`` required and ``jwt_audience`` checked when set
  (Clerk session tokens carry no ``aud``; Auth0 and Cloudflare Access tokens do, so set it).
  Symmetric algorithms are refused in this mode, so a token HMAC-signed with a public key
  (algorithm confusion) never verifies.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import jwt
import structlog

from mcos.kernel.errors import AuthError, Unavailable
from mcos.kernel.settings import Settings

log = structlog.get_logger(__name__)

USER_ID_RE = re.compile(r"[A-Za-z0-9_.@:-]{1,128}")
HS_ALGORITHMS = ("HS256",)
JWKS_ALGORITHMS = ("RS256", "ES256")
MAX_TOKEN_CHARS = 8192
CLOCK_LEEWAY_S = 30
JWKS_CACHE_S = 300  # the key set is refetched at most every 5 min, or on an unknown kid
JWKS_TIMEOUT_S = 5
JWKS_MIN_REFETCH_S = 60

_INVALID = "invalid or expired token"


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: str
    is_admin: bool = False
    claims: dict[str, Any] = field(default_factory=dict)


class TokenVerifier:
    """Verifies a bearer token into a ``Principal``; every failure is an ``AuthError``."""

    def __init__(self, settings: Settings, *, jwks_client: jwt.PyJWKClient | None = None) -> None:
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self._admin_claim = settings.jwt_admin_claim
        self._jwks: jwt.PyJWKClient | None = None
        self._secret: str | None = None
        self._last_refetch = float("-inf")
        if settings.auth_mode == "jwks":
            if not settings.jwks_url:
                raise ValueError("MCOS_AUTH_MODE=jwks needs MCOS_JWKS_URL")
            if not settings.jwt_issuer:
                raise ValueError("MCOS_AUTH_MODE=jwks needs MCOS_JWT_ISSUER")
            self._algorithms: tuple[str, ...] = JWKS_ALGORITHMS
            self._jwks = jwks_client or jwt.PyJWKClient(
                settings.jwks_url,
                cache_keys=True,
                cache_jwk_set=True,
                lifespan=JWKS_CACHE_S,
                timeout=JWKS_TIMEOUT_S,
            )
        else:
            self._algorithms = HS_ALGORITHMS
            self._secret = settings.jwt_secret

    def verify(self, token: str | None) -> Principal:
        """Check signature, ``exp``, issuer/audience and ``sub``.

        May block on a JWKS fetch (first use, key rotation): call it from a worker thread
        (a plain ``def`` FastAPI dependency) or use ``averify``.
        """
        if not token:
            raise AuthError()
        if len(token) > MAX_TOKEN_CHARS:
            raise AuthError(_INVALID)
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") not in self._algorithms:
                raise jwt.InvalidAlgorithmError("algorithm not allowed")
            key: Any = self._jwks_key(header.get("kid")) if self._jwks else self._secret
            claims = jwt.decode(
                token,
                key,
                algorithms=list(self._algorithms),
                issuer=self._issuer,
                audience=self._audience,
                leeway=CLOCK_LEEWAY_S,
                options={"require": ["exp", "sub"]},
            )
        except jwt.PyJWKClientConnectionError:
            # The provider is unreachable: not the client's fault, and a 401 would make
            # clients drop good tokens.
            log.warning("auth.jwks_unreachable")
            raise Unavailable("authentication provider unreachable") from None
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            # The reason is logged for operators; the token and its claims never are.
            log.info("auth.token_rejected", reason=type(exc).__name__)
            raise AuthError(_INVALID) from None
        sub = claims.get("sub")
        if not isinstance(sub, str) or not USER_ID_RE.fullmatch(sub):
            log.info("auth.token_rejected", reason="bad_sub")
            raise AuthError(_INVALID)
        return Principal(user_id=sub, is_admin=self._is_admin(claims), claims=claims)

    def _jwks_key(self, kid: object) -> jwt.PyJWK:
        """The JWKS key for ``kid``. An unknown kid refetches the set (key rotation) at most
        once per ``JWKS_MIN_REFETCH_S``, so tokens with made-up kids cannot make every
        request hit the provider."""
        assert self._jwks is not None
        if not isinstance(kid, str):
            raise jwt.InvalidTokenError("no kid")
        for _ in range(2):
            for key in self._jwks.get_signing_keys():
                if key.key_id == kid:
                    return key
            now = time.monotonic()
            if now - self._last_refetch < JWKS_MIN_REFETCH_S:
                break
            self._last_refetch = now
            self._jwks.get_signing_keys(refresh=True)
        raise jwt.InvalidTokenError("unknown kid")

    async def averify(self, token: str | None) -> Principal:
        """``verify`` off the event loop (the JWKS fetch is blocking urllib)."""
        return await asyncio.to_thread(self.verify, token)

    def _is_admin(self, claims: Mapping[str, Any]) -> bool:
        if claims.get(self._admin_claim) is True:
            return True
        roles = claims.get("roles")
        return isinstance(roles, list | tuple) and "admin" in roles


def extract_token(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """The bearer token of a request or WebSocket handshake, or None.

    Looked up in order:

    1. ``Authorization: Bearer <token>`` — HTTP clients.
    2. ``Cf-Access-Jwt-Assertion: <token>`` — set by Cloudflare Access in front of the app.
    3. ``Sec-WebSocket-Protocol: bearer, <token>`` — browsers cannot set headers on a
       WebSocket, but they can offer subprotocols. The server must accept with
       ``subprotocol="bearer"`` (never echo the token back).
    4. ``?access_token=<token>`` — WebSocket fallback for clients that cannot offer
       subprotocols. Trade-off: query strings end up in proxy/access logs and browser
       history, the subprotocol header does not; prefer 3. HTTP routes should pass an empty
       mapping for ``query`` so tokens are never accepted in URLs there.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    scheme, _, value = lowered.get("authorization", "").strip().partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    cf = lowered.get("cf-access-jwt-assertion", "").strip()
    if cf:
        return cf
    offered = [p.strip() for p in lowered.get("sec-websocket-protocol", "").split(",")]
    for i, proto in enumerate(offered[:-1]):
        if proto.lower() == "bearer" and offered[i + 1]:
            return offered[i + 1]
    return query.get("access_token", "").strip() or None


def issue_dev_token(
    user_id: str, settings: Settings, ttl_s: int = 7 * 24 * 3600, admin: bool = False
) -> str:
    """An HS256 token for ``user_id`` signed with ``jwt_secret`` (dev and tests only)."""
    if settings.auth_mode == "jwks":
        raise ValueError("dev tokens are HS256; the configured auth mode is jwks")
    if not USER_ID_RE.fullmatch(user_id):
        raise ValueError("user_id must match [A-Za-z0-9_.@:-]{1,128}")
    now = int(time.time())
    claims: dict[str, Any] = {"sub": user_id, "iat": now, "exp": now + int(ttl_s)}
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    if admin:
        claims[settings.jwt_admin_claim] = True
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")


# --- log redaction -------------------------------------------------------------------------

REDACTED = "[REDACTED]"
_SECRET_WORDS = frozenset(
    {"authorization", "token", "jwt", "secret", "password", "passwd", "cookie", "credentials"}
)
_SECRET_JOINED = ("apikey", "accesstoken", "refreshtoken", "idtoken", "privatekey", "setcookie")
_WORD_SPLIT = re.compile(r"[^a-z0-9]+")
# Whole JWTs and cut ones (a repr truncated mid-token still leaks its header and claims).
_JWT_RE = re.compile(r"eyJ[A-Za-z0-9_-]{5,}(?:\.[A-Za-z0-9_-]*){0,2}")
_BEARER_RE = re.compile(r"(bearer[\s,]+)[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE)
_QUERY_TOKEN_RE = re.compile(r"((?:access_)?token=)[^&\s]+", re.IGNORECASE)
_MAX_DEPTH = 4


def _is_secret_key(key: object) -> bool:
    if not isinstance(key, str):
        return False
    lowered = key.lower()
    joined = _WORD_SPLIT.sub("", lowered)
    return any(w in _SECRET_WORDS for w in _WORD_SPLIT.split(lowered)) or any(
        j in joined for j in _SECRET_JOINED
    )


def _scrub(value: Any, depth: int) -> Any:
    if isinstance(value, str):
        if "eyJ" in value:
            value = _JWT_RE.sub(REDACTED, value)
        lowered = value.lower()
        if "token=" in lowered:
            value = _QUERY_TOKEN_RE.sub(r"\1" + REDACTED, value)
        if "bearer" in lowered:
            value = _BEARER_RE.sub(r"\1" + REDACTED, value)
        return value
    if depth >= _MAX_DEPTH:
        return value
    if isinstance(value, Mapping):
        return {k: _redact_item(k, v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_scrub(v, depth + 1) for v in value)
    return value


def _redact_item(key: object, value: Any, depth: int) -> Any:
    # Numbers stay: ``tokens=512`` or ``token_count=3`` are usage, not secrets.
    if _is_secret_key(key) and value is not None and not isinstance(value, int | float):
        return REDACTED
    return _scrub(value, depth)


def redact_text(text: str) -> str:
    """``text`` with JWTs and ``access_token=`` query values masked."""
    return _scrub(text, 0)


class RedactingFilter(logging.Filter):
    """A stdlib logging filter for third-party loggers (uvicorn logs request lines, query
    strings included): the rendered message is masked before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record is left to the handler
            return True
        masked = redact_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def redact_secrets(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: masks secret-named keys (also nested, e.g. ``headers``) and
    JWTs / ``access_token=`` query values found inside any string."""
    for key in list(event_dict):
        event_dict[key] = _redact_item(key, event_dict[key], 0)
    return event_dict
