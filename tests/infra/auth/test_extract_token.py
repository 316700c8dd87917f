from __future__ import annotations

import pytest

from mcos.infra.auth import extract_token

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.sig-_x"


@pytest.mark.parametrize(
    ("headers", "query", "expected"),
    [
        ({"Authorization": f"Bearer {TOKEN}"}, {}, TOKEN),
        ({"authorization": f"bearer   {TOKEN}  "}, {}, TOKEN),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, {}, None),
        ({"Authorization": "Bearer "}, {}, None),
        ({"Cf-Access-Jwt-Assertion": TOKEN}, {}, TOKEN),
        ({"Sec-WebSocket-Protocol": f"bearer, {TOKEN}"}, {}, TOKEN),
        ({"sec-websocket-protocol": f"mcos.v1, Bearer,{TOKEN}"}, {}, TOKEN),
        ({"Sec-WebSocket-Protocol": "bearer"}, {}, None),
        ({"Sec-WebSocket-Protocol": f"{TOKEN}, bearer"}, {}, None),
        ({"Sec-WebSocket-Protocol": "mcos.v1"}, {}, None),
        ({}, {"access_token": TOKEN}, TOKEN),
        ({}, {"access_token": ""}, None),
        ({}, {"token": TOKEN}, None),
        ({}, {}, None),
        # precedence: header over Cloudflare over subprotocol over query
        ({"Authorization": "Bearer a", "Cf-Access-Jwt-Assertion": "b"}, {"access_token": "d"}, "a"),
        ({"Cf-Access-Jwt-Assertion": "b", "Sec-WebSocket-Protocol": "bearer, c"}, {}, "b"),
        ({"Sec-WebSocket-Protocol": "bearer, c"}, {"access_token": "d"}, "c"),
    ],
)
def test_extract_token(
    headers: dict[str, str], query: dict[str, str], expected: str | None
) -> None:
    assert extract_token(headers, query) == expected
