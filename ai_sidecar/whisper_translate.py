"""Offline translation into English by Whisper's own ``translate`` task: no AI model, no download.

Which directions work without an AI model:

- speech in another language -> English: yes. The multilingual Whisper model the stt worker already
  uses for every non-English session (packaged ``base``, or ``STT_MODEL`` when that is multilingual)
  decodes the utterance a second time with ``task="translate"``;
- English -> another language, and one other language -> another: no. They need an AI model (the llm
  worker's provider); without one the llm worker says so in a ``translation_unavailable`` notice.

After a final caption is published the stt worker calls ``WhisperTranslator.after_caption``. It
decodes only when the session switched translation on (the ``translate`` setting, as the llm worker
saved it), the session's answer language is English, the caption is not English, and no AI model is
configured (with a model the llm worker translates, as before). So only sessions that asked pay for
the second decode. The result is an ordinary ``translation`` event (``ref`` = the caption id,
``lang`` = ``en``), stored like the llm worker's and published once by the same key.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from interview_room import bus
from interview_room.config import Config
from interview_room.messages import Caption, Segment, Translation
from interview_room.store import insights

from .llm.session import settings_key
from .models import ModelUnavailable
from .transcriber import Transcriber

log = logging.getLogger("stt.translate")

TARGET = "en"  # the one language Whisper translates into


def ai_model_configured(cfg: Config) -> bool:
    """The llm worker's LLM_PROVIDER rule: "auto" means a model when a key or a base URL is set."""
    if cfg.llm_provider in ("openai", "offline"):
        return cfg.llm_provider == "openai"
    return bool(cfg.openai_api_key or cfg.openai_base_url)


def wants_whisper_translation(settings: dict[str, Any] | None, caption_lang: str, model_configured: bool) -> bool:
    """True when this caption should be translated into English by Whisper (see the module doc)."""
    if model_configured or not settings or not settings.get("translate"):
        return False
    if settings.get("answer_language") != TARGET:
        return False
    lang = caption_lang if caption_lang and caption_lang != "auto" else str(settings.get("listen_language") or "")
    return bool(lang) and lang not in ("auto", TARGET)


def translation_key(ref: str) -> str:
    """``publish_once`` key: the llm worker's key for the same translation, so it is sent once."""
    return f"translation:{ref}:{TARGET}"


class WhisperTranslator:
    """The stt worker's hook: one extra Whisper decode (``task="translate"``) per caption that asks for it."""

    def __init__(
        self,
        cfg: Config,
        pool: asyncpg.Pool,
        r: aioredis.Redis,
        transcriber: Transcriber,
        in_thread: Callable[..., Awaitable[Any]],
    ) -> None:
        self.pool = pool
        self.r = r
        self.transcriber = transcriber
        self.in_thread = in_thread  # the worker's Whisper thread: one decode at a time
        self.model_configured = ai_model_configured(cfg)
        self.decodes = 0  # translate decodes run (for tests and logs)

    async def _settings(self, session_id: str) -> dict[str, Any] | None:
        raw = await self.r.get(settings_key(session_id))
        if not raw:
            return None
        try:
            s = json.loads(raw)
        except ValueError:
            return None
        return s if isinstance(s, dict) else None

    async def after_caption(self, seg: Segment, caption: Caption) -> None:
        """Best effort: a failure is logged and costs only the translation, never the caption."""
        if self.model_configured:
            return
        try:
            if not wants_whisper_translation(await self._settings(seg.session_id), caption.lang, False):
                return
            if await self.r.exists(f"published:{translation_key(caption.id)}"):
                return  # a redelivered segment: already translated
            self.decodes += 1
            text = await self.in_thread(self.transcriber.translate_to_english, seg.pcm, caption.lang)
            if not text:
                log.info("no translation id=%s lang=%s", caption.id, caption.lang)
                return
            await insights.insert_translation(self.pool, seg.session_id, caption.id, TARGET, text)
            await bus.publish_once(
                self.r, seg.session_id, translation_key(caption.id), Translation(caption.id, TARGET, text)
            )
            log.info("whisper translation id=%s from=%s text=%r", caption.id, caption.lang, text)
        except ModelUnavailable as e:
            log.warning("no multilingual model for translation id=%s: %s", caption.id, e)
        except (asyncpg.PostgresError, OSError, RedisError) as e:
            log.warning("translation skipped id=%s error=%s", caption.id, e)
