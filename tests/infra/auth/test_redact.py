from __future__ import annotations

import structlog
from structlog.testing import capture_logs

from mcos.infra.auth import REDACTED, redact_secrets

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyXzEifQ.c2lnbmF0dXJl"


def test_secret_keys_masked_usage_kept() -> None:
    event = {
        "event": "llm.call",
        "authorization": "Bearer abc",
        "Authorization": "Bearer abc",
        "token": "abc",
        "access_token": "abc",
        "jwt": "abc",
        "jwt_secret": "abc",
        "api_key": "abc",
        "X-Api-Key": "abc",
        "llm_api_key": "abc",
        "password": "hunter2",
        "prompt_tokens": 12,
        "tokens": 512,
        "token_count": 3,
        "user_id": "user_1",
        "tool_name": "search_flights",
    }
    out = redact_secrets(None, "info", dict(event))
    masked = {k for k, v in out.items() if v == REDACTED}
    assert masked == {
        "authorization",
        "Authorization",
        "token",
        "access_token",
        "jwt",
        "jwt_secret",
        "api_key",
        "X-Api-Key",
        "llm_api_key",
        "password",
    }
    for kept in ("event", "prompt_tokens", "tokens", "token_count", "user_id", "tool_name"):
        assert out[kept] == event[kept]


def test_nested_and_inline_secrets() -> None:
    event = {
        "event": "http.request",
        "headers": {"Authorization": f"Bearer {JWT}", "Accept": "json"},
        "path": f"/ws?access_token={JWT}&x=1",
        "note": f"got {JWT} from client",
        "items": [{"secret": "s"}, "plain"],
    }
    out = redact_secrets(None, "info", event)
    assert out["headers"] == {"Authorization": REDACTED, "Accept": "json"}
    assert out["path"] == f"/ws?access_token={REDACTED}&x=1"
    assert out["note"] == f"got {REDACTED} from client"
    assert out["items"] == [{"secret": REDACTED}, "plain"]
    assert JWT not in repr(out)


def test_as_structlog_processor() -> None:
    with capture_logs(processors=[redact_secrets]) as logs:
        structlog.get_logger().info("login", token=JWT, user_id="u")
    assert logs == [{"event": "login", "token": REDACTED, "user_id": "u", "log_level": "info"}]
