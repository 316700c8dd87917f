"""LLM providers (offline and OpenAI-compatible), tool schemas, intents and prompt building."""
