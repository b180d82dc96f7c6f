"""Configuration from the environment (12-factor).

Every setting has a default that works on one laptop; the README lists them all. This is the only
module that reads settings from the environment: every part builds one ``Config`` at start-up, and a
value that does not parse (``STT_BEAM_SIZE=abc``) raises ``ConfigError`` naming the variable, which
``interview-room`` turns into one line and a non-zero exit before anything starts.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path


class ConfigError(ValueError):
    """A setting's value is not valid; the message names the variable and says what it must be."""


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _bad(name: str, raw: str, must: str) -> ConfigError:
    return ConfigError(f"{name}={raw!r} is not valid: {must}")


def _int(name: str, default: int, lo: int | None = None, hi: int | None = None) -> int:
    """The one integer parser: unset or empty = ``default``; else a whole number within [lo, hi]."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _bad(name, raw, "must be a whole number") from None
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise _bad(name, raw, f"must be at least {lo}" if hi is None else f"must be from {lo} to {hi}")
    return value


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise _bad(name, raw, "must be a number") from None
    if not math.isfinite(value):
        raise _bad(name, raw, "must be a finite number")
    return value


TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off")


def _bool(name: str, default: bool) -> bool:
    """The one boolean parser: 1/true/yes/on or 0/false/no/off (any case); unset or empty = ``default``."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if raw.lower() in TRUE:
        return True
    if raw.lower() in FALSE:
        return False
    raise _bad(name, raw, "must be 1/true/yes/on or 0/false/no/off")


