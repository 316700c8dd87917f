"""Bad input over REST: one error body, the right status, nothing changed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx

from tests.app.conftest import Api


def assert_error(r: httpx.Response, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error", "request_id"}
    assert body["error"]["code"] == code and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    assert body["request_id"] == r.headers["x-request-id"]
    return body


async def test_bad_requests_get_the_error_body_and_change_nothing(api: Api, user: str) -> None:
    async with api.client(user) as http:
        await http.post("/api/v1/tasks", json={"title": "keep"})
        before = (await http.get("/api/v1/state")).json()

        # Message text over 8 KB (ASCII and multi-byte) → 413.
        assert_error(
            await http.post("/api/v1/message", json={"text": "a" * 8193}), 413, "payload_too_large"
        )
        r = await http.post("/api/v1/message", json={"text": "é" * 4500})  # 9 KB of UTF-8
        assert r.status_code in (413, 422) and r.json()["error"]["code"] in (
            "payload_too_large",
            "invalid_request",
        )
        # Bodies over the server limit → 413, declared or streamed.
        big = b'{"text": "' + b"a" * 70_000 + b'"}'
        assert_error(
            await http.post(
                "/api/v1/message", content=big, headers={"content-type": "application/json"}
            ),
            413,
            "payload_too_large",
        )

        async def chunks() -> AsyncIterator[bytes]:  # no content-length: the middleware counts
            for _ in range(20):
                yield b"x" * 8192

        assert_error(
            await http.post(
                "/api/v1/tasks", content=chunks(), headers={"content-type": "application/json"}
            ),
            413,
            "payload_too_large",
        )

        invalid: list[tuple[str, str, dict[str, Any]]] = [
            ("post", "/api/v1/message", {"content": b"{not json"}),
            (
                "post",
                "/api/v1/message",
                {"content": b"", "headers": {"content-type": "application/json"}},
            ),
            ("post", "/api/v1/message", {"json": {"text": "hi", "unknown": 1}}),
            ("post", "/api/v1/message", {"json": {"text": ""}}),
            ("post", "/api/v1/message", {"json": {"text": "   "}}),
            ("post", "/api/v1/message", {"json": {"text": 5}}),
            ("post", "/api/v1/message", {"json": {"text": "hi", "channel": "sms"}}),
            ("post", "/api/v1/message", {"json": {"text": "hi", "client_action_id": "a b"}}),
            ("post", "/api/v1/message", {"json": ["text"]}),
            ("post", "/api/v1/message", {"json": None}),
            (
                "post",
                "/api/v1/message",
                {
                    "content": b'{"text": "\\ud800"}',
                    "headers": {"content-type": "application/json"},
                },
            ),
            ("post", "/api/v1/tasks", {"json": {"title": "x", "priority": "urgent"}}),
            ("post", "/api/v1/tasks", {"json": {"title": "x", "tags": ["t"] * 21}}),
            ("post", "/api/v1/tasks", {"json": {"title": "x" * 501}}),
            ("post", "/api/v1/tasks", {"json": {"title": "x", "due": "tomorrow"}}),
            ("patch", "/api/v1/tasks/not-an-id", {"json": {"title": "x"}}),
            ("patch", "/api/v1/tasks/task_" + "0" * 32, {"json": {}}),
            ("patch", "/api/v1/tasks/task_" + "0" * 32, {"json": {"status": "maybe"}}),
            ("delete", "/api/v1/tasks/task_../../etc", {}),
            ("delete", "/api/v1/memory/mem_xyz", {}),
            ("post", "/api/v1/memory/pin", {"json": {"key": "bad key!", "value": "v"}}),
            ("post", "/api/v1/memory/pin", {"json": {"key": "k", "value": ""}}),
            ("patch", "/api/v1/preferences", {"json": {}}),
            ("patch", "/api/v1/preferences", {"json": {"bad key!": 1}}),
            ("patch", "/api/v1/preferences", {"json": {"k": {"nested": 1}}}),
            ("patch", "/api/v1/preferences", {"json": {f"k{i}": i for i in range(21)}}),
            ("get", "/api/v1/state?since=-1", {}),
            ("get", "/api/v1/state?limit=1000", {}),
            ("get", "/api/v1/history?before=nope", {}),
            ("get", "/api/v1/history?limit=0", {}),
        ]
        for method, url, kwargs in invalid:
            r = await http.request(method.upper(), url, **kwargs)
            assert r.status_code in (404, 422) if "etc" in url else r.status_code == 422, (
                method,
                url,
                r.status_code,
                r.text,
            )
            assert set(r.json()) == {"error", "request_id"}, (url, r.text)
        assert_error(await http.get("/api/v1/no-such-route"), 404, "not_found")
        assert_error(await http.put("/api/v1/tasks"), 405, "method_not_allowed")

        assert (await http.get("/api/v1/state")).json() == before
