"""The provider the settings ask for: the llm worker's one provider set-up for every model call."""

from __future__ import annotations

from interview_room.config import Config

from .breaker import CircuitBreaker
from .fallback import with_offline_fallback
from .offline import OfflineProvider
from .openai_provider import OpenAIProvider
from .provider import Provider


def make_provider(cfg: Config) -> Provider:
    """``LLM_PROVIDER``: openai, offline, or auto (openai when a key or base URL is configured).
    A model's failed calls fall back to the offline provider (``fallback.FallbackProvider``)."""
    choice = cfg.llm_provider.lower()
    if choice == "openai" or (choice == "auto" and (cfg.openai_api_key or cfg.openai_base_url)):
        model = OpenAIProvider(
            api_key=cfg.openai_api_key,
            base_url=cfg.openai_base_url,
            model=cfg.llm_model,
            fast_model=cfg.llm_model_fast,
            timeout=cfg.llm_timeout_s,
            max_retries=cfg.llm_max_retries,
            breaker=CircuitBreaker(name="openai", failures=cfg.llm_breaker_failures, open_s=cfg.llm_breaker_open_s),
            vision_model=cfg.llm_vision_model,
        )
        return with_offline_fallback(model)
    return OfflineProvider()
