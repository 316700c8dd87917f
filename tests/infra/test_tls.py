"""Outbound HTTP clients share the process's TLS context instead of building one each: a
context loads the CA bundle, ~31 ms of CPU per client (mcos.infra.tls)."""

from __future__ import annotations

import ssl
from typing import Any

from mcos.infra.egress import AddressPolicy, guarded_client
from mcos.infra.tls import client_tls


def test_one_context_per_process_and_kind() -> None:
    assert client_tls() is client_tls()
    assert client_tls(trust_env=False) is client_tls(trust_env=False)
    assert client_tls() is not client_tls(trust_env=False)
    ctx = client_tls(trust_env=False)
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname  # still verifying


async def test_guarded_clients_build_no_context_of_their_own(contexts_built: list[Any]) -> None:
    for _ in range(3):  # a calendar fetch makes one per fetch
        async with guarded_client(AddressPolicy(), 5.0) as http:
            pool = http._transport._pool  # type: ignore[attr-defined]
            assert pool._ssl_context is client_tls(trust_env=False)
    assert contexts_built == []
