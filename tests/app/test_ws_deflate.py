"""permessage-deflate on the WebSocket: off by default (its zlib state was ~41 KB of each
idle connection's ~91 KB), on when configured; the socket works either way."""

from __future__ import annotations

import json

import pytest
from temporalio.client import Client

from mcos.kernel.settings import Settings
from tests.app.conftest import recv_until, running_api


@pytest.mark.parametrize("deflate", [False, True])
async def test_deflate_is_negotiated_only_when_configured(
    settings: Settings, temporal_client: Client, user: str, deflate: bool
) -> None:
    s = settings.model_copy(update={"ws_per_message_deflate": deflate})
    async with running_api(s, temporal_client) as api:
        ws = await api.ws(user)  # the client offers permessage-deflate
        try:
            assert ws.response is not None
            extensions = ws.response.headers.get("Sec-WebSocket-Extensions") or ""
            assert ("permessage-deflate" in extensions) is deflate, extensions
            await ws.send(json.dumps({"type": "ping"}))
            assert (await recv_until(ws, lambda f: f["type"] == "pong"))[-1]["type"] == "pong"
        finally:
            await ws.close()
