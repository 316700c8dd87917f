"""The realtime channel: bus frames out, chat commands in, resume by cursor.

Each connection reads its own bus subscription (a bounded queue), so a slow client only
ever falls behind itself. Frames are sent in cursor order, each at most once per
connection, across ``resume`` requests.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Literal

import structlog
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, Field, ValidationError

from app.chat import accept_message, check_message_rate
from app.context import AppContext
from app.deps import authenticate
from app.errors import as_outage
from app.frames import FrameThrottle
from app.schemas import MessageIn
from mcos.infra.bus import BusUnavailable, Resync, Subscription, cursor_order, now_ts
from mcos.infra.metrics import RATE_LIMIT_REJECTIONS, REALTIME_FRAMES_SENT, WS_CONNECTIONS
from mcos.infra.tracing import annotate, frame_span
from mcos.kernel import strict_json
from mcos.kernel.errors import DomainError
from mcos.kernel.frames import Frame, FrameType
from mcos.kernel.ids import new_id
from mcos.kernel.models import MAX_TEXT_BYTES

router = APIRouter(tags=["realtime"])
log = structlog.get_logger("ws")
MAX_FRAME_BYTES = 16 * 1024
HOLD_S = 0.5  # how long a new connection waits for a possible `resume` before going live
MAX_PENDING_FRAMES = 5000  # over the frame budget and still growing: resync, never drop
CLOSE_TRY_AGAIN = 1013  # the bus is unreachable: the client reconnects with backoff


class SendFrame(MessageIn):
    """``message.send``: the same bounds as ``POST /message``."""

    type: str


class ApprovalFrame(BaseModel):
    """``approval.respond``."""

    type: str
    approval_id: str = Field(pattern=r"^apr_[0-9a-f]{32}$")
    decision: Literal["approve", "reject"]
    always: bool = False


class MessageFrame(BaseModel):
    """``message.regenerate`` / ``message.activate`` (and the target of ``message.edit``)."""

    type: str
    message_id: str = Field(pattern=r"^msg_[0-9a-f]{32}$")


class EditFrame(MessageFrame):
    text: str = Field(min_length=1, max_length=MAX_TEXT_BYTES)


class ResumeFrame(BaseModel):
    type: str
    cursor: str = Field(min_length=1, max_length=64, pattern=r"^\d+(-\d+)?$")


@router.websocket("/ws")
async def websocket_stream(ws: WebSocket) -> None:
    """Authenticated realtime stream for the current user."""
    ctx: AppContext = ws.app.state.ctx
    try:
        principal = await authenticate(ws.headers, ws.query_params, ctx)
    except DomainError as err:
        log.info("websocket refused", reason=err.code)
        await ws.close(code=4401 if err.status == 401 else 1011)
        return
    offered = [p.strip() for p in ws.headers.get("sec-websocket-protocol", "").split(",")]
    await ws.accept(subprotocol="bearer" if "bearer" in offered else None)
    conn = _Connection(ws, ctx, principal.user_id)
    WS_CONNECTIONS.inc()
    try:
        await conn.run(ws.query_params.get("cursor"))
    finally:
        WS_CONNECTIONS.dec()


class _Connection:
    def __init__(self, ws: WebSocket, ctx: AppContext, user_id: str) -> None:
        self.ws = ws
        self.ctx = ctx
        self.user_id = user_id
        self.last: tuple[int, int] | None = None
        self.last_cursor: str | None = None
        self.sub: Subscription | None = None
        self.sender: asyncio.Task[None] | None = None
        self.lock = asyncio.Lock()
        self.throttle = FrameThrottle(ctx.settings.limit_ws_frames_per_minute, 60.0)
        self.ready = asyncio.Event()
        # Live frames wait until the client's first frame (or HOLD_S): a reconnecting
        # client's `resume` must be served before anything newer is sent.
        self.released = asyncio.Event()

    async def run(self, cursor: str | None) -> None:
        if not await self._follow(cursor):
            return
        if cursor is not None:
            self.released.set()
        grace = asyncio.get_running_loop().call_later(HOLD_S, self.released.set)
        try:
            while True:
                message = await self.ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                if message.get("text") is not None:
                    if not self.released.is_set() and '"resume"' not in message["text"][:200]:
                        self.released.set()
                    await self._handle(message["text"])
                    self.released.set()
                else:
                    await self._error(
                        "binary_frame", "frames must be JSON text, not binary", new_id("req")
                    )
        except WebSocketDisconnect:
            pass
        finally:
            grace.cancel()
            await self._stop_following()

    async def _follow(self, cursor: str | None) -> bool:
        """Streams from ``cursor`` (``resync`` first when it cannot be served); False when
        the bus is unreachable, after an ``error`` frame and a 1013 close."""
        await self._stop_following()
        sub = await self._subscribe(cursor)
        if sub is None:
            return False
        self.sub = sub
        self.sender = asyncio.create_task(self._pump(sub))
        return True

    async def _subscribe(self, cursor: str | None) -> Subscription | None:
        try:
            try:
                return await self.ctx.bus.subscribe(self.user_id, cursor)
            except Resync as exc:
                await self._send_local("resync", {"reason": str(exc)[:120] or "resync"})
                return await self.ctx.bus.subscribe(self.user_id, None)
        except BusUnavailable:
            log.warning("ws.bus_unavailable", user_id=self.user_id)
            with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                await self._error(
                    "unavailable", "live updates are unavailable; reconnect shortly", new_id("req")
                )
                await self.ws.close(code=CLOSE_TRY_AGAIN, reason="realtime bus unavailable")
            return None

    async def _stop_following(self) -> None:
        if self.sender is not None:
            self.sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.sender
            self.sender = None
        if self.sub is not None:
            await self.sub.close()
            self.sub = None

    async def _pump(self, sub: Subscription) -> None:
        """Reads the subscription into the frame budget; a second task sends from it.

        A ``Resync`` (the cursor fell behind the buffer) is told to the client and the
        stream goes on live: the socket never goes silent."""
        self.throttle.pending.clear()
        pushed = self.last
        sender = asyncio.create_task(self._send_budgeted())
        try:
            while True:
                try:
                    async for frame in sub:
                        order = cursor_order(frame.cursor or "0")
                        if pushed is not None and order <= pushed:
                            continue  # already sent on this connection (before a resume)
                        pushed = order
                        self.throttle.push(frame)
                        self.ready.set()
                        if len(self.throttle.pending) > MAX_PENDING_FRAMES:
                            raise Resync("fell behind the buffer")
                    return
                except Resync as exc:
                    self.throttle.pending.clear()
                    await self._send_local("resync", {"reason": str(exc)[:120] or "resync"})
                except (WebSocketDisconnect, RuntimeError, asyncio.CancelledError):
                    raise
                except Exception:  # noqa: BLE001 - never leave the socket silent
                    log.exception("ws.stream_failed", user_id=self.user_id)
                    self.throttle.pending.clear()
                    await self._send_local("resync", {"reason": "stream interrupted"})
                await sub.close()
                fresh = await self._subscribe(None)
                if fresh is None:
                    return
                self.sub = sub = fresh
                pushed = None
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender

    async def _send_budgeted(self) -> None:
        """Sends pending frames within the per-minute budget (coalesced while over it)."""
        try:
            while True:
                await self.released.wait()
                await self.ready.wait()
                self.ready.clear()
                while self.throttle.pending:
                    wait = self.throttle.wait_s()
                    if wait > 0:
                        log.info(
                            "ws.frame_budget_exhausted",
                            wait_s=round(wait, 1),
                            pending=len(self.throttle.pending),
                        )
                        await asyncio.sleep(wait)
                        continue
                    frame = self.throttle.pop_run()  # what waited goes as one frame
                    if frame is None:
                        continue
                    self.last = cursor_order(frame.cursor or "0")
                    self.last_cursor = frame.cursor
                    await self._send(frame)
                    REALTIME_FRAMES_SENT.inc()
        except (WebSocketDisconnect, RuntimeError):
            pass

    async def _send(self, frame: Frame) -> None:
        async with self.lock:
            await self.ws.send_text(frame.wire_json())

    async def _send_local(
        self, type_: FrameType, data: dict[str, Any], request_id: str | None = None
    ) -> None:
        """Frames for this connection only (errors, pong, resync): they carry the last cursor."""
        await self._send(
            Frame(
                type=type_, cursor=self.last_cursor, ts=now_ts(), request_id=request_id, data=data
            )
        )

    async def _handle(self, raw: str) -> None:
        request_id = new_id("req")
        structlog.contextvars.bind_contextvars(request_id=request_id, user_id=self.user_id)
        attrs = {"mcos.request_id": request_id, "mcos.user_id": self.user_id}
        with frame_span(self.ctx.settings, "ws.frame", attrs):  # one trace per frame
            await self._handle_frame(raw, request_id)

    async def _handle_frame(self, raw: str, request_id: str) -> None:
        if len(raw.encode()) > MAX_FRAME_BYTES:
            await self._error(
                "frame_too_large", f"frames are limited to {MAX_FRAME_BYTES} bytes", request_id
            )
            return
        try:
            frame = strict_json.loads(raw)  # NaN, huge integers, deep nesting: refused
        except ValueError:
            await self._error("bad_json", "frames must be JSON objects", request_id)
            return
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            await self._error("bad_frame", "a frame needs a string 'type'", request_id)
            return
        kind = frame["type"]
        annotate(**{"mcos.frame_type": kind[:40]})
        try:
            if kind == "ping":
                await self._send_local("pong", {}, request_id)
            elif kind == "message.send":
                await self._message(SendFrame.model_validate(frame), request_id)
            elif kind == "generation.cancel":
                brain = await self.ctx.brain()
                await brain.cancel_generation(self.user_id, request_id)
            elif kind == "resume":
                if not await self._follow(ResumeFrame.model_validate(frame).cursor):
                    raise WebSocketDisconnect(CLOSE_TRY_AGAIN)
            elif kind in (
                "approval.respond",
                "message.regenerate",
                "message.edit",
                "message.activate",
            ):
                await self._command(kind, frame, request_id)
            else:
                await self._error("unknown_type", f"unknown frame type {kind[:40]!r}", request_id)
        except ValidationError as exc:
            details = {"errors": [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]}
            await self._error("invalid_frame", "the frame is invalid", request_id, details)
        except DomainError as err:
            if err.code == "rate_limited":
                limit_type = str(err.details.get("limit_type", ""))
                RATE_LIMIT_REJECTIONS.labels(limit_type=limit_type).inc()
                await self._send_local("rate_limited", err.to_body(request_id), request_id)
            else:
                await self._error(err.code, err.message, request_id, err.details)
        except (WebSocketDisconnect, asyncio.CancelledError):
            raise
        except Exception as exc:  # noqa: BLE001 - one bad frame must not end the connection
            outage = as_outage(exc)
            if outage is not None:
                log.warning("ws frame: dependency unavailable", type=kind[:40])
                await self._error(outage.code, outage.message, request_id, outage.details)
                return
            log.exception("ws frame failed", type=kind[:40])
            await self._error("internal", "something went wrong on our side", request_id)

    async def _message(self, frame: SendFrame, request_id: str) -> None:
        await check_message_rate(self.ctx.limiter, self.ctx.settings, self.user_id, frame.text)
        brain = await self.ctx.brain()
        await accept_message(
            brain,
            self.user_id,
            frame.text,
            request_id,
            frame.client_action_id,
            frame.channel,
            lookup_duplicate=False,
        )

    async def _command(self, kind: str, raw: dict[str, Any], request_id: str) -> None:
        """Answering an approval, regenerating, editing or switching branch over the socket
        (the same commands as their REST routes; a refusal comes back as an ``error``)."""
        brain = await self.ctx.brain()
        if kind == "approval.respond":
            answer = ApprovalFrame.model_validate(raw)
            await brain.respond_approval(
                self.user_id,
                answer.approval_id,
                answer.decision,
                request_id,
                always=answer.always,
                decided_by=f"ws:{request_id}",
            )
            return
        target = MessageFrame.model_validate(raw)
        if kind == "message.regenerate":
            await brain.regenerate(self.user_id, target.message_id, request_id)
        elif kind == "message.activate":
            await brain.activate(self.user_id, target.message_id, request_id)
        else:
            text = EditFrame.model_validate(raw).text
            await check_message_rate(self.ctx.limiter, self.ctx.settings, self.user_id, text)
            await brain.edit(self.user_id, target.message_id, text, request_id)

    async def _error(
        self, code: str, message: str, request_id: str, details: dict[str, Any] | None = None
    ) -> None:
        await self._send_local(
            "error", {"code": code, "message": message, "details": details or {}}, request_id
        )
