"""Request ids, log context, body-size limits and strict JSON bodies, as plain ASGI
middleware."""

from __future__ import annotations

import json
import time

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcos.kernel import strict_json
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


class StrictJsonMiddleware:
    """Every JSON request body, for every route, is read by :func:`strict_json.loads`
    before the app sees it: ``NaN``/``Infinity``, integers beyond ±(2**53 - 1) and deep
    nesting answer 422 with the error body (``details.errors`` with ``loc``, ``msg``,
    ``type``) and change nothing. Valid bodies are passed on unchanged; FastAPI parses them
    as usual. Sits inside :class:`RequestContextMiddleware`, whose size limit applies to
    the read."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _may_be_json(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                await self.app(scope, _replay([message], receive), send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body.strip():
            try:
                strict_json.loads(body)
            except strict_json.StrictJsonError as err:
                if any(p.type != "json_invalid" for p in err.problems):
                    await _refuse(scope, send, err)
                    return
                # Not JSON at all: FastAPI answers that one with its own 422.
        await self.app(
            scope,
            _replay([{"type": "http.request", "body": body, "more_body": False}], receive),
            send,
        )


def _may_be_json(scope: Scope) -> bool:
    if scope["method"] in ("GET", "HEAD", "OPTIONS"):
        return False
    for key, value in scope["headers"]:
        if key.lower() == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json" or media.endswith(b"+json")
    return True  # FastAPI reads a body without a content type as JSON


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed


async def _refuse(scope: Scope, send: Send, err: strict_json.StrictJsonError) -> None:
    errors = [
        {"loc": ["body", *p.loc], "msg": p.msg, "type": p.type}
        for p in err.problems
        if p.type != "json_invalid"
    ]
    request_id = scope.get("state", {}).get("request_id", "")
    body = _error_body(request_id, "invalid_request", "the request is invalid", {"errors": errors})
    # The request id header is added by RequestContextMiddleware, around this one.
    await send(
        {
            "type": "http.response.start",
            "status": 422,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _error_body(request_id: str, code: str, message: str, details: dict | None = None) -> bytes:
    return json.dumps(
        {
            "error": {"code": code, "message": message, "details": details or {}},
            "request_id": request_id,
        }
    ).encode()


async def _send_json(send: Send, status: int, request_id: str, code: str, message: str) -> None:
    body = _error_body(request_id, code, message)
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
