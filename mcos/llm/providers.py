"""Choosing the LLM provider from settings."""

from __future__ import annotations

from mcos.kernel.settings import Settings
from mcos.llm.base import LlmProvider
from mcos.llm.offline import OfflineProvider
from mcos.llm.openai_provider import OpenAIProvider


def make_provider(settings: Settings) -> LlmProvider:
    """The provider the settings ask for (``offline`` or ``openai``)."""
    if settings.llm_provider == "offline":
        return OfflineProvider(token_delay_ms=settings.offline_token_delay_ms)
    if settings.llm_provider == "openai":
        return OpenAIProvider(settings)
    raise ValueError(f"unknown llm_provider {settings.llm_provider!r}")
