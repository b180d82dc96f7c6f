"""A session's client -> server data-channel messages: one rate limit for all its channels, a bounded
queue of llm jobs (ask, settings, mock commands), and pause control (applied on the node itself)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from aiortc import RTCDataChannel

from interview_room import client_settings, messages
from interview_room.logs import session_id_var
from interview_room.messages import ErrorEvent, Listening, LlmJob, Notice, PauseRequest
from interview_room.metrics import CLIENT_MESSAGES_DROPPED
from interview_room.store import pauses as pauses_store
from interview_room.token_bucket import Clock, Throttle, TokenBucket

from .context import SessionContext
from .ingest import add_job

log = logging.getLogger("media.session")

MAX_CLIENT_MESSAGE = 8 * 1024  # default of CLIENT_MSG_MAX_BYTES
RATE_NOTICE_EVERY_S = 5.0  # at most one rate_limited notice per session this often
RATE_LIMITED = "rate_limited"


class ClientInbox:
    """Messages of every data channel of one session: validated (``handle_client_message``), then
    queued as llm jobs; ``settings`` are also applied here (``apply_settings``) before they go on."""

    def __init__(
        self,
        ctx: SessionContext,
        *,
        mock: bool,
        control: Callable[[PauseRequest], object],
        apply_settings: Callable[[client_settings.SettingsChange], None],
        send: Callable[[str], object],
    ) -> None:
        self.ctx = ctx
        self.mock = mock
        self._control = control
        self._apply_settings = apply_settings
        self._send = send  # to every open data channel of the session
        # rate-limited per session (every data channel of it), a bounded queue
        self.limiter = ClientLimiter(ctx.cfg.client_msg_rate, ctx.cfg.client_msg_burst)
        self._queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue(max(1, ctx.cfg.client_inbox_max))

    def put(self, kind: str, msg: dict[str, Any]) -> None:
        """A job the node itself queues (the mock interviewer's start)."""
        self._queue.put_nowait((kind, msg))

    def on_message(self, channel: RTCDataChannel, message: str | bytes) -> None:
        token = session_id_var.set(self.ctx.id)  # this runs in aiortc's task: its log lines name the session
        try:
            handle_client_message(
                message,
                reply=channel.send,
                enqueue=self._queue.put_nowait,
                mock=self.mock,
                limiter=self.limiter,
                control=self._control,
                max_bytes=self.ctx.cfg.client_msg_max_bytes,
            )
        finally:
            session_id_var.reset(token)

    async def run(self) -> None:
        while True:
            kind, msg = await self._queue.get()
            try:
                if kind == "settings":  # validated by ``handle_client_message`` (its normalised payload)
                    self._apply_settings(client_settings.parse_settings(msg))
                await add_job(self.ctx.redis, LlmJob(kind=kind, session_id=self.ctx.id, payload=msg))
            except Exception:
                log.exception("could not queue %s job", kind)
                self._send(ErrorEvent(code="unavailable", message="Could not take that request; try again").to_json())
            finally:
                self._queue.task_done()

    async def drain(self, timeout: float = 5) -> None:
        """Queued ask/settings go out before the session_end job."""
        try:
            await asyncio.wait_for(self._queue.join(), timeout)
        except TimeoutError:
            log.warning("client messages still queued at the end were dropped")


class PauseControl:
    """Paused listening: no captions, no billing, no recording; the span is stored as a marker
    (``session_pauses``) and every data channel hears ``listening``."""

    def __init__(self, ctx: SessionContext, now_t: Callable[[], float]) -> None:
        self.ctx = ctx
        self._now_t = now_t
        self.paused = False
        self._row: int | None = None
        self._t0 = 0.0
        self._lock = asyncio.Lock()

    def request(self, request: PauseRequest) -> None:
        self.ctx.tasks.spawn(self.set_paused(request.paused), "pause")

    async def set_paused(self, paused: bool) -> None:
        """Pause or resume listening for every track of the session (every peer): while paused the
        tracks are still received (aiortc's queues must drain) but not segmented, metered or recorded.
        Asking for the state the session is already in only repeats the ``listening`` event."""
        async with self._lock:
            t = self._now_t()
            if paused != self.paused:
                self.paused = paused
                log.info("listening %s t=%.3f", "paused" if paused else "resumed", t)
                if paused:
                    self._t0 = t
                    try:
                        self._row = await pauses_store.start_pause(self.ctx.pool, uuid.UUID(self.ctx.id), round(t, 3))
                    except Exception:
                        log.exception("could not store the pause marker")
                        self._row = None
                else:
                    await self._store_resume(t)
            await self.ctx.publish(Listening(paused=self.paused, t=round(self._t0 if self.paused else t, 3)))

    async def end(self) -> None:
        """The pause marker ends with the session."""
        if self.paused:
            await self._store_resume(self._now_t())

    async def _store_resume(self, t: float) -> None:
        row, self._row = self._row, None
        if row is None:
            return
        try:
            await pauses_store.end_pause(self.ctx.pool, row, round(max(t, self._t0), 3))
        except Exception:
            log.exception("could not close the pause marker")


class ClientLimiter:
    """One session's budget for client messages: a token bucket; what it drops is told to the client
    as one ``notice`` ``rate_limited`` per ``notice_every`` seconds, however many were dropped."""

    def __init__(
        self, rate: float, burst: float, clock: Clock = time.monotonic, notice_every: float = RATE_NOTICE_EVERY_S
    ) -> None:
        self.bucket = TokenBucket(rate, burst, clock)
        self.throttle = Throttle(notice_every, clock)
        self.dropped = 0

    def admit(self, reply: Callable[[str], object]) -> bool:
        if self.bucket.take():
            return True
        self.drop(reply, "rate")
        return False

    def drop(self, reply: Callable[[str], object], why: str) -> None:
        """A message that is not handled: counted, and the client told (throttled)."""
        self.dropped += 1
        CLIENT_MESSAGES_DROPPED.labels(reason=why).inc()
        if self.throttle.ready():
            log.warning("client messages dropped reason=%s dropped_total=%d", why, self.dropped)
            reply(
                Notice(
                    level="warning",
                    code=RATE_LIMITED,
                    message="Too many requests: some were ignored; wait a few seconds before asking again",
                ).to_json()
            )


def _size(message: str | bytes, limit: int) -> int:
    if isinstance(message, str) and len(message) <= limit // 4:
        return len(message)  # at most 4 bytes a character: certainly within the limit
    return len(message.encode("utf-8", "surrogatepass")) if isinstance(message, str) else len(message)


def handle_client_message(
    message: str | bytes,
    *,
    reply: Callable[[str], object],
    enqueue: Callable[[tuple[str, dict[str, Any]]], object] | None,
    mock: bool = False,
    limiter: ClientLimiter | None = None,
    max_bytes: int = MAX_CLIENT_MESSAGE,
    control: Callable[[PauseRequest], object] | None = None,
) -> None:
    """One client->server data-channel message: answer ping, queue ask/settings (and, in a mock
    session, ``{"type": "mock", "action": skip|repeat|next|end}``), hand ``pause`` to ``control``,
    refuse the rest. What each may hold is ``messages.parse_client_message`` (the llm worker runs the
    same on what is queued).

    A bad message gets an ``error`` event back (``bad_message``, ``message_too_large``,
    ``invalid_settings``: nothing changes, not even on the llm worker). With a ``limiter`` every
    message costs a token, so a flood of anything (asks, pings, garbage) is dropped; a full queue
    (``enqueue`` raising QueueFull) drops the message too. Either way the client gets a throttled
    ``rate_limited`` notice.
    """

    def error(text: str, code: str = "bad_message") -> None:
        reply(ErrorEvent(code=code, message=text).to_json())

    if limiter is not None and not limiter.admit(reply):
        return None
    if _size(message, max_bytes) > max_bytes:
        return error(f"Messages can be at most {max_bytes} bytes", "message_too_large")
    try:
        m = messages.parse_client_message(message, mock=mock)
    except messages.InvalidClientMessage as e:
        reply(e.to_event().to_json())
        return None
    if isinstance(m, messages.Ping):
        reply(messages.Pong(id=m.id).to_json())
        return None
    if isinstance(m, PauseRequest):  # applied on the node itself, not an llm job
        if control is None:
            return error(f"Unknown message type {m.type!r}")
        control(m)
        return None
    if enqueue is None:  # a troubleshooting peer: ping only
        return error(f"Unknown message type {m.type!r}")
    item = (m.type, m.to_payload())
    try:
        enqueue(item)
    except asyncio.QueueFull:
        if limiter is not None:
            limiter.drop(reply, "queue")
        else:
            reply(Notice(level="warning", code=RATE_LIMITED, message="Too many requests; this one was ignored").to_json())
    return None
