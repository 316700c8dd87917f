"""Operators' commands: ``send``, ``tail`` (through the API's WebSocket, like the chat UI),
``state``, ``history``, ``users`` (straight from Temporal: queries and visibility)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import uuid
from datetime import datetime
from typing import Any

from mcos.cli.common import api_token, api_url, connect, settings_for

EPILOG = "Every command takes --address HOST:PORT (Temporal) and --api URL; see `mcos --help`."


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    def add(name: str, help_: str, description: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            parents=[common],
            help=help_,
            description=description,
            epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    p = add(
        "send",
        "send a chat message as USER and print the streamed answer",
        "Send TEXT as USER over the API's WebSocket (the same path as the chat UI) and print\n"
        "the assistant's answer as it streams. Exit 1 when the API refuses the message.\n\n"
        'example:  mcos send alice "Remind me to call John tomorrow at 3pm"',
    )
    p.add_argument("user", metavar="USER")
    p.add_argument("text", metavar="TEXT")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds to wait (default 120)")
    p.set_defaults(func=lambda a: asyncio.run(send(a)))

    p = add(
        "tail",
        "follow USER's realtime frames",
        "Print USER's realtime frames as they are published (one line each, or one JSON\n"
        "object a line with --json) until interrupted, --frames or --turns is reached.",
    )
    p.add_argument("user", metavar="USER")
    p.add_argument("--cursor", help="start after this cursor (replays the buffered frames)")
    p.add_argument("--frames", type=int, help="stop after this many frames")
    p.add_argument("--turns", type=int, help="stop after this many assistant replies ended")
    p.add_argument("--timeout", type=float, help="stop after this many seconds")
    p.set_defaults(func=lambda a: asyncio.run(tail(a)))

    p = add(
        "state",
        "print USER's brain state (tasks, counts, preferences)",
        "Query USER's brain (the `snapshot` query) and print a summary, or the whole state\n"
        "with --json. Exit 1 when USER has no brain.",
    )
    p.add_argument("user", metavar="USER")
    p.set_defaults(func=lambda a: asyncio.run(state(a)))

    p = add(
        "history",
        "print USER's messages",
        "Print USER's messages (oldest first) from the brain's `snapshot` query.",
    )
    p.add_argument("user", metavar="USER")
    p.add_argument("--last", type=int, help="only the last N messages")
    p.set_defaults(func=lambda a: asyncio.run(history(a)))

    p = add(
        "users",
        "list brains with their search attributes",
        'List the brains (visibility: WorkflowType="UserBrainWorkflow") with the user id,\n'
        "message count, open tasks and last activity.",
    )
    p.add_argument("--closed", action="store_true", help="closed runs too (default: running)")
    p.add_argument("--query", help="an extra visibility condition, ANDed")
    p.set_defaults(func=lambda a: asyncio.run(users(a)))


# --- WebSocket -------------------------------------------------------------------------


async def _ws(args: argparse.Namespace, user: str, cursor: str | None = None) -> Any:
    import websockets

    url = api_url(args).replace("http://", "ws://").replace("https://", "wss://") + "/api/v1/ws"
    if cursor:
        url += f"?cursor={cursor}"
    from websockets.typing import Subprotocol

    return await websockets.connect(
        url,
        subprotocols=[Subprotocol("bearer"), Subprotocol(api_token(args, user))],
        max_size=2**20,
    )


def _ends_reply(frame: dict[str, Any]) -> bool:
    data = frame.get("data") or {}
    return frame.get("type") in ("message.completed", "llm.interrupted") and (
        data.get("role") == "assistant"
    )


async def send(args: argparse.Namespace) -> int:
    action = f"cli-{uuid.uuid4().hex[:16]}"
    try:
        ws = await _ws(args, args.user)
    except OSError as exc:
        print(f"mcos send: cannot reach the API at {api_url(args)}: {exc}", file=sys.stderr)
        return 2
    sent_id: str | None = None
    streamed: list[str] = []
    frames: list[dict[str, Any]] = []
    async with ws:
        await ws.send(
            json.dumps({"type": "message.send", "text": args.text, "client_action_id": action})
        )
        try:
            async with asyncio.timeout(args.timeout):
                async for raw in ws:
                    frame = json.loads(raw)
                    kind, data = frame.get("type"), frame.get("data") or {}
                    if kind in ("error", "rate_limited") and sent_id is None:
                        print(f"mcos send: refused: {json.dumps(data)}", file=sys.stderr)
                        return 1
                    if kind == "message.created" and data.get("client_action_id") == action:
                        sent_id = data.get("id")
                    if sent_id is None:
                        continue
                    frames.append(frame)
                    if kind == "llm.token" and not args.json:
                        streamed.append(data.get("text", ""))
                        print(data.get("text", ""), end="", flush=True)
                    elif kind == "approval.requested" and not args.json:
                        print(f"\n[approval requested: {data.get('summary') or data}]", flush=True)
                    if _ends_reply(frame) and data.get("reply_to") == sent_id:
                        return _print_reply(args, frame, frames, "".join(streamed))
        except TimeoutError:
            print(f"\nmcos send: no answer within {args.timeout}s", file=sys.stderr)
            return 1
    print("\nmcos send: the API closed the connection", file=sys.stderr)
    return 1


def _print_reply(
    args: argparse.Namespace, end: dict[str, Any], frames: list[dict[str, Any]], streamed: str
) -> int:
    data = end["data"]
    if args.json:
        out = {
            "message": data,
            "actions": [f["data"] for f in frames if f["type"] == "llm.action"],
            "tool_results": [f["data"] for f in frames if f["type"] == "tool.result"],
            "frames": len(frames),
        }
        print(json.dumps(out, indent=2, default=str))
    elif data.get("text", "") != streamed:
        # the brain's final text differs from the tokens (a tool result wrote it): show it
        print(("\n" if streamed else "") + data.get("text", ""))
    else:
        print()
    return 0 if end["type"] == "message.completed" else 1


def _frame_line(frame: dict[str, Any]) -> str:
    kind, data = frame.get("type"), frame.get("data") or {}
    if kind == "llm.token":
        detail = json.dumps(data.get("text", ""))
    elif kind and kind.startswith("message."):
        detail = f"{data.get('role', '')} {data.get('id', '')} {json.dumps(data.get('text', ''))}"
    else:
        detail = json.dumps(data, default=str, separators=(",", ":"))
    if len(detail) > 160:
        detail = detail[:157] + "..."
    return f"{frame.get('cursor', '-'):>10} {kind:<18} {detail}"


async def tail(args: argparse.Namespace) -> int:
    try:
        ws = await _ws(args, args.user, args.cursor)
    except OSError as exc:
        print(f"mcos tail: cannot reach the API at {api_url(args)}: {exc}", file=sys.stderr)
        return 2
    seen = turns = 0
    timeout = asyncio.timeout(args.timeout) if args.timeout else contextlib.nullcontext()
    async with ws:
        with contextlib.suppress(TimeoutError):
            async with timeout:
                async for raw in ws:
                    frame = json.loads(raw)
                    print(json.dumps(frame) if args.json else _frame_line(frame), flush=True)
                    seen += 1
                    turns += _ends_reply(frame)
                    if (args.frames and seen >= args.frames) or (
                        args.turns and turns >= args.turns
                    ):
                        break
    return 0


# --- Temporal --------------------------------------------------------------------------


async def _brain(args: argparse.Namespace) -> Any:
    from workflows.client import BrainClient

    return BrainClient(await connect(args), settings_for(args))


async def _snapshot(args: argparse.Namespace) -> Any:
    brain = await _brain(args)
    if await brain.status(args.user) is None:
        print(f"no brain for user {args.user!r}", file=sys.stderr)
        return None
    return await brain.snapshot(args.user)


def _when(value: datetime | str | None) -> str:
    if isinstance(value, str):
        return value
    return value.isoformat(timespec="seconds") if value else "-"


async def state(args: argparse.Namespace) -> int:
    snap = await _snapshot(args)
    if snap is None:
        return 1
    if args.json:
        print(snap.model_dump_json(indent=2))
        return 0
    open_tasks = [t for t in snap.tasks.values() if t.status == "open"]
    pending = [a for a in snap.approvals.values() if getattr(a, "status", "") == "pending"]
    print(f"user {snap.user_id}  seq {snap.seq}  last activity {_when(snap.last_activity)}")
    print(f"messages {len(snap.messages)}  tasks {len(snap.tasks)} ({len(open_tasks)} open)  "
          f"memories {len(snap.memories)}  calendar events {len(snap.calendar)}  "
          f"pending approvals {len(pending)}")  # fmt: skip
    for t in sorted(snap.tasks.values(), key=lambda t: t.created_at or datetime.min):
        due = f"  due {_when(t.due)}" if t.due else ""
        remind = f"  remind {_when(t.remind_at)}" if t.remind_at else ""
        print(f"  task {t.id} [{t.status}] {t.title!r}{due}{remind}")
    if snap.preferences:
        print("preferences " + json.dumps(snap.preferences, default=str))
    return 0


async def history(args: argparse.Namespace) -> int:
    snap = await _snapshot(args)
    if snap is None:
        return 1
    messages = snap.messages[-args.last :] if args.last else snap.messages
    if args.json:
        print(json.dumps([m.model_dump(mode="json") for m in messages], indent=2))
        return 0
    for m in messages:
        status = "" if m.status == "completed" else f" [{m.status}]"
        print(f"{_when(m.created_at)} {m.role:<9} {m.text}{status}")
    return 0


async def users(args: argparse.Namespace) -> int:
    client = await connect(args)
    query = 'WorkflowType = "UserBrainWorkflow"'
    if not args.closed:
        query += ' AND ExecutionStatus = "Running"'
    if args.query:
        query += f" AND ({args.query})"
    rows = []
    async for ex in client.list_workflows(query):
        attrs = {p.key.name: p.value for p in ex.typed_search_attributes}
        rows.append(
            {
                "user_id": attrs.get("McosUserId") or ex.id.removeprefix("user-brain:"),
                "workflow_id": ex.id,
                "run_id": ex.run_id,
                "status": ex.status.name if ex.status else None,
                "messages": attrs.get("McosMessageCount"),
                "open_tasks": attrs.get("McosOpenTasks"),
                "last_activity": attrs.get("McosLastActivity"),
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    print(f"{'USER':<24} {'STATUS':<10} {'MESSAGES':>8} {'OPEN TASKS':>10}  LAST ACTIVITY")
    for r in rows:
        last = r["last_activity"]
        print(f"{r['user_id']:<24} {r['status'] or '-':<10} {r['messages'] or 0:>8} "
              f"{r['open_tasks'] or 0:>10}  {_when(last) if last else '-'}")  # fmt: skip
    print(f"{len(rows)} brain(s)")
    return 0
