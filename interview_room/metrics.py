"""Prometheus metrics shared by the processes (on every part's /metrics; k8s/components/monitoring charts them)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

PEER_CONNECTIONS = Gauge("ir_peer_connections", "Open WebRTC peer connections on this media node")
SESSIONS_LIVE = Gauge("ir_sessions_live", "Sessions with media on this node")
SEGMENTS = Counter("ir_segments_total", "Utterance segments published", ["role"])
SEGMENTS_REJECTED = Counter("ir_segments_rejected_total", "Segments dropped by the second VAD check or as empty", ["reason"])
AUDIO_FRAMES_DROPPED = Counter(
    "ir_audio_frames_dropped_total", "20 ms audio frames dropped: recorder queue full, or in segments shed"
)
SEGMENTS_SHED = Counter(
    "ir_segments_shed_total", "Final segments never transcribed: outage_buffer_full | backlog_full", ["reason"]
)
CAPTIONS = Counter("ir_captions_total", "Final captions published")
CAPTION_LATENCY = Histogram(
    "ir_caption_latency_seconds",
    "End of speech to final caption published",
    buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0),
)
STT_SECONDS = Histogram("ir_stt_seconds", "Whisper transcription time per segment")
STREAM_LAG = Gauge("ir_stream_lag", "Entries waiting or pending in a consumer group", ["stream"])
LLM_TTFT = Histogram(
    "ir_llm_time_to_first_token_seconds", "LLM time to first answer token", buckets=(0.1, 0.25, 0.5, 1, 1.5, 2, 3, 5, 10)
)
LLM_ANSWER_SECONDS = Histogram(
    "ir_llm_answer_seconds", "Question's final caption to answer.done", buckets=(0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30, 60)
)
LLM_ERRORS = Counter("ir_llm_errors_total", "AI provider calls that failed after retries", ["code"])
CLIENT_MESSAGES_DROPPED = Counter(
    "ir_client_messages_dropped_total",
    "Client data-channel messages dropped: rate (token bucket) or queue (inbox full) on the media node, "
    "session_jobs (a typed ask over LLM_SESSION_JOBS) in the llm worker",
    ["reason"],
)
CREDITS_DEBITED = Counter("ir_credits_debited_seconds_total", "Credit seconds debited")
WEBHOOK_ATTEMPTS = Counter("ir_webhook_attempts_total", "ATS webhook attempts", ["result"])  # ok | failed | refused
REMINDERS_SENT = Counter("ir_reminders_sent_total", "Candidate reminder e-mails sent (automatic and by hand)")
HTTP_REQUESTS = Counter("ir_http_requests_total", "HTTP requests", ["method", "status"])
