"""Who may call what: every route needs a valid token, nobody reaches another user's data."""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt
import pytest
import websockets
from fastapi import FastAPI
from temporalio.client import Client
from websockets.typing import Subprotocol

from mcos.infra.auth import issue_dev_token
from mcos.kernel.settings import Settings
from tests.app.conftest import Api, running_api
from tests.conftest import user_id

PUBLIC = {
    "/health",
    "/ready",
    "/metrics",
    "/api/v1/auth/config",
    "/api/v1/auth/dev-token",
    # Google's redirect back carries no bearer token: the single-use state (bound to the
    # user and the browser) is its authorization (tests/app/test_google_connect.py).
    "/api/v1/calendar/google/callback",
}
SAMPLE_PATH_VALUES = {
    "task_id": "task_" + "0" * 32,
    "memory_id": "mem_" + "0" * 32,
    "user_id": "someone",
    "search_id": "fs_" + "0" * 32,
    "flight_id": "off_0",
    "message_id": "msg_" + "0" * 32,
    "approval_id": "apr_" + "0" * 32,
}


def _protected_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every REST operation of the OpenAPI schema under ``/api/v1`` but the public ones."""
    routes = []
    for path, ops in app.openapi()["paths"].items():
        if not path.startswith("/api/v1") or path in PUBLIC:
            continue
        concrete = path
        for name, value in SAMPLE_PATH_VALUES.items():
            concrete = concrete.replace("{" + name + "}", value)
        assert "{" not in concrete, f"add a sample value for {path}"
        routes += [
            (m.upper(), concrete)
            for m in sorted(ops)
            if m in ("get", "post", "put", "patch", "delete")
        ]
    return routes


def _token(
    settings: Settings,
    user: str,
    *,
    key: str | None = None,
    exp: int | None = None,
    aud: str | None = None,
    **extra: Any,
) -> str:
    now = int(time.time())
    claims = {"sub": user, "iat": now, "exp": exp if exp is not None else now + 600, **extra}
    if aud is not None:
        claims["aud"] = aud
    return jwt.encode(claims, key or settings.jwt_secret, algorithm="HS256")


async def _seq(http: httpx.AsyncClient) -> int:
    return (await http.get("/api/v1/state")).json()["seq"]


async def test_every_api_route_refuses_a_missing_or_bad_token(api: Api, user: str) -> None:
    routes = _protected_routes(api.app)
    assert len(routes) >= 12
    bad = {
        "none": {},
        "garbage": {"Authorization": "Bearer not-a-jwt"},
        "bad signature": {"Authorization": f"Bearer {_token(api.settings, user, key='x' * 40)}"},
        "expired": {
            "Authorization": f"Bearer {_token(api.settings, user, exp=int(time.time()) - 3600)}"
        },
        "basic scheme": {"Authorization": "Basic dXNlcjpwYXNz"},
    }
    async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as http:
        for label, headers in bad.items():
            for method, path in routes:
                r = await http.request(
                    method, path, headers=headers, json={} if method in ("POST", "PATCH") else None
                )
                assert r.status_code == 401, (label, method, path, r.text)
                body = r.json()
                assert body["error"]["code"] == "unauthorized"
                assert body["request_id"].startswith("req_")
                assert r.headers["www-authenticate"] == "Bearer"
        # The public ones stay public.
        assert (await http.get("/health")).status_code == 200
        assert (await http.get("/api/v1/auth/config")).status_code == 200
        assert (await http.get("/metrics")).status_code == 200
    # Nothing was written for the user by any of those requests.
    async with api.client(user) as http:
        assert await _seq(http) == 0
        assert (await http.get("/api/v1/diagnostics")).status_code == 404  # no brain started


async def test_refused_writes_change_nothing(api: Api, user: str) -> None:
    async with api.client(user) as http:
        created = await http.post("/api/v1/tasks", json={"title": "Keep me"})
        assert created.status_code == 201
        before = (await http.get("/api/v1/state")).json()
    expired = _token(api.settings, user, exp=int(time.time()) - 3600)
    forged = _token(api.settings, user, key="y" * 40)
    task_id = created.json()["task_id"]
    async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as http:
        for token in (expired, forged, None):
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            assert (
                await http.post("/api/v1/message", json={"text": "hi"}, headers=headers)
            ).status_code == 401
            assert (
                await http.post("/api/v1/tasks", json={"title": "x"}, headers=headers)
            ).status_code == 401
            assert (
                await http.patch(f"/api/v1/tasks/{task_id}", json={"title": "y"}, headers=headers)
            ).status_code == 401
            assert (
                await http.delete(f"/api/v1/tasks/{task_id}", headers=headers)
            ).status_code == 401
            assert (
                await http.patch("/api/v1/preferences", json={"seat": "aisle"}, headers=headers)
            ).status_code == 401
            assert (await http.delete("/api/v1/me", headers=headers)).status_code == 401
    async with api.client(user) as http:
        after = (await http.get("/api/v1/state")).json()
    assert after == before


async def test_another_users_task_is_not_found_and_untouched(api: Api) -> None:
    alice, bob = user_id(), user_id()
    async with api.client(alice) as a, api.client(bob) as b:
        task = (await a.post("/api/v1/tasks", json={"title": "Alice's secret"})).json()
        task_id = task["task_id"]
        await b.post("/api/v1/tasks", json={"title": "Bob's own"})
        alice_before = (await a.get("/api/v1/state")).json()
        bob_before = (await b.get("/api/v1/state")).json()

        patched = await b.patch(f"/api/v1/tasks/{task_id}", json={"title": "pwned"})
        assert patched.status_code == 404 and patched.json()["error"]["code"] == "not_found"
        deleted = await b.delete(f"/api/v1/tasks/{task_id}")
        assert deleted.status_code == 404
        assert (await b.get("/api/v1/tasks")).json()["tasks"][0]["title"] == "Bob's own"
        # Bob's reads only ever show Bob's data.
        assert "Alice" not in (await b.get("/api/v1/state")).text
        assert "Alice" not in (await b.get("/api/v1/history")).text
        assert "Alice" not in (await b.get("/api/v1/me/export")).text

        assert (await a.get("/api/v1/state")).json() == alice_before
        assert (await b.get("/api/v1/state")).json() == bob_before


async def test_a_user_id_header_does_not_override_the_token(api: Api) -> None:
    alice, bob = user_id(), user_id()
    async with api.client(alice) as a:
        await a.post("/api/v1/tasks", json={"title": "Alice only"})
    async with api.client(bob) as b:
        r = await b.get("/api/v1/tasks", headers={"X-User-Id": alice})
    assert r.json()["tasks"] == []
    async with httpx.AsyncClient(base_url=api.base_url) as anon:
        assert (await anon.get("/api/v1/tasks", headers={"X-User-Id": alice})).status_code == 401


async def test_websocket_refuses_missing_and_bad_tokens(api: Api, user: str) -> None:
    url = api.ws_url()
    expired = _token(api.settings, user, exp=int(time.time()) - 3600)
    forged = _token(api.settings, user, key="z" * 40)
    attempts: list[dict[str, Any]] = [
        {},
        {"subprotocols": ["bearer", forged]},
        {"subprotocols": ["bearer", expired]},
        {"subprotocols": ["bearer"]},
        {"additional_headers": {"Authorization": "Bearer nope"}},
    ]
    for kwargs in attempts:
        with pytest.raises(websockets.InvalidStatus) as info:
            await websockets.connect(url, **kwargs)
        assert info.value.response.status_code in (401, 403), kwargs
    with pytest.raises(websockets.InvalidStatus):
        await websockets.connect(url + f"?access_token={forged}")
    # A good token in the query parameter (the fallback) works and sees only its own stream.
    ws = await websockets.connect(url + f"?access_token={api.token(user)}")
    await ws.send('{"type": "ping"}')
    import json

    assert json.loads(await ws.recv())["type"] == "pong"
    await ws.close()
    async with api.client(user) as http:
        assert await _seq(http) == 0


async def test_cloudflare_access_header_is_accepted(api: Api, user: str) -> None:
    async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as http:
        r = await http.post(
            "/api/v1/tasks",
            json={"title": "via access"},
            headers={"Cf-Access-Jwt-Assertion": api.token(user)},
        )
        assert r.status_code == 201
        r = await http.get("/api/v1/tasks", headers={"Cf-Access-Jwt-Assertion": "junk"})
        assert r.status_code == 401


async def test_admin_route_needs_the_admin_claim(api: Api, user: str) -> None:
    async with api.client(user) as http:
        await http.post("/api/v1/tasks", json={"title": "x"})
        r = await http.get(f"/api/v1/admin/users/{user}/diagnostics")
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    admin = httpx.AsyncClient(
        base_url=api.base_url,
        headers={"Authorization": f"Bearer {api.token('ops', admin=True)}"},
    )
    async with admin:
        r = await admin.get(f"/api/v1/admin/users/{user}/diagnostics")
        assert r.status_code == 200 and r.json()["user_id"] == user and r.json()["seq"] == 1
        r = await admin.get("/api/v1/admin/users/nobody-here/diagnostics")
        assert r.status_code == 404
        r = await admin.get("/api/v1/admin/users/bad%20id!/diagnostics")
        assert r.status_code == 422


async def test_audience_is_checked_when_configured(
    settings: Settings, temporal_client: Client, user: str
) -> None:
    settings = settings.model_copy(update={"jwt_audience": "mcos-api", "jwt_issuer": "mcos-test"})
    async with running_api(settings, temporal_client) as api:
        good = issue_dev_token(user, api.settings)
        wrong_aud = _token(settings, user, aud="someone-else", iss="mcos-test")
        no_aud = _token(settings, user, iss="mcos-test")
        wrong_iss = _token(settings, user, aud="mcos-api", iss="evil")
        async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as http:
            for token in (wrong_aud, no_aud, wrong_iss):
                r = await http.post(
                    "/api/v1/tasks",
                    json={"title": "x"},
                    headers={"Authorization": f"Bearer {token}"},
                )
                assert r.status_code == 401, r.text
            with pytest.raises(websockets.InvalidStatus):
                await websockets.connect(
                    api.ws_url(), subprotocols=[Subprotocol("bearer"), Subprotocol(wrong_aud)]
                )
            r = await http.get("/api/v1/state", headers={"Authorization": f"Bearer {good}"})
            assert r.status_code == 200 and r.json()["seq"] == 0
