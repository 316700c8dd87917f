"""What the operator commands share: the options for Temporal and the API, and connecting."""

from __future__ import annotations

import argparse

from temporalio.client import Client

from mcos.kernel.settings import Settings, get_settings


def common_parser() -> argparse.ArgumentParser:
    """``--address``, ``--namespace``, ``--api``, ``--token``, ``--json`` on every operator
    command (defaults from the settings: ``MCOS_TEMPORAL_ADDRESS``, ``MCOS_HOST``/``PORT``)."""
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("connection")
    g.add_argument(
        "--address",
        help="Temporal frontend host:port (default MCOS_TEMPORAL_ADDRESS, else the dev "
        "server on 127.0.0.1:MCOS_TEMPORAL_DEV_PORT)",
    )
    g.add_argument("--namespace", help="Temporal namespace (default MCOS_TEMPORAL_NAMESPACE)")
    g.add_argument(
        "--api", help="the API's base URL (default http://MCOS_HOST:MCOS_PORT)", metavar="URL"
    )
    g.add_argument(
        "--token",
        help="a bearer token for the API (default: a dev token signed with MCOS_JWT_SECRET)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    return p


def settings_for(args: argparse.Namespace) -> Settings:
    settings = get_settings()
    update = {}
    if getattr(args, "address", None):
        update["temporal_address"] = args.address
    if getattr(args, "namespace", None):
        update["temporal_namespace"] = args.namespace
    return settings.model_copy(update=update) if update else settings


async def connect(args: argparse.Namespace) -> Client:
    from mcos.infra.temporal import connect_client

    return await connect_client(settings_for(args))


def api_url(args: argparse.Namespace) -> str:
    if getattr(args, "api", None):
        return args.api.rstrip("/")
    s = get_settings()
    host = "127.0.0.1" if s.host in ("0.0.0.0", "::") else s.host
    return f"http://{host}:{s.port}"


def api_token(args: argparse.Namespace, user: str) -> str:
    if getattr(args, "token", None):
        return args.token
    from mcos.infra.auth import issue_dev_token

    return issue_dev_token(user, get_settings())
