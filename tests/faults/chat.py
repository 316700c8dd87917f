"""A chat user as the web UI is one: a WebSocket that reconnects (to the other API) and
resumes by cursor, messages sent over REST with a ``client_action_id`` (retried on another
API when one fails), and the checks every scenario makes afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import websockets
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from mcos.infra.auth import issue_dev_token
from mcos.infra.tls import client_tls
from mcos.kernel.settings import Settings
from mcos.llm.base import LlmRequest
from mcos.llm.offline import respond
from tests.support.wait import eventually

SETTINGS = Settings(_env_file=None)


def expected_reply(text: str) -> str:
    """What the offline model answers a plain chat message (no skill recognised)."""
    return respond(
        LlmRequest(messages=[{"role": "user", "content": text}], tools=[]),
    ).text


@dataclass
class Turn:
    text: str
    action_id: str
    message_id: str | None = None
    sent_at: float = 0.0
    done_at: float | None = None


@dataclass
class Chatter:
    user_id: str
    apis: list[str]  # base URLs; the socket and REST use the first that answers
    frames: list[dict[str, Any]] = field(default_factory=list)
    close_codes: list[int | None] = field(default_factory=list)
    connects: list[tuple[str, str | None]] = field(default_factory=list)  # (api, cursor)
    turns: list[Turn] = field(default_factory=list)
    misordered: list[str] = field(default_factory=list)  # see check()

    def __post_init__(self) -> None:
        self.token = issue_dev_token(self.user_id, SETTINGS)
        self.cursor: str | None = None
        self.preferred = 0
        self._reader: asyncio.Task[None] | None = None
        self._ws: Any = None
        self._stopped = False
        self._frame_seen = asyncio.Event()
        # Indexes kept as frames arrive: the waits check them on every frame, and scanning
        # the whole list each time (thousands of frames per user) was a third of the test
        # process's CPU in the rolling deploy.
        self._completed: dict[str, dict[str, Any]] = {}  # reply_to -> first message.completed
        self._tokens: dict[str, list[dict[str, Any]]] = {}  # operation_id -> llm.token frames
        self.http = httpx.AsyncClient(
            timeout=10, headers={"Authorization": f"Bearer {self.token}"}, verify=client_tls()
        )

    # --- the socket -------------------------------------------------------------------------

    async def connect(self) -> None:
        self._stopped = False
        self._reader = asyncio.create_task(self._run())
        await self._wait(lambda: self._ws is not None, 30, "socket connected")

    async def _run(self) -> None:
        """Connect, read, and on any close reconnect (the next API first after a failure)."""
        delay = 0.0
        while not self._stopped:
            base = self.apis[self.preferred % len(self.apis)]
            url = base.replace("http", "ws", 1) + "/api/v1/ws"
            if self.cursor is not None:
                url += f"?cursor={self.cursor}"
            try:
                async with websockets.connect(
                    url,
                    subprotocols=[Subprotocol("bearer"), Subprotocol(self.token)],
                    open_timeout=5,
                    max_size=1 << 20,
                ) as ws:
                    self.connects.append((base, self.cursor))
                    self._ws = ws
                    if self.cursor is not None:
                        await ws.send(json.dumps({"type": "resume", "cursor": self.cursor}))
                    delay = 0.0
                    async for raw in ws:
                        frame = json.loads(raw)
                        self.frames.append(frame)
                        self._index(frame)
                        if frame.get("cursor") and frame["type"] not in ("pong", "error"):
                            self.cursor = frame["cursor"]
                        self._frame_seen.set()
                    self.close_codes.append(ws.close_code)
            except (OSError, ConnectionClosed, TimeoutError, websockets.InvalidHandshake) as exc:
                code = getattr(getattr(exc, "rcvd", None), "code", None)
                self.close_codes.append(code)
            finally:
                self._ws = None
            if self._stopped:
                return
            last = self.close_codes[-1] if self.close_codes else None
            if last not in (1001, 1012):  # a drained API: straight back; anything else: next
                self.preferred += 1
                await asyncio.sleep(delay)
                delay = min(2.0, delay * 2 or 0.25)

    async def close(self, http: bool = False) -> None:
        """Closes the socket (and the REST client too when ``http``)."""
        self._stopped = True
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if http:
            await self.http.aclose()

    async def _wait(self, check: Callable[[], bool], timeout: float, what: str) -> None:
        """Until ``check()`` holds, checked again as each frame arrives."""
        await eventually(check, timeout, 0.5, what=f"{self.user_id}: {what}", wake=self._frame_seen)

    # --- REST -------------------------------------------------------------------------------

    async def request(self, method: str, path: str, timeout: float = 60, **kw: Any) -> Any:
        """A REST call, retried on the other API (and again) until ``timeout``."""
        deadline = time.monotonic() + timeout
        last: Any = None
        attempt = 0
        while time.monotonic() < deadline:
            base = self.apis[(self.preferred + attempt) % len(self.apis)]
            try:
                response = await self.http.request(method, base + "/api/v1" + path, **kw)
                if response.status_code < 500:
                    response.raise_for_status()
                    return response.json()
                last = f"{response.status_code} {response.text[:200]}"
            except httpx.TransportError as exc:
                last = repr(exc)
            attempt += 1
            await asyncio.sleep(min(1.0, 0.1 * attempt))
        raise AssertionError(f"{self.user_id}: {method} {path} kept failing: {last}")

    async def send(self, text: str) -> Turn:
        turn = Turn(text=text, action_id=f"act-{uuid.uuid4().hex[:16]}", sent_at=time.monotonic())
        self.turns.append(turn)
        body = {"text": text, "client_action_id": turn.action_id}
        accepted = await self.request("POST", "/message", json=body)
        turn.message_id = accepted["message_id"]
        return turn

    async def send_ws(self, text: str, timeout: float = 60) -> Turn:
        """``message.send`` over the socket, as the UI sends; the id comes from /state (the
        echo frame may not come while the bus is down). Not accepted within a few seconds
        (no socket, or refused): the same action over REST, which the brain takes once."""
        turn = Turn(text=text, action_id=f"act-{uuid.uuid4().hex[:16]}", sent_at=time.monotonic())
        self.turns.append(turn)
        frame = {"type": "message.send", "text": text, "client_action_id": turn.action_id}
        with contextlib.suppress(Exception):
            if self._ws is not None:
                await self._ws.send(json.dumps(frame))
        deadline = time.monotonic() + timeout
        while turn.message_id is None:
            turn.message_id = await self._find_message(text, 5)
            if turn.message_id is None:
                if time.monotonic() > deadline:
                    raise AssertionError(f"{self.user_id}: {text!r} never accepted")
                body = {"text": text, "client_action_id": turn.action_id}
                await self.request("POST", "/message", json=body)
        return turn

    async def _find_message(self, text: str, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for m in (await self.state())["messages"]:
                if m["role"] == "user" and m["text"] == text:
                    return str(m["id"])
            await asyncio.sleep(0.3)
        return None

    async def create_task(self, title: str) -> str:
        """``POST /tasks`` with a ``client_action_id`` (retried as is: applied once)."""
        body = {"title": title, "client_action_id": f"act-{uuid.uuid4().hex[:16]}"}
        return str((await self.request("POST", "/tasks", json=body))["task_id"])

    async def complete_task(self, task_id: str) -> None:
        body = {"status": "done", "client_action_id": f"act-{uuid.uuid4().hex[:16]}"}
        await self.request("PATCH", f"/tasks/{task_id}", json=body)

    async def tasks(self) -> list[dict[str, Any]]:
        return list((await self.request("GET", "/tasks"))["tasks"])

    async def events(self) -> list[dict[str, Any]]:
        """Every event of the brain's window (``/state?since=0``)."""
        delta = await self.request("GET", "/state", params={"since": 0})
        assert delta["snapshot"] is None, f"{self.user_id}: the event window was trimmed"
        return list(delta["events"])

    def _index(self, frame: dict[str, Any]) -> None:
        kind, data = frame["type"], frame.get("data") or {}
        if kind == "message.completed" and data.get("reply_to") is not None:
            self._completed.setdefault(data["reply_to"], frame)
        elif kind == "llm.token" and data.get("operation_id") is not None:
            self._tokens.setdefault(data["operation_id"], []).append(frame)

    def reply_frame(self, turn: Turn) -> dict[str, Any] | None:
        """The first ``message.completed`` seen of the turn's reply."""
        return self._completed.get(turn.message_id) if turn.message_id is not None else None

    def operation_tokens(self, operation_id: str) -> list[dict[str, Any]]:
        """The ``llm.token`` frames seen of one reply's operation, in arrival order."""
        return list(self._tokens.get(operation_id, ()))

    async def wait_reply(self, turn: Turn, timeout: float = 60) -> None:
        """Until the socket shows the reply's ``message.completed`` (the UI's signal)."""
        await self._wait(lambda: self.reply_frame(turn) is not None, timeout,
                         f"reply to {turn.text!r}")  # fmt: skip
        turn.done_at = time.monotonic()

    async def wait_recorded(self, turn: Turn, timeout: float = 60) -> dict[str, Any]:
        """Until /state holds the turn's reply, completed (whatever the socket saw)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for m in (await self.state())["messages"]:
                if m["role"] == "assistant" and m.get("reply_to") == turn.message_id:
                    if m["status"] != "streaming":
                        return m
            await asyncio.sleep(0.3)
        raise AssertionError(f"{self.user_id}: reply to {turn.text!r} not recorded")

    async def chat(self, text: str, timeout: float = 60) -> Turn:
        turn = await self.send(text)
        await self.wait_reply(turn, timeout)
        return turn

    async def state(self) -> dict[str, Any]:
        return await self.request("GET", "/state")

    async def history(self) -> list[dict[str, Any]]:
        page = await self.request("GET", "/history", params={"limit": 200})
        return list(reversed(page["messages"]))

    # --- checks -----------------------------------------------------------------------------

    async def check(self, *, exact_text: bool = True, stream_checks: bool = True) -> int:
        """Every turn exactly once and in order in /history (reaching into the SQL archive)
        and /state (its live window: the tail of the same list), each answered once,
        completed, with the full text; what the socket saw agrees. Messages checked."""
        state = (await self.state())["messages"]
        history = await self.history()
        ids = [m["id"] for m in history]
        assert len(ids) == len(set(ids)), f"{self.user_id}: duplicate ids in /history"
        users = [m for m in history if m["role"] == "user"]
        assert [m["text"] for m in users] == [t.text for t in self.turns], (
            f"{self.user_id}: /history user messages differ from those sent"
        )
        assert [m["id"] for m in users] == [t.message_id for t in self.turns]
        assert len(history) == 2 * len(self.turns), (
            f"{self.user_id}: /history has {len(history)} messages for {len(self.turns)} turns"
        )
        paired = _reply_after_question(history)
        if paired != history and paired is not None:
            # Known product bug, kept visible (see misordered_history): a reply recorded
            # after the user's next message (sent as soon as the reply's frames arrived)
            # is listed by /history (and the archive) in seq order, while /state shows it
            # right after its question. The other checks go on in question, answer order.
            self.misordered.append(
                " ".join(
                    f"{m['role'][0]}{m['seq']}{'a' if m.get('archived') else ''}" for m in history
                )  # fmt: skip
            )
            history = paired
        for question, answer in zip(history[::2], history[1::2], strict=True):
            assert question["role"] == "user" and answer["role"] == "assistant", (
                f"{self.user_id}: /history is not question, answer, question…: "
                + " ".join(
                    f"{m['role'][0]}{m['seq']}{'a' if m.get('archived') else ''}" for m in history
                )  # fmt: skip
            )
            assert answer["reply_to"] == question["id"]
            assert answer["status"] == "completed", f"{self.user_id}: {answer['status']}"
            if exact_text:
                assert answer["text"] == expected_reply(question["text"]), (
                    f"{self.user_id}: a cut or altered reply: {answer['text'][-80:]!r}"
                )
        assert state, f"{self.user_id}: /state has no messages"
        tail = history[-len(state) :]
        assert [(m["id"], m["text"], m["status"]) for m in state] == [
            (m["id"], m["text"], m["status"]) for m in tail
        ], f"{self.user_id}: /state is not the tail of /history"
        self.check_socket(history, stream_checks)
        return len(history) + len(state)

    def check_socket(self, messages: list[dict[str, Any]], stream_checks: bool) -> None:
        """Cursors strictly increase (no frame twice, none out of order, across reconnects);
        every reply's ``message.completed`` arrived once; no ``llm.interrupted``; and the
        tokens of each reply's last attempt, as seen, spell its recorded text."""
        cursors = [tuple(int(x) for x in f["cursor"].split("-")) for f in self.frames
                   if f.get("cursor") and f["type"] not in ("pong", "error", "resync")]  # fmt: skip
        assert all(a < b for a, b in zip(cursors, cursors[1:], strict=False)), (
            f"{self.user_id}: a frame arrived twice or out of order"
        )
        kinds = {f["type"] for f in self.frames}
        assert "llm.interrupted" not in kinds, f"{self.user_id}: a reply was cut"
        for answer in messages[1::2]:
            if not answer.get("operation_id"):
                continue
            done = [f for f in self.frames if f["type"] == "message.completed"
                    and f["data"]["id"] == answer["id"]]  # fmt: skip
            assert len(done) == 1, f"{self.user_id}: {len(done)} message.completed for a reply"
            if not stream_checks:
                continue
            op = answer["operation_id"]
            tokens = [f["data"] for f in self.operation_tokens(op)]
            if not tokens:
                continue  # the whole stream happened while this client was away
            last = max(t["attempt"] for t in tokens)
            if last > 1:
                restarted = [f for f in self.frames if f["type"] == "llm.restarted"
                             and f["data"]["operation_id"] == op]  # fmt: skip
                assert restarted, f"{self.user_id}: attempt {last} without llm.restarted"
            final = [t for t in tokens if t["attempt"] == last]
            # over the frame budget consecutive tokens arrive merged (first_index…index)
            indexes = [i for t in final for i in range(t.get("first_index", t["index"]),
                                                          t["index"] + 1)]  # fmt: skip
            assert indexes == list(range(indexes[0], indexes[0] + len(indexes))), (
                f"{self.user_id}: tokens of attempt {last} missing or repeated: "
                f"{[i for i, j in zip(indexes, indexes[1:], strict=False) if j != i + 1][:5]} "
                f"of {len(indexes)}"
            )
            if indexes[0] == 0:
                assert "".join(t["text"] for t in final) == answer["text"]

    def saw(self, kind: str) -> int:
        return sum(1 for f in self.frames if f["type"] == kind)


def _reply_after_question(history: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """The same messages with each reply right after its question (None if that fails)."""
    replies = {m["reply_to"]: m for m in history if m["role"] == "assistant"}
    out: list[dict[str, Any]] = []
    for m in history:
        if m["role"] == "user":
            out.append(m)
            if m["id"] in replies:
                out.append(replies.pop(m["id"]))
    return out if not replies and len(out) == len(history) else None


def misordered_history(chatters: list[Chatter]) -> None:
    """After every other check passed: /history lists each reply after its question."""
    bad = [(c.user_id, o) for c in chatters for o in c.misordered]
    assert not bad, (
        f"/history lists {len(bad)} user(s)' replies in seq order, not after their "
        f"question as /state does (a reply recorded after the next message): {bad[0]}"
    )
