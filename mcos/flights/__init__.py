"""Flight search over MCP: airports, the bundled server, the client, normalization, ranking."""
