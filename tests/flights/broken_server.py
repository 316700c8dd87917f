"""An MCP server whose ``search_flights`` crashes the process (``crash``) or never returns
(``hang``), chosen by the first argument."""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from mcp.server.mcpserver import MCPServer

MODE = sys.argv[1] if len(sys.argv) > 1 else "crash"
server = MCPServer("broken-flights")


@server.tool()
def search_flights(params: dict[str, Any]) -> str:
    """Crashes or hangs."""
    if MODE == "crash":
        os._exit(7)
    time.sleep(600)  # blocks the whole server, like a wedged upstream call
    return "[]"


if __name__ == "__main__":
    server.run("stdio")
