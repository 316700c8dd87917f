from __future__ import annotations

import base64
import json
import time
import warnings
from typing import Any

import jwt
import pytest
from structlog.testing import capture_logs

from mcos.infra.auth import Principal, TokenVerifier, issue_dev_token
from mcos.kernel.errors import AuthError
from tests.infra.auth.conftest import AUDIENCE, ISSUER, SECRET, make_settings


def _token(claims: dict[str, Any], key: str = SECRET, alg: str = "HS256") -> str:
    base = {"sub": "user_1", "exp": int(time.time()) + 3600}
    base.update(claims)
    return jwt.encode({k: v for k, v in base.items() if v is not None}, key, algorithm=alg)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_dev_token_round_trip() -> None:
    settings = make_settings()
    token = issue_dev_token("alice@example.com", settings)
    principal = TokenVerifier(settings).verify(token)
    assert principal == Principal("alice@example.com", False, principal.claims)
    assert principal.claims["exp"] - principal.claims["iat"] == 7 * 24 * 3600


def test_dev_token_admin_and_issuer_audience() -> None:
    settings = make_settings(jwt_issuer=ISSUER, jwt_audience=AUDIENCE)
    token = issue_dev_token("root", settings, ttl_s=60, admin=True)
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience=AUDIENCE)
    assert claims["iss"] == ISSUER and claims["mcos_admin"] is True
    assert claims["exp"] - claims["iat"] == 60
    assert TokenVerifier(settings).verify(token).is_admin is True


def test_admin_via_roles_and_not_via_truthy_string() -> None:
    verifier = TokenVerifier(make_settings())
    assert verifier.verify(_token({"roles": ["user", "admin"]})).is_admin is True
    assert verifier.verify(_token({"roles": ["user"]})).is_admin is False
    assert verifier.verify(_token({"mcos_admin": "false"})).is_admin is False


def test_off_mode_still_verifies_tokens_it_gets() -> None:
    verifier = TokenVerifier(make_settings(auth_mode="off"))
    assert verifier.verify(_token({})).user_id == "user_1"
    with pytest.raises(AuthError):
        verifier.verify(_token({}, key="wrong-secret-0123456789abcdef0123456789"))


def test_issue_dev_token_refuses_jwks_mode_and_bad_user_id() -> None:
    with pytest.raises(ValueError):
        issue_dev_token(
            "u", make_settings(auth_mode="jwks", jwks_url="http://x", jwt_issuer=ISSUER)
        )
    with pytest.raises(ValueError):
        issue_dev_token("bad user", make_settings())


_now = int(time.time())
_SCOPED = {"jwt_issuer": ISSUER, "jwt_audience": AUDIENCE}
with warnings.catch_warnings():  # HS512 with a 44-byte key: irrelevant, it must be refused
    warnings.simplefilter("ignore")
    _hs512 = _token({}, alg="HS512")

# case -> (settings overrides, token)
REJECTED: dict[str, tuple[dict[str, Any], str | None]] = {
    "empty": ({}, ""),
    "none": ({}, None),
    "garbage": ({}, "not-a-jwt"),
    "bad_signature": ({}, _token({}, key="another-secret-0123456789abcdef0123456789")),
    "tampered_payload": (
        {},
        _token({}).split(".")[0]
        + "."
        + _b64({"sub": "admin", "exp": _now + 99})
        + "."
        + _token({}).split(".")[2],
    ),
    "expired": ({}, _token({"exp": _now - 3600})),
    "no_exp": ({}, _token({"exp": None})),
    "missing_sub": ({}, _token({"sub": None})),
    "empty_sub": ({}, _token({"sub": ""})),
    "sub_with_space": ({}, _token({"sub": "a b"})),
    "sub_with_newline": ({}, _token({"sub": "abc\n"})),
    "sub_too_long": ({}, _token({"sub": "a" * 129})),
    "sub_not_string": ({}, _token({"sub": 42})),
    "aud_when_none_configured": ({}, _token({"aud": AUDIENCE})),
    "wrong_audience": (_SCOPED, _token({"iss": ISSUER, "aud": "someone-else"})),
    "missing_audience": (_SCOPED, _token({"iss": ISSUER})),
    "wrong_issuer": (_SCOPED, _token({"iss": "https://evil.test/", "aud": AUDIENCE})),
    "missing_issuer": (_SCOPED, _token({"aud": AUDIENCE})),
    "alg_none": (
        {},
        f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64({'sub': 'u', 'exp': _now + 99})}.",
    ),
    "hs512": ({}, _hs512),
    "oversized": ({}, _token({"pad": "x" * 9000})),
}


@pytest.mark.parametrize("case", sorted(REJECTED))
def test_rejected_with_generic_message(case: str) -> None:
    overrides, token = REJECTED[case]
    with capture_logs() as logs, pytest.raises(AuthError) as exc_info:
        TokenVerifier(make_settings(**overrides)).verify(token)
    err = exc_info.value
    assert err.status == 401 and err.code == "unauthorized"
    assert err.message in ("authentication required", "invalid or expired token")
    if token:
        assert token not in repr(err.to_body("req_1")) and token not in repr(logs)


def test_matching_issuer_and_audience_accepted() -> None:
    settings = make_settings(jwt_issuer=ISSUER, jwt_audience=AUDIENCE)
    token = _token({"iss": ISSUER, "aud": [AUDIENCE, "other"]})
    assert TokenVerifier(settings).verify(token).user_id == "user_1"
    with pytest.raises(AuthError):  # issuer configured: a token without iss is refused
        TokenVerifier(settings).verify(_token({"aud": AUDIENCE}))


def test_small_clock_skew_tolerated() -> None:
    token = _token({"exp": int(time.time()) - 5})
    assert TokenVerifier(make_settings()).verify(token).user_id == "user_1"
