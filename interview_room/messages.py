"""One definition of every message that crosses a process boundary.

Data-channel events (PROTOCOL.md) are dataclasses with a ``type`` tag; ``to_wire`` adds the
``v``/``ts`` envelope. Producer (stt/llm workers) and consumer (media node, tests, load client)
import the same classes.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

PROTOCOL_VERSION = 1


@dataclass
class Event:
    type: ClassVar[str] = ""

    def to_wire(self, ts: float | None = None) -> dict[str, Any]:
        body = asdict(self)
        return {"v": PROTOCOL_VERSION, "type": self.type, "ts": ts if ts is not None else time.time(), **body}

    def to_json(self) -> str:
        return json.dumps(self.to_wire(), ensure_ascii=False)


@dataclass
class Caption(Event):
    type: ClassVar[str] = "caption"
    id: str
    role: str
    t0: float
    t1: float
    text: str
    lang: str
    final: bool = True


@dataclass
class Question(Event):
    type: ClassVar[str] = "question"
    id: str
    caption_ids: list[str]
    text: str
    lang: str


@dataclass
class AnswerDelta(Event):
    type: ClassVar[str] = "answer.delta"
    question_id: str
    delta: str


@dataclass
class AnswerDone(Event):
    type: ClassVar[str] = "answer.done"
    question_id: str
    text: str
    lang: str


@dataclass
class Translation(Event):
    type: ClassVar[str] = "translation"
    ref: str
    lang: str
    text: str


@dataclass
class Score(Event):
    type: ClassVar[str] = "score"
    question_id: str
    score: int
    rubric: dict[str, int]
    feedback: str
    delivery: dict[str, Any] = field(default_factory=dict)


@dataclass
class Credits(Event):
    type: ClassVar[str] = "credits"
    remaining_seconds: float


@dataclass
class Notice(Event):
    type: ClassVar[str] = "notice"
    level: str
    code: str
    message: str


@dataclass
class ErrorEvent(Event):
    type: ClassVar[str] = "error"
    code: str
    message: str


@dataclass
class SessionEnded(Event):
    """Added to the protocol: tells the client the server ended the session (credits, drain)."""

    type: ClassVar[str] = "session.ended"
    reason: str


@dataclass
class MockQuestion(Event):
    """Added to the protocol: the mock interviewer asks (or repeats) a question; the media node speaks ``speech``."""

    type: ClassVar[str] = "mock.question"
    index: int  # 1-based
    total: int
    question_id: str
    text: str
    follow_up: bool = False
    repeat: bool = False
    speech: str = ""  # what is said aloud (the question with its lead-in)
    time_allocation_s: int = 0
    lang: str = "en"


@dataclass
class MockDone(Event):
    """Added to the protocol: the mock interview is over (``completed``, ``ended_early``, ``time_up``)."""

    type: ClassVar[str] = "mock.done"
    reason: str
    speech: str = ""
    lang: str = "en"


@dataclass
class Listening(Event):
    """Added to the protocol: the candidate paused or resumed listening (``pause`` message, below).

    The media node publishes it to every data channel of the session (room, floating window,
    companion), so each shows the same state. While paused nothing is captioned, billed or recorded;
    ``t`` is the session time the pause began (or ended).
    """

    type: ClassVar[str] = "listening"
    paused: bool
    t: float = 0.0


@dataclass
class PauseRequest:
    """Client -> server ``{"type": "pause", "paused": true | false}``: stop or resume listening.

    The one validation of the message is ``parse_pause``; the media node uses nothing else.
    """

    paused: bool


class InvalidPause(ValueError):
    pass


def parse_pause(msg: dict[str, Any]) -> PauseRequest:
    """``{"type": "pause", "paused": bool}`` (``paused`` defaults to true); else InvalidPause."""
    if msg.get("type") != "pause":
        raise InvalidPause('"type" must be "pause"')
    extra = set(msg) - {"type", "paused", "id"}
    if extra:
        raise InvalidPause(f"unknown fields: {', '.join(sorted(extra))[:200]}")
    paused = msg.get("paused", True)
    if not isinstance(paused, bool):
        raise InvalidPause('"paused" must be true or false')
    return PauseRequest(paused=paused)


EVENT_TYPES: dict[str, type[Event]] = {
    cls.type: cls
    for cls in (
        Caption,
        Question,
        AnswerDelta,
        AnswerDone,
        Translation,
        Score,
        Credits,
        Notice,
        ErrorEvent,
        SessionEnded,
        MockQuestion,
        MockDone,
        Listening,
    )
}


def parse_event(data: str | bytes | dict[str, Any]) -> Event:
    """Inverse of ``to_wire`` (drops the envelope)."""
    obj = json.loads(data) if isinstance(data, (str, bytes)) else dict(data)
    cls = EVENT_TYPES[obj.pop("type")]
    obj.pop("v", None)
    obj.pop("ts", None)
    return cls(**obj)


# ---- internal bus messages (not on the data channel) ----


@dataclass
class Segment:
    """An utterance cut by the media node's segmenter, bound for the stt worker."""

    session_id: str
    role: str
    seq: int
    t0: float
    t1: float
    pcm: bytes  # 16 kHz mono s16le
    lang: str = "en"  # the session's listen_language (may be "auto")
    end_wall: float = 0.0  # wall clock at end of speech, for the latency histogram
    speech_end: float = 0.0  # session time where the last voiced frame ends (t1 adds trailing silence)
    final: bool = True
    sample_rate: int = 16000

    @property
    def id(self) -> str:
        return f"{self.session_id}:{self.role}:{self.seq}"

    def to_fields(self) -> dict[str, bytes | str]:
        return {
            "session_id": self.session_id,
            "role": self.role,
            "seq": str(self.seq),
            "t0": repr(self.t0),
            "t1": repr(self.t1),
            "lang": self.lang,
            "end_wall": repr(self.end_wall),
            "speech_end": repr(self.speech_end),
            "final": "1" if self.final else "0",
            "sample_rate": str(self.sample_rate),
            "pcm": self.pcm,
        }

    @classmethod
    def from_fields(cls, f: dict[bytes, bytes]) -> Segment:
        g = {k.decode() if isinstance(k, bytes) else k: v for k, v in f.items()}

        def s(k: str) -> str:
            v = g[k]
            return v.decode() if isinstance(v, bytes) else v

        return cls(
            session_id=s("session_id"),
            role=s("role"),
            seq=int(s("seq")),
            t0=float(s("t0")),
            t1=float(s("t1")),
            lang=s("lang"),
            end_wall=float(s("end_wall")),
            speech_end=float(s("speech_end")) if "speech_end" in g else 0.0,
            final=s("final") == "1",
            sample_rate=int(s("sample_rate")),
            pcm=g["pcm"] if isinstance(g["pcm"], bytes) else g["pcm"].encode("latin-1"),
        )


@dataclass
class LlmJob:
    """Work for the llm worker: a final caption, a client ``ask``/``settings``, or session end."""

    kind: str  # caption | ask | settings | session_end | mock (payload {"action": start|skip|repeat|next|end})
    session_id: str
    payload: dict[str, Any] = field(default_factory=dict)

    def to_fields(self) -> dict[str, str]:
        return {"data": json.dumps(asdict(self), ensure_ascii=False)}

    @classmethod
    def from_fields(cls, f: dict[bytes, bytes]) -> LlmJob:
        raw = f.get(b"data") or f.get("data")  # type: ignore[call-overload]
        return cls(**json.loads(raw))
