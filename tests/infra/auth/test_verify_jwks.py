from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from mcos.infra.auth import JWKS_ALGORITHMS, TokenVerifier
from mcos.kernel.errors import AuthError, Unavailable
from mcos.kernel.settings import Settings
from tests.infra.auth.conftest import AUDIENCE, ISSUER, JwksServer, make_settings


def _settings(server: JwksServer, **overrides: Any) -> Settings:
    values = {"auth_mode": "jwks", "jwks_url": server.url, "jwt_issuer": ISSUER}
    values.update(overrides)
    return make_settings(**values)


def _claims(**overrides: Any) -> dict[str, Any]:
    claims = {"sub": "user_2", "iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 600}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _rs256(server: JwksServer, kid: str = "rsa-1", key: Any = None, **claims: Any) -> str:
    return jwt.encode(
        _claims(**claims), key or server.rsa_key, algorithm="RS256", headers={"kid": kid}
    )


def _es256(server: JwksServer, **claims: Any) -> str:
    return jwt.encode(_claims(**claims), server.ec_key, algorithm="ES256", headers={"kid": "ec-1"})


@pytest.fixture(scope="module")
def verifier(jwks_server: JwksServer) -> TokenVerifier:
    return TokenVerifier(_settings(jwks_server, jwt_audience=AUDIENCE))


def test_rs256_and_es256_accepted_and_keys_cached(
    jwks_server: JwksServer, verifier: TokenVerifier
) -> None:
    before = jwks_server.requests
    for _ in range(3):
        assert verifier.verify(_rs256(jwks_server)).user_id == "user_2"
        principal = verifier.verify(_es256(jwks_server, roles=["admin"]))
        assert principal.user_id == "user_2" and principal.is_admin
    assert jwks_server.requests - before <= 1  # one JWKS fetch, then the cache


async def test_averify(jwks_server: JwksServer, verifier: TokenVerifier) -> None:
    assert (await verifier.averify(_es256(jwks_server))).user_id == "user_2"


def _public_pem(server: JwksServer) -> bytes:
    return server.rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _hs256_with_public_key(server: JwksServer) -> str:
    """Algorithm confusion: HMAC keyed with the (public) RSA key. PyJWT refuses to build it,
    so the token is signed by hand."""
    import base64
    import hashlib
    import hmac
    import json

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}).encode())
    payload = b64(json.dumps(_claims()).encode())
    signing_input = f"{header}.{payload}".encode()
    sig = hmac.new(_public_pem(server), signing_input, hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(sig)}"


REJECTED = {
    "expired": lambda s: _rs256(s, exp=int(time.time()) - 3600),
    "wrong_audience": lambda s: _rs256(s, aud="other-api"),
    "missing_audience": lambda s: _rs256(s, aud=None),
    "wrong_issuer": lambda s: _es256(s, iss="https://evil.test/"),
    "missing_issuer": lambda s: _es256(s, iss=None),
    "missing_sub": lambda s: _rs256(s, sub=None),
    "unknown_key_same_kid": lambda s: _rs256(s, key=s.other_rsa_key),
    "unknown_kid": lambda s: _rs256(s, kid="nope", key=s.other_rsa_key),
    "hs256_with_dev_secret": lambda s: jwt.encode(_claims(), "x" * 40, algorithm="HS256"),
    "hs256_keyed_with_public_key": _hs256_with_public_key,
    # PyJWT's types want a key; an unsigned token ("none") is made with none on purpose.
    "alg_none": lambda s: jwt.encode(_claims(), None, algorithm="none"),  # type: ignore[arg-type]
}


@pytest.mark.parametrize("case", sorted(REJECTED))
def test_rejected(case: str, jwks_server: JwksServer, verifier: TokenVerifier) -> None:
    token = REJECTED[case](jwks_server)
    with pytest.raises(AuthError) as exc_info:
        verifier.verify(token)
    assert exc_info.value.message == "invalid or expired token"


def test_unknown_kids_refetch_the_jwks_at_most_once(jwks_server: JwksServer) -> None:
    verifier = TokenVerifier(_settings(jwks_server, jwt_audience=AUDIENCE))
    assert verifier.verify(_rs256(jwks_server)).user_id == "user_2"
    before = jwks_server.requests
    for i in range(5):
        with pytest.raises(AuthError):
            verifier.verify(_rs256(jwks_server, kid=f"made-up-{i}", key=jwks_server.other_rsa_key))
    assert jwks_server.requests - before == 1  # one refetch for rotation, then no more
    assert verifier.verify(_es256(jwks_server)).user_id == "user_2"


def test_no_audience_configured_accepts_tokens_without_aud(jwks_server: JwksServer) -> None:
    """Clerk-style session tokens carry no ``aud``."""
    verifier = TokenVerifier(_settings(jwks_server, jwt_audience=None))
    assert verifier.verify(_rs256(jwks_server, aud=None)).user_id == "user_2"


def test_jwks_mode_needs_url_and_issuer(jwks_server: JwksServer) -> None:
    with pytest.raises(ValueError):
        TokenVerifier(_settings(jwks_server, jwks_url=None))
    with pytest.raises(ValueError):
        TokenVerifier(_settings(jwks_server, jwt_issuer=None))
    assert set(JWKS_ALGORITHMS) == {"RS256", "ES256"}


def test_unreachable_jwks_is_unavailable_not_unauthorized(jwks_server: JwksServer) -> None:
    verifier = TokenVerifier(_settings(jwks_server, jwks_url="http://127.0.0.1:9/jwks.json"))
    with pytest.raises(Unavailable) as exc_info:
        verifier.verify(_rs256(jwks_server))
    assert exc_info.value.status == 503
