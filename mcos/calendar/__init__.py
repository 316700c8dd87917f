"""Calendar sources (ICS feeds, the Google Calendar MCP server), sync diffs, the sync window
and travel detection: pure functions plus thin I/O modules (``ics``, ``google_mcp``)."""