def _choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    """One of ``choices`` (lower-cased); unset or empty = ``default``."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if raw.lower() not in choices:
        raise _bad(name, raw, f"must be one of {', '.join(choices)}")
    return raw.lower()


def _languages(name: str, default: str) -> list[str]:
    """Comma-separated language codes; ``none`` (or ``-``) = none."""
    langs = [p.strip() for p in _env(name, default).split(",") if p.strip()]
    return [] if langs in (["none"], ["-"]) else langs


def _list(name: str) -> list[str]:
    return [p.strip() for p in os.environ.get(name, "").split(",") if p.strip()]


# partial captions of a running utterance: a decode this often while someone speaks (0 = off)
PARTIAL_INTERVAL_MS = 500


@dataclass(frozen=True)
class ListenConfig:
    """``interview-room listen`` runs on the user's own computer, not the server: its two settings only
    (the server's Config would refuse to start over server settings it does not use)."""

    server: str = field(default_factory=lambda: _env("INTERVIEW_ROOM_URL", ""))  # the room's address
    ice_hosts: list[str] = field(default_factory=lambda: _list("ICE_HOSTS"))


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
    llm_provider: str = field(default_factory=lambda: _choice("LLM_PROVIDER", "auto", ("auto", "openai", "offline")))
    llm_model_fast: str = field(default_factory=lambda: _env("LLM_MODEL_FAST", ""))  # detection, translation
    # "Read my screen": a vision-capable model of the same OpenAI-compatible server ("" = LLM_MODEL)
    llm_vision_model: str = field(default_factory=lambda: _env("LLM_VISION_MODEL", ""))
    llm_timeout_s: float = field(default_factory=lambda: _float("LLM_TIMEOUT_S", 20.0))
    llm_max_retries: int = field(default_factory=lambda: _int("LLM_MAX_RETRIES", 2))
    llm_concurrency: int = field(default_factory=lambda: _int("LLM_CONCURRENCY", 64))  # model calls at once
    llm_job_concurrency: int = field(default_factory=lambda: _int("LLM_JOB_CONCURRENCY", 256))  # jobs in flight
    # circuit breaker: after this many model outages in a row (timeouts, 5xx) the offline provider answers
    # for LLM_BREAKER_OPEN_S seconds, then one trial call decides
    llm_breaker_failures: int = field(default_factory=lambda: _int("LLM_BREAKER_FAILURES", 3))
    llm_breaker_open_s: float = field(default_factory=lambda: _float("LLM_BREAKER_OPEN_S", 30.0))
    # jobs one session may hold in an llm worker at once; its typed asks beyond that are dropped (notice rate_limited)
    llm_session_jobs: int = field(default_factory=lambda: _int("LLM_SESSION_JOBS", 8))
    llm_question_pause_ms: int = field(default_factory=lambda: _int("LLM_QUESTION_PAUSE_MS", 1200))
    llm_score_pause_ms: int = field(default_factory=lambda: _int("LLM_SCORE_PAUSE_MS", 6000))
    # mock interviews: the interviewer's voice (auto = OpenAI speech when OPENAI_API_KEY is set, else espeak-ng)
    tts_provider: str = field(
        default_factory=lambda: _choice("TTS_PROVIDER", "auto", ("auto", "openai", "espeak", "off", "none"))
    )
    tts_voice: str = field(default_factory=lambda: _env("TTS_VOICE", ""))  # espeak voice / OpenAI voice name
    tts_model: str = field(default_factory=lambda: _env("TTS_MODEL", "tts-1"))  # OpenAI speech model
    # silence after the candidate's speech before the mock interviewer moves on
    mock_pause_ms: int = field(default_factory=lambda: _int("MOCK_PAUSE_MS", 4500))
    # silence after a follow-up question before the mock interviewer moves on (its last 10 s are announced)
    mock_follow_up_wait_ms: int = field(default_factory=lambda: _int("MOCK_FOLLOW_UP_WAIT_MS", 15000))
    stt_model: str = field(default_factory=lambda: _env("STT_MODEL", ""))
    stt_threads: int = field(default_factory=lambda: _int("STT_THREADS", 0))
    # stt worker: after a mid-speech partial's Whisper call, no such partial for this share of its time
    stt_partial_rest: float = field(default_factory=lambda: _float("STT_PARTIAL_REST", 0.67))
    stt_device: str = field(default_factory=lambda: _env("STT_DEVICE", "cpu"))  # cpu | cuda | auto
    stt_compute_type: str = field(default_factory=lambda: _env("STT_COMPUTE_TYPE", "int8"))  # int8 | float16 | ...
    stt_beam_size: int = field(default_factory=lambda: _int("STT_BEAM_SIZE", 1, lo=1))  # Whisper beam
    # languages whose models load before the stt worker reports ready ([] = lazy: STT_PRELOAD=none)
    stt_preload: list[str] = field(default_factory=lambda: _languages("STT_PRELOAD", "en"))
    # a segment left unacked this long by a dead stt worker is claimed by another
    stt_claim_idle_ms: int = field(default_factory=lambda: _int("STT_CLAIM_IDLE_MS", 10_000, lo=1))
    # Whisper window: the utterance (plus context) rounded up to STT_WINDOW_STEP_S, at least STT_WINDOW_MIN_S
    # seconds (30 = faster-whisper's fixed 30 s window; shorter windows cost a fraction of the encoder)
    stt_window_min_s: float = field(default_factory=lambda: _float("STT_WINDOW_MIN_S", 10.0))
    stt_window_step_s: float = field(default_factory=lambda: _float("STT_WINDOW_STEP_S", 5.0))
    # seconds of the session's previous captioned speech put before each utterance (0 = decode alone)
    stt_context_s: float = field(default_factory=lambda: _float("STT_CONTEXT_S", 6.0))
    # utterances of any sessions decoded in one batched call: at most this many, waiting at most this long
    stt_batch_max: int = field(default_factory=lambda: _int("STT_BATCH_MAX", 8, lo=1))
    stt_batch_wait_ms: int = field(default_factory=lambda: _int("STT_BATCH_WAIT_MS", 0, lo=0))
    ice_servers: list[str] = field(default_factory=lambda: _list("ICE_SERVERS"))
    ice_hosts: list[str] = field(default_factory=lambda: _list("ICE_HOSTS"))
    turn_secret: str = field(default_factory=lambda: _env("TURN_SECRET", ""))  # coturn static-auth-secret
    turn_ttl_seconds: int = field(default_factory=lambda: _int("TURN_TTL_SECONDS", 6 * 3600))
    # internal port of the media node's HTTP API (offers forwarded by signaling)
    media_host: str = field(default_factory=lambda: _env("MEDIA_HOST", "127.0.0.1"))
    media_port: int = field(default_factory=lambda: _int("MEDIA_PORT", 8081))
    media_url: str = field(default_factory=lambda: _env("MEDIA_URL", ""))
    # PCM a media node holds while Redis is away (then the newest segments are refused)
    media_outage_buffer_bytes: int = field(default_factory=lambda: _int("MEDIA_OUTAGE_BUFFER_BYTES", 64 * 1024 * 1024))
    # PCM waiting in stt:segments for a worker at most (then the oldest waiting segments are shed)
    stt_backlog_bytes: int = field(default_factory=lambda: _int("STT_BACKLOG_BYTES", 256 * 1024 * 1024))
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
    # `interview-room listen` (computer audio): pairing codes shown in the room, the companion's credential
    pairing_code_ttl_seconds: int = field(default_factory=lambda: _int("PAIRING_CODE_TTL_SECONDS", 600))
    pairing_attempts_per_ip: int = field(default_factory=lambda: _int("PAIRING_ATTEMPTS_PER_IP", 10))  # per TTL window
    pairing_codes_per_user: int = field(default_factory=lambda: _int("PAIRING_CODES_PER_USER", 20))  # per TTL window
    companion_token_ttl_seconds: int = field(default_factory=lambda: _int("COMPANION_TOKEN_TTL_SECONDS", 14400))
    stt_metrics_port: int = field(default_factory=lambda: _int("STT_METRICS_PORT", 8082))
    llm_metrics_port: int = field(default_factory=lambda: _int("LLM_METRICS_PORT", 8083))
    secret_key: str = field(default_factory=lambda: _env("SECRET_KEY", ""))
    token_ttl_seconds: int = field(default_factory=lambda: _int("TOKEN_TTL_SECONDS", 7 * 24 * 3600))
    max_body_bytes: int = field(default_factory=lambda: _int("MAX_BODY_BYTES", 2 * 1024 * 1024))
    # peers whose X-Forwarded-For is believed (IPs or CIDR ranges of a reverse proxy / ingress); per-IP limits
    trusted_proxies: list[str] = field(default_factory=lambda: _list("TRUSTED_PROXIES"))
    # argon2 password hashing: threads per process, requests that may wait for one (more = 429 busy), cost
    password_hash_threads: int = field(default_factory=lambda: _int("PASSWORD_HASH_THREADS", 2))
    password_hash_queue: int = field(default_factory=lambda: _int("PASSWORD_HASH_QUEUE", 16))
    password_hash_memory_kib: int = field(default_factory=lambda: _int("PASSWORD_HASH_MEMORY_KIB", 19456))
    password_hash_time_cost: int = field(default_factory=lambda: _int("PASSWORD_HASH_TIME_COST", 2))
    # accounts one address may create per hour (each gets the free credits); 0 = no limit
    register_per_ip_hour: int = field(default_factory=lambda: _int("REGISTER_PER_IP_HOUR", 20))
    # data channel, per session on the media node: ask/settings/mock messages refill at CLIENT_MSG_RATE per
    # second up to CLIENT_MSG_BURST (0 rate = no limit), at most CLIENT_INBOX_MAX wait for the llm queue, and
    # a message longer than CLIENT_MSG_MAX_BYTES is refused
    client_msg_rate: float = field(default_factory=lambda: _float("CLIENT_MSG_RATE", 1.0))
    client_msg_burst: int = field(default_factory=lambda: _int("CLIENT_MSG_BURST", 8))
    client_inbox_max: int = field(default_factory=lambda: _int("CLIENT_INBOX_MAX", 16))
    client_msg_max_bytes: int = field(default_factory=lambda: _int("CLIENT_MSG_MAX_BYTES", 8192))
    # VAD / segmenter
    vad_aggressiveness: int = field(default_factory=lambda: _int("VAD_AGGRESSIVENESS", 2, lo=0, hi=3))
    vad_frame_ms: int = field(default_factory=lambda: _int("VAD_FRAME_MS", 20))
    segment_preroll_ms: int = field(default_factory=lambda: _int("SEGMENT_PREROLL_MS", 300))
    segment_hangover: str = field(
        default_factory=lambda: _choice("SEGMENT_HANGOVER", "balanced", ("short", "balanced", "long"))
    )
    segment_min_ms: int = field(default_factory=lambda: _int("SEGMENT_MIN_MS", 300))
    segment_max_ms: int = field(default_factory=lambda: _int("SEGMENT_MAX_MS", 15000))
    partial_interval_ms: int = field(default_factory=lambda: _int("PARTIAL_INTERVAL_MS", PARTIAL_INTERVAL_MS, lo=0))
    segment_early_partial: bool = field(default_factory=lambda: _bool("SEGMENT_EARLY_PARTIAL", True))
    # SMTP for login codes and the recruiter side's e-mails; TLS: auto = verified STARTTLS when the server
    # offers it, require = refuse to send without verified TLS, off = never (a local relay)
    smtp_host: str = field(default_factory=lambda: _env("SMTP_HOST", ""))
    smtp_port: int = field(default_factory=lambda: _int("SMTP_PORT", 25))
    smtp_user: str = field(default_factory=lambda: _env("SMTP_USER", ""))
    smtp_password: str = field(default_factory=lambda: _env("SMTP_PASSWORD", ""))
    smtp_from: str = field(default_factory=lambda: _env("SMTP_FROM", "interview-room@localhost"))
    smtp_tls: str = field(default_factory=lambda: _choice("SMTP_TLS", "auto", ("auto", "require", "off")))
    # development: without SMTP_HOST, write whole e-mails (login codes, candidate links) to the log
    dev_log_emails: bool = field(default_factory=lambda: _bool("DEV_LOG_EMAILS", False))
    # whether DEV_LOG_EMAILS was given at all (`interview-room run` turns it on when it was not)
    dev_log_emails_set: bool = field(default_factory=lambda: "DEV_LOG_EMAILS" in os.environ)
    # billing
    stripe_api_key: str = field(default_factory=lambda: _env("STRIPE_API_KEY", ""))
    stripe_webhook_secret: str = field(default_factory=lambda: _env("STRIPE_WEBHOOK_SECRET", ""))
    stripe_api_base: str = field(default_factory=lambda: _env("STRIPE_API_BASE", ""))
    paypal_client_id: str = field(default_factory=lambda: _env("PAYPAL_CLIENT_ID", ""))
    paypal_client_secret: str = field(default_factory=lambda: _env("PAYPAL_CLIENT_SECRET", ""), repr=False)
    paypal_webhook_id: str = field(default_factory=lambda: _env("PAYPAL_WEBHOOK_ID", ""))
    paypal_api_base: str = field(default_factory=lambda: _env("PAYPAL_API_BASE", "https://api-m.paypal.com"))
    public_url: str = field(default_factory=lambda: _env("PUBLIC_URL", ""))
    # links the web client's Links page shows; empty (or not an https?:// address / e-mail) = the link is hidden
    source_url: str = field(default_factory=lambda: _env("SOURCE_URL", ""))
    support_email: str = field(default_factory=lambda: _env("SUPPORT_EMAIL", ""))
    # e-mails of users who may confirm offline (manual) payments
    admin_emails: list[str] = field(default_factory=lambda: [e.lower() for e in _list("ADMIN_EMAILS")])
    # camera video in recordings: answers = recruiter candidates' recorded answers only, all = every
    # session whose browser sends a camera, off = audio only
    record_video: str = field(default_factory=lambda: _env("RECORD_VIDEO", "answers"))
    # recruiters: erase candidates (recordings included) this many days after they finished (0 = keep)
    candidate_retention_days: float = field(default_factory=lambda: _float("CANDIDATE_RETENTION_DAYS", 0.0))
    # assistant and mock sessions (their recordings, transcripts, reports) are erased this long after they ended
    session_retention_days: float = field(default_factory=lambda: _float("SESSION_RETENTION_DAYS", 0.0))
    # recruiters: e-mail a reminder this many hours before a candidate's link expires (0 = never)
    reminder_hours: float = field(default_factory=lambda: _float("REMINDER_HOURS", 24.0))
    # candidate links: attempts per question that may be abandoned on top of its retakes (a closed tab,
    # a lost connection); more are refused, so a link holder cannot open sessions without end
    candidate_spare_attempts: int = field(default_factory=lambda: _int("CANDIDATE_SPARE_ATTEMPTS", 5))
    # candidate links: seconds one candidate may record in all; 0 = each question's answer time (plus
    # the 30 s the time limit allows) times its retakes + 1, plus 10 minutes
    candidate_max_recorded_seconds: float = field(default_factory=lambda: _float("CANDIDATE_MAX_RECORDED_SECONDS", 0.0))
    # ATS webhooks to loopback/private addresses are refused unless this is set (tests, on-prem ATS)
    webhook_allow_private: bool = field(default_factory=lambda: _bool("WEBHOOK_ALLOW_PRIVATE", False))
    # the room's web page panel: the server checks a typed address (loads? may be framed?) only on public
    # addresses unless this is set (tests); a private one is then framed unchecked
    webpage_check_allow_private: bool = field(default_factory=lambda: _bool("WEBPAGE_CHECK_ALLOW_PRIVATE", False))
    # free space DATA_DIR must keep: below it new sessions get 507 insufficient_storage, and a live session stops
    # recording (and being billed) with a notice; checked every DISK_CHECK_INTERVAL_MS while a session is live
    min_free_disk_mb: float = field(default_factory=lambda: _float("MIN_FREE_DISK_MB", 200.0))
    disk_check_interval_ms: int = field(default_factory=lambda: _int("DISK_CHECK_INTERVAL_MS", 5000))
    # `interview-room run` restarts what it started when it dies (after SUPERVISE_BACKOFF_MS, doubling) and
    # gives up, stopping the stack with exit code 1, after SUPERVISE_MAX_RESTARTS restarts of one child in
    # SUPERVISE_WINDOW_S
    supervise_max_restarts: int = field(default_factory=lambda: _int("SUPERVISE_MAX_RESTARTS", 5))
    supervise_window_s: float = field(default_factory=lambda: _float("SUPERVISE_WINDOW_S", 600.0))
    supervise_backoff_ms: int = field(default_factory=lambda: _int("SUPERVISE_BACKOFF_MS", 1000))
    # rows of tables that only grow (payment-gateway events, the ATS webhook log) are deleted after this many
    # days; expired logins a day after expiry (0 = keep everything)
    prune_after_days: float = field(default_factory=lambda: _float("PRUNE_AFTER_DAYS", 90.0))
    # every query is bounded: the server cancels a statement after DB_STATEMENT_TIMEOUT_MS (a lock held by a
    # stuck transaction), the client gives up after DB_COMMAND_TIMEOUT_S (a hung or unreachable server)
    db_statement_timeout_ms: int = field(default_factory=lambda: _int("DB_STATEMENT_TIMEOUT_MS", 15_000))
    db_command_timeout_s: float = field(default_factory=lambda: _float("DB_COMMAND_TIMEOUT_S", 20.0))
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
    """Every setting, parsed and checked; raises ``ConfigError`` (naming the variable) on a bad value."""
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
