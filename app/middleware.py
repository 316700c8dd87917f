"""Request ids, log context and body-size limits, as plain ASGI middleware."""

from __future__ import annotations

import json
import time

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcos.kernel.ids import is_id, new_id

log = structlog.get_logger("http")


class RequestContextMiddleware:
    """Gives every request (and WebSocket) a ``request_id`` and binds it for logging."""

    def __init__(self, app: ASGIApp, max_body_bytes: int = 65536) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode("latin-1") for k, v in scope["headers"]}
        given = headers.get("x-request-id", "")
        request_id = given if is_id(given, "req") else new_id("req")
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return

        length = headers.get("content-length")
        if length and length.isdigit() and int(length) > self.max_body_bytes:
            await _send_json(
                send,
                413,
                request_id,
                "payload_too_large",
                f"request body over {self.max_body_bytes} bytes",
            )
            return

        started = time.perf_counter()
        status = 500
        received = 0
        too_large = False

        async def counting_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    too_large = True  # the app may catch this while parsing: answer 413 anyway
                    raise _BodyTooLarge
            return message

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if too_large:
                if message["type"] == "http.response.start":
                    raise _BodyTooLarge
                return
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"].append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await self.app(scope, counting_receive, send_with_id)
        except _BodyTooLarge:
            await _send_json(
                send,
                413,
                request_id,
                "payload_too_large",
                f"request body over {self.max_body_bytes} bytes",
            )
            status = 413
        finally:
            if scope["path"] not in ("/health", "/metrics"):
                log.info(
                    "request",
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 1),
                )


class _BodyTooLarge(Exception):
    pass


async def _send_json(send: Send, status: int, request_id: str, code: str, message: str) -> None:
    body = json.dumps(
        {"error": {"code": code, "message": message, "details": {}}, "request_id": request_id}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-request-id", request_id.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
