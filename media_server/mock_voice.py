"""What a mock session does on the media node: the interviewer speaks ``mock.question`` / ``mock.done``
(text to speech on an ``InterviewerTrack`` per peer connection, recorded and captioned when played), a
goodbye ends the session, and the candidate's speech is marked in Redis for the mock interviewer."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from aiortc import RTCPeerConnection

from interview_room import messages
from interview_room.messages import Caption, MockDone, MockQuestion, SessionEnded
from interview_room.store import captions as captions_store

from . import tts
from .context import SessionContext
from .ingest import TTS_CAPTION_SEQ0
from .recording import Recording
from .tts_track import InterviewerTrack, Spoken

log = logging.getLogger("media.session")

VOICE_MARK_EVERY = 0.25  # s between "the candidate is speaking" marks in Redis
VOICE_MARK_TTL = 300
GOODBYE_WAIT = 30.0

SpokenEvent = MockQuestion | MockDone  # the events of a mock session the node also says aloud


def interviewer_voice(mode: object) -> InterviewerTrack | None:
    """The track a mock session's interviewer speaks on (added to the answer before it is made)."""
    return InterviewerTrack() if mode == "mock" else None


def voice_key(session_id: str) -> str:
    """Redis key: "<wall time> <session time>" of the candidate's latest speech in a mock session."""
    return f"mock:voice:{session_id}"


def spoken_event(text: str) -> SpokenEvent | None:
    """The event in ``text`` if it is one the interviewer says aloud."""
    try:
        event = messages.parse_event(text)
    except (ValueError, KeyError, TypeError):
        return None
    return event if isinstance(event, (MockQuestion, MockDone)) else None


class MockVoice:
    def __init__(
        self,
        ctx: SessionContext,
        *,
        recording: Recording,
        lang: Callable[[], str],
        is_ending: Callable[[], bool],
        end: Callable[[str], None],
    ) -> None:
        self.ctx = ctx
        self.recording = recording
        self._lang = lang
        self._is_ending = is_ending
        self._end = end
        self.voices: dict[RTCPeerConnection, InterviewerTrack] = {}  # one track per peer connection
        self._speech: asyncio.Queue[tuple[str, SpokenEvent]] = asyncio.Queue()
        self._last_spoken: tuple[str, SpokenEvent] | None = None
        self._voice_marked = 0.0
        self._voice_task: asyncio.Task[Any] | None = None
        self._tts_n = 0

    def start(self) -> None:
        self.ctx.tasks.spawn(self._speaker(), "speaker")

    def add_voice(self, pc: RTCPeerConnection, track: InterviewerTrack) -> None:
        track.on_frame = self.recording.write_played  # the interviewer goes into the recording as played
        self.voices[pc] = track
        if self._last_spoken is not None and isinstance(self._last_spoken[1], MockQuestion):
            self._speech.put_nowait(self._last_spoken)  # a reconnect: say the current question again

    def forget(self, pc: RTCPeerConnection) -> None:
        self.voices.pop(pc, None)

    def on_event(self, entry_id: bytes | str, text: str) -> None:
        """An event of the session's stream (``EventRelay`` listener): the interviewer's lines are said."""
        event = spoken_event(text)
        if event is not None:
            key = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
            self._last_spoken = (key, event)
            self._speech.put_nowait((key, event))

    async def _speaker(self) -> None:
        """Say each interviewer event in order; a newer one cuts the one still playing short."""
        synth = tts.shared(self.ctx.cfg)
        while True:
            key, event = await self._speech.get()
            speech = event.speech or (event.text if isinstance(event, MockQuestion) else "")
            lang = event.lang or self._lang() or "en"
            pcm = None
            if synth is not None and speech:
                try:
                    pcm = await synth.synthesize(speech, lang)
                except tts.SpeechError as e:
                    log.warning("could not synthesize the interviewer error=%s", e)
                except Exception:
                    log.exception("text to speech failed")
            live = [v for pc, v in self.voices.items() if pc.connectionState not in ("failed", "closed")]
            spoken = [v.say(key, pcm, interrupt=True) for v in live] if pcm is not None and len(pcm) else []
            self.ctx.tasks.spawn(self._after_speech(key, event, speech, lang, spoken), "spoken")

    async def _after_speech(self, key: str, event: SpokenEvent, speech: str, lang: str, spoken: list[Spoken]) -> None:
        """Once said: the line goes into the captions (and the transcript); a goodbye ends the session."""
        if spoken:
            try:
                await asyncio.wait_for(spoken[0].done.wait(), GOODBYE_WAIT + spoken[0].seconds)
            except TimeoutError:
                pass
            first = spoken[0]
            clock0 = self.recording.clock0
            if first.started is not None and clock0 is not None and speech:
                end = first.ended if first.ended is not None else asyncio.get_running_loop().time()
                await self._caption(key, speech, lang, first.started - clock0, end - clock0)
        if isinstance(event, MockDone) and not self._is_ending():
            log.info("mock interview finished reason=%s", event.reason)
            await self.ctx.publish(SessionEnded(reason="mock_complete"))
            self._end("mock_complete")

    async def _caption(self, key: str, text: str, lang: str, t0: float, t1: float) -> None:
        self._tts_n += 1
        t0 = max(0.0, t0)
        cap = Caption(
            id=f"{self.ctx.id}:interviewer:say-{key}", role="interviewer", t0=round(t0, 3), t1=round(max(t0, t1), 3), text=text, lang=lang
        )
        try:
            if await captions_store.insert_caption(self.ctx.pool, cap, self.ctx.id, TTS_CAPTION_SEQ0 + self._tts_n):
                await self.ctx.publish(cap)
        except Exception:
            log.exception("could not store the interviewer's caption")

    # ---- the candidate speaks ----

    def mark_speaking(self, role: str, t: float) -> None:
        """Tell the mock interviewer the candidate is speaking (off the audio path: a slow Redis never stalls it)."""
        if role != "candidate":
            return
        now = time.time()
        if now - self._voice_marked < VOICE_MARK_EVERY or (self._voice_task is not None and not self._voice_task.done()):
            return
        self._voice_marked = now
        self._voice_task = self.ctx.tasks.spawn(self._set_voice_mark(now, t), "voice-mark")

    async def _set_voice_mark(self, now: float, t: float) -> None:
        try:
            await self.ctx.redis.set(voice_key(self.ctx.id), f"{now:.3f} {t:.3f}", ex=VOICE_MARK_TTL)
        except (ConnectionError, OSError, aioredis.RedisError) as e:
            log.warning("could not mark candidate speech error=%r", e)
