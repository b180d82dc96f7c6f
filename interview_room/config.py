"""Configuration from the environment (12-factor).

Every setting has a default that works on one laptop; the README lists them all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, str(default)))


def _float(name: str, default: float) -> float:
    return float(os.environ.get(name, str(default)))


def _list(name: str) -> list[str]:
    return [p.strip() for p in os.environ.get(name, "").split(",") if p.strip()]


@dataclass(frozen=True)
class Config:
    http_host: str = field(default_factory=lambda: _env("HTTP_HOST", "127.0.0.1"))
    http_port: int = field(default_factory=lambda: _int("HTTP_PORT", 8080))
    data_dir: Path = field(default_factory=lambda: Path(_env("DATA_DIR", "./data")).resolve())
    database_url: str = field(default_factory=lambda: _env("DATABASE_URL", ""))
    redis_url: str = field(default_factory=lambda: _env("REDIS_URL", ""))
    openai_api_key: str = field(default_factory=lambda: _env("OPENAI_API_KEY", ""))
    openai_base_url: str = field(default_factory=lambda: _env("OPENAI_BASE_URL", ""))
    llm_model: str = field(default_factory=lambda: _env("LLM_MODEL", "gpt-4o-mini"))
    # llm worker: provider "auto" = openai when OPENAI_API_KEY or OPENAI_BASE_URL is set, else offline
    llm_provider: str = field(default_factory=lambda: _env("LLM_PROVIDER", "auto"))
    llm_model_fast: str = field(default_factory=lambda: _env("LLM_MODEL_FAST", ""))  # detection, translation
    llm_timeout_s: float = field(default_factory=lambda: _float("LLM_TIMEOUT_S", 20.0))
    llm_max_retries: int = field(default_factory=lambda: _int("LLM_MAX_RETRIES", 2))
    llm_concurrency: int = field(default_factory=lambda: _int("LLM_CONCURRENCY", 64))  # model calls at once
    llm_job_concurrency: int = field(default_factory=lambda: _int("LLM_JOB_CONCURRENCY", 256))  # jobs in flight
    llm_question_pause_ms: int = field(default_factory=lambda: _int("LLM_QUESTION_PAUSE_MS", 1200))
    llm_score_pause_ms: int = field(default_factory=lambda: _int("LLM_SCORE_PAUSE_MS", 6000))
    # mock interviews: the interviewer's voice (auto = OpenAI speech when OPENAI_API_KEY is set, else espeak-ng)
    tts_provider: str = field(default_factory=lambda: _env("TTS_PROVIDER", "auto"))  # auto | openai | espeak | off
    tts_voice: str = field(default_factory=lambda: _env("TTS_VOICE", ""))  # espeak voice / OpenAI voice name
    tts_model: str = field(default_factory=lambda: _env("TTS_MODEL", "tts-1"))  # OpenAI speech model
    # silence after the candidate's speech before the mock interviewer moves on
    mock_pause_ms: int = field(default_factory=lambda: _int("MOCK_PAUSE_MS", 4500))
    stt_model: str = field(default_factory=lambda: _env("STT_MODEL", ""))
    stt_threads: int = field(default_factory=lambda: _int("STT_THREADS", 0))
    stt_device: str = field(default_factory=lambda: _env("STT_DEVICE", "cpu"))  # cpu | cuda | auto
    stt_compute_type: str = field(default_factory=lambda: _env("STT_COMPUTE_TYPE", "int8"))  # int8 | float16 | ...
    ice_servers: list[str] = field(default_factory=lambda: _list("ICE_SERVERS"))
    ice_hosts: list[str] = field(default_factory=lambda: _list("ICE_HOSTS"))
    turn_secret: str = field(default_factory=lambda: _env("TURN_SECRET", ""))  # coturn static-auth-secret
    turn_ttl_seconds: int = field(default_factory=lambda: _int("TURN_TTL_SECONDS", 6 * 3600))
    # internal port of the media node's HTTP API (offers forwarded by signaling)
    media_host: str = field(default_factory=lambda: _env("MEDIA_HOST", "127.0.0.1"))
    media_port: int = field(default_factory=lambda: _int("MEDIA_PORT", 8081))
    media_url: str = field(default_factory=lambda: _env("MEDIA_URL", ""))
    # credential of every call to a media node's /internal/* API; empty = generated in DATA_DIR
    internal_token: str = field(default_factory=lambda: _env("INTERNAL_TOKEN", ""))
    # a media node over either limit answers new sessions 503 node_full (signaling tries the next node)
    media_max_sessions: int = field(default_factory=lambda: _int("MEDIA_MAX_SESSIONS", 100))  # 0 = no limit
    media_max_cpu: float = field(default_factory=lambda: _float("MEDIA_MAX_CPU", 0.0))  # cores; 0 = no limit
    media_max_troubleshoot: int = field(default_factory=lambda: _int("MEDIA_MAX_TROUBLESHOOT", 20))
    # per user: live sessions at once (recruiters' recorded answers apart), troubleshooting peers
    max_live_sessions_per_user: int = field(default_factory=lambda: _int("MAX_LIVE_SESSIONS_PER_USER", 3))
    troubleshoot_per_user: int = field(default_factory=lambda: _int("TROUBLESHOOT_PER_USER", 2))  # at once
    troubleshoot_per_minute: int = field(default_factory=lambda: _int("TROUBLESHOOT_PER_MINUTE", 5))
    stt_metrics_port: int = field(default_factory=lambda: _int("STT_METRICS_PORT", 8082))
    llm_metrics_port: int = field(default_factory=lambda: _int("LLM_METRICS_PORT", 8083))
    secret_key: str = field(default_factory=lambda: _env("SECRET_KEY", ""))
    token_ttl_seconds: int = field(default_factory=lambda: _int("TOKEN_TTL_SECONDS", 7 * 24 * 3600))
    max_body_bytes: int = field(default_factory=lambda: _int("MAX_BODY_BYTES", 2 * 1024 * 1024))
    # peers whose X-Forwarded-For is believed (a reverse proxy / ingress); used for per-IP rate limits
    trusted_proxies: list[str] = field(default_factory=lambda: _list("TRUSTED_PROXIES"))
    # accounts one address may create per hour (each gets the free credits); 0 = no limit
    register_per_ip_hour: int = field(default_factory=lambda: _int("REGISTER_PER_IP_HOUR", 20))
    # VAD / segmenter
    vad_aggressiveness: int = field(default_factory=lambda: _int("VAD_AGGRESSIVENESS", 2))
    vad_frame_ms: int = field(default_factory=lambda: _int("VAD_FRAME_MS", 20))
    segment_preroll_ms: int = field(default_factory=lambda: _int("SEGMENT_PREROLL_MS", 300))
    segment_hangover: str = field(default_factory=lambda: _env("SEGMENT_HANGOVER", "balanced"))
    segment_min_ms: int = field(default_factory=lambda: _int("SEGMENT_MIN_MS", 300))
    segment_max_ms: int = field(default_factory=lambda: _int("SEGMENT_MAX_MS", 15000))
    partial_interval_ms: int = field(default_factory=lambda: _int("PARTIAL_INTERVAL_MS", 0))
    segment_early_partial: bool = field(default_factory=lambda: _env("SEGMENT_EARLY_PARTIAL", "1") not in ("0", "false", "no"))
    # SMTP for login codes
    smtp_host: str = field(default_factory=lambda: _env("SMTP_HOST", ""))
    smtp_port: int = field(default_factory=lambda: _int("SMTP_PORT", 25))
    smtp_user: str = field(default_factory=lambda: _env("SMTP_USER", ""))
    smtp_password: str = field(default_factory=lambda: _env("SMTP_PASSWORD", ""))
    smtp_from: str = field(default_factory=lambda: _env("SMTP_FROM", "interview-room@localhost"))
    # billing
    stripe_api_key: str = field(default_factory=lambda: _env("STRIPE_API_KEY", ""))
    stripe_webhook_secret: str = field(default_factory=lambda: _env("STRIPE_WEBHOOK_SECRET", ""))
    stripe_api_base: str = field(default_factory=lambda: _env("STRIPE_API_BASE", ""))
    public_url: str = field(default_factory=lambda: _env("PUBLIC_URL", ""))
    # e-mails of users who may confirm offline (manual) payments
    admin_emails: list[str] = field(default_factory=lambda: [e.lower() for e in _list("ADMIN_EMAILS")])
    # camera video in recordings: answers = recruiter candidates' recorded answers only, all = every
    # session whose browser sends a camera, off = audio only
    record_video: str = field(default_factory=lambda: _env("RECORD_VIDEO", "answers"))
    # recruiters: erase candidates (recordings included) this many days after they finished (0 = keep)
    candidate_retention_days: float = field(default_factory=lambda: _float("CANDIDATE_RETENTION_DAYS", 0.0))
    # recruiters: e-mail a reminder this many hours before a candidate's link expires (0 = never)
    reminder_hours: float = field(default_factory=lambda: _float("REMINDER_HOURS", 24.0))
    # ATS webhooks to loopback/private addresses are refused unless this is set (tests, on-prem ATS)
    webhook_allow_private: bool = field(
        default_factory=lambda: _env("WEBHOOK_ALLOW_PRIVATE", "0") not in ("0", "false", "no", "")
    )
    log_level: str = field(default_factory=lambda: _env("LOG_LEVEL", "INFO"))

    @property
    def recordings_dir(self) -> Path:
        return self.data_dir / "recordings"

    @property
    def model_cache_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def media_base_url(self) -> str:
        return self.media_url or f"http://{self.media_host}:{self.media_port}"


HANGOVER_MS: dict[str, int] = {"short": 250, "balanced": 450, "long": 900}


def load() -> Config:
    return Config()


def secret_key(cfg: Config) -> str:
    """SECRET_KEY from the environment; for a local run without one, a random key kept in DATA_DIR."""
    if cfg.secret_key:
        return cfg.secret_key
    import secrets

    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    f = cfg.data_dir / "secret_key"
    if not f.exists():
        f.write_text(secrets.token_urlsafe(48))
        f.chmod(0o600)
    return f.read_text().strip()
