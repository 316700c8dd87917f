"""``mcos replay``: replay brains' histories against the current code (determinism check)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, TextIO

HELP = """\
Fetch workflow histories and replay them against the current workflow code with the
worker's data converter and sandbox. Exit 0: every history replays; 1: at least one does
not (each failure prints the user, the run id, the event id and what differed); 2: bad
arguments or nothing to replay.

examples:
  mcos replay alice bob                      every run of these users' brains
  mcos replay --query 'McosUserId="alice"'   any visibility query
  mcos replay --file alice.json              a history exported with
                                             `temporal workflow show -w user-brain:alice
                                              --output json --address 127.0.0.1:7233`
  mcos replay --all                          every brain, calendar and retention workflow
"""


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "replay",
        parents=[common],
        help="replay histories against the current code (non-zero exit on nondeterminism)",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("users", nargs="*", metavar="USER", help="user ids whose brains to replay")
    p.add_argument("--query", help="a Temporal visibility query selecting the executions")
    p.add_argument(
        "--file",
        action="append",
        type=Path,
        default=[],
        help="an exported history JSON file (repeatable; a directory: every *.json under it)",
    )
    p.add_argument("--all", action="store_true", help="every workflow this code runs")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(func=cmd_replay)


def _files(paths: list[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        out.extend(sorted(p.rglob("*.json")) if p.is_dir() else [p])
    return out


class Progress:
    """A one-line bar on stderr (only on a terminal, and only when there are several)."""

    def __init__(self, total: int | None, stream: TextIO, enabled: bool) -> None:
        self.total, self.stream, self.done = total, stream, 0
        self.enabled = enabled and stream.isatty() and (total is None or total > 1)

    def step(self, label: str) -> None:
        self.done += 1
        if not self.enabled:
            return
        if self.total:
            filled = int(30 * self.done / self.total)
            bar = f"[{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total}"
        else:
            bar = f"[{self.done}]"
        self.stream.write(f"\r\033[K{bar} {label[:60]}")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.done:
            self.stream.write("\r\033[K")
            self.stream.flush()


async def _replay(args: argparse.Namespace) -> int:
    from temporalio.client import WorkflowHistory

    from mcos.cli.common import connect
    from workflows.replay import (
        all_query,
        count,
        fetch_histories,
        history_from_file,
        replay_histories,
        user_query,
    )

    chosen = sum(bool(x) for x in (args.users, args.query, args.file, args.all))
    if chosen != 1:
        print("mcos replay: give USER…, --query, --file or --all (exactly one)", file=sys.stderr)
        return 2
    total: int | None
    if args.file:
        files = _files(args.file)
        try:
            loaded = [history_from_file(f) for f in files]
        except (OSError, ValueError) as exc:
            print(f"mcos replay: cannot read a history file: {exc}", file=sys.stderr)
            return 2
        histories: Any = loaded
        total = len(loaded)
    else:
        try:
            query = args.query or (all_query() if args.all else user_query(args.users))
        except ValueError as exc:
            print(f"mcos replay: {exc}", file=sys.stderr)
            return 2
        client = await connect(args)
        try:
            total = await count(client, query)
        except Exception as exc:  # noqa: BLE001 - a bad query: say so, exit 2
            print(f"mcos replay: the query was refused: {exc}", file=sys.stderr)
            return 2
        histories = fetch_histories(client, query)
    if total == 0:
        print("mcos replay: no histories to replay", file=sys.stderr)
        return 2

    progress = Progress(total, sys.stderr, not args.no_progress and not args.json)
    outcomes = []

    async def counted(source: Any) -> AsyncIterator[WorkflowHistory]:
        if isinstance(source, list):
            for h in source:
                yield h
        else:
            async for h in source:
                yield h

    async for outcome in replay_histories(counted(histories)):
        outcomes.append(outcome)
        progress.step(outcome.workflow_id)
        if not outcome.ok:
            progress.close()
            if not args.json:
                who = outcome.user_id or outcome.workflow_id
                where = f"event {outcome.event_id}" if outcome.event_id else "event ?"
                kind = "NONDETERMINISM" if "ondeterminism" in (outcome.error or "") else "FAILED"
                print(f"{kind} user {who} run {outcome.run_id} {where}: {outcome.error}")
    progress.close()
    failed = [o for o in outcomes if not o.ok]
    if args.json:
        print(
            json.dumps(
                {
                    "replayed": len(outcomes),
                    "failed": len(failed),
                    "results": [o.as_dict() for o in outcomes],
                },
                indent=2,
            )
        )
    else:
        workflows = len({o.workflow_id for o in outcomes})
        events = sum(o.events for o in outcomes)
        print(
            f"replayed {len(outcomes)} run(s) of {workflows} workflow(s), {events} events: "
            f"{len(outcomes) - len(failed)} ok, {len(failed)} nondeterministic"
        )
    return 1 if failed else 0


def cmd_replay(args: argparse.Namespace) -> int:
    return asyncio.run(_replay(args))
