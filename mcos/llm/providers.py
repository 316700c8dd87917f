"""Choosing the LLM provider from settings."""

from __future__ import annotations

from mcos.kernel.settings import Settings
from mcos.llm.base import LlmProvider
from mcos.llm.offline import OfflineProvider
from mcos.llm.openai_provider import OpenAIProvider


def make_provider(settings: Settings) -> LlmProvider:
    """The provider the settings ask for (``offline``, ``openai`` or ``local``).

    ``local`` is the same OpenAI-compatible client pointed at the llama.cpp server that the
    entry point (``mcos dev``, ``worker.py``) started and recorded in ``llm_local_url``.
    """
    if settings.llm_provider == "offline":
        return OfflineProvider(token_delay_ms=settings.offline_token_delay_ms)
    if settings.llm_provider == "openai":
        return OpenAIProvider(settings)
    if settings.llm_provider == "local":
        if not settings.llm_local_url:
            raise ValueError(
                "MCOS_LLM_PROVIDER=local needs the local llama.cpp server: run `mcos dev` or "
                "`python worker.py` (they start it), or set MCOS_LLM_LOCAL_URL to a running one"
            )
        local = OpenAIProvider.for_local_server(settings)
        local.billable = False  # a model on this machine costs nothing per token
        return local
    raise ValueError(f"unknown llm_provider {settings.llm_provider!r}")
