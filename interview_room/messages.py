"""One definition of every message that crosses a process boundary.

Data-channel events (docs/protocol.md) are dataclasses with a ``type`` tag; ``to_wire`` adds the
``v``/``ts`` envelope. Producer (stt/llm workers) and consumer (media node, tests, load client)
import the same classes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from .client_settings import SettingsChange

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
    reason: str = ""  # a follow-up: why it is asked (the key point the answer missed)


@dataclass
class MockCountdown(Event):
    """Added to the protocol: nobody answered; the interviewer moves on in ``seconds`` unless the candidate speaks."""

    type: ClassVar[str] = "mock.countdown"
    question_id: str
    seconds: int
    follow_up: bool = False


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
        MockCountdown,
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
class VoiceActivity:
    """The media node's voice activity on one input (llm job kind ``voice``): the speaker started or
    stopped speaking, at session time ``t``. A live answer is scored a pause after the candidate
    stopped (``speaking`` false), never while they speak, whatever the captions' timing."""

    role: str
    speaking: bool
    t: float

    def to_payload(self) -> dict[str, Any]:
        return {"role": self.role, "speaking": self.speaking, "t": self.t}

    @classmethod
    def from_payload(cls, p: dict[str, Any]) -> VoiceActivity:
        return cls(role=str(p["role"]), speaking=bool(p["speaking"]), t=float(p["t"]))


@dataclass
class LlmJob:
    """Work for the llm worker: a final caption, a client ``ask``/``settings``, session end, a screen
    question, or a recruiter's answer to score (docs/internals.md, "Streams")."""

    # caption | ask | settings | session_end | mock (payload {"action": start|skip|repeat|next|end})
    # | screen (payload {"image_key", "question"}) | answer_score (payload {"captions_key", "question", "job_description"})
    # | voice (payload VoiceActivity.to_payload(), from the media node)
    # | suggest_questions (payload {"request_key", "job_description", "cv", "count"}; session_id: uuid5 of the key)
    # | cv_reading (payload {"key", "job_description"}; session_id: the candidate id)
    kind: str
    session_id: str
    payload: dict[str, Any] = field(default_factory=dict)

    def to_fields(self) -> dict[str, str]:
        return {"data": json.dumps(asdict(self), ensure_ascii=False)}

    @classmethod
    def from_fields(cls, f: dict[bytes, bytes]) -> LlmJob:
        raw = f.get(b"data") or f.get("data")  # type: ignore[call-overload]
        return cls(**json.loads(raw))


# ---- client -> server data-channel messages ----
# What a browser may send on the ``events`` channel (docs/protocol.md). ``parse_client_message`` is the one
# validator: the media node runs it on every message before it answers or forwards one, and the llm
# worker runs it again on what was forwarded (the job's payload is ``to_payload()``).


class InvalidClientMessage(ValueError):
    """A client message that is refused; the client gets ``to_event()`` and nothing changes."""

    def __init__(self, message: str, code: str = "bad_message", fields: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = fields  # the refused fields, when the message named them (settings)

    def to_event(self) -> ErrorEvent:
        return ErrorEvent(code=self.code, message=self.message)


@dataclass
class ClientMessage:
    type: ClassVar[str] = ""

    def to_payload(self) -> dict[str, Any]:
        """The normalised message (only its known fields), as forwarded to the llm worker."""
        return {"type": self.type, **asdict(self)}


@dataclass
class Ping(ClientMessage):
    """Answered at once by the media node with a ``Pong`` carrying the same ``id`` (any JSON value)."""

    type: ClassVar[str] = "ping"
    id: Any = None


@dataclass
class Pong(Event):
    type: ClassVar[str] = "pong"
    id: Any = None


EVENT_TYPES[Pong.type] = Pong


@dataclass
class Ask(ClientMessage):
    """A typed question (``text``), or none: answer what the interviewer said so far."""

    type: ClassVar[str] = "ask"
    text: str | None = None


@dataclass
class SettingsMessage(ClientMessage):
    """A valid ``settings`` message: what it changes (interview_room/client_settings.py validates it)."""

    type: ClassVar[str] = "settings"
    change: SettingsChange

    def to_payload(self) -> dict[str, Any]:
        return dict(self.change.to_payload())


MOCK_ACTIONS = ("skip", "repeat", "next", "end")


@dataclass
class MockCommand(ClientMessage):
    """In a mock interview: skip, repeat, next or end (the media node sends ``start`` itself)."""

    type: ClassVar[str] = "mock"
    action: str


def _ask(msg: dict[str, Any], mock: bool) -> Ask:
    text = msg.get("text")
    if text is not None and not isinstance(text, str):
        raise InvalidClientMessage('"text" must be a string')
    return Ask(text=text)


def _settings(msg: dict[str, Any], mock: bool) -> SettingsMessage:
    from . import client_settings  # the settings' own validator (it imports this module)

    try:
        return SettingsMessage(change=client_settings.parse_settings(msg))
    except client_settings.InvalidSettings as e:
        raise InvalidClientMessage(e.message, client_settings.ERROR_CODE, tuple(e.problems)) from e


def _mock(msg: dict[str, Any], mock: bool) -> MockCommand:
    if not mock:
        raise InvalidClientMessage("mock actions are only for mock interview sessions")
    if msg.get("action") not in MOCK_ACTIONS:
        raise InvalidClientMessage(f'"action" must be one of: {", ".join(MOCK_ACTIONS)}')
    return MockCommand(action=msg["action"])


@dataclass
class PauseRequest(ClientMessage):
    """Client -> server ``{"type": "pause", "paused": true | false}``: stop or resume listening.
    Applied by the media node itself (not an llm job); ``paused`` defaults to true."""

    type: ClassVar[str] = "pause"
    paused: bool = True


def _pause(msg: dict[str, Any], mock: bool) -> PauseRequest:
    extra = set(msg) - {"type", "paused", "id"}
    if extra:
        raise InvalidClientMessage(f"pause: unknown fields: {', '.join(sorted(extra))[:200]}")
    paused = msg.get("paused", True)
    if not isinstance(paused, bool):
        raise InvalidClientMessage('pause: "paused" must be true or false')
    return PauseRequest(paused=paused)


CLIENT_PARSERS: dict[str, Callable[[dict[str, Any], bool], ClientMessage]] = {
    Ping.type: lambda msg, mock: Ping(id=msg.get("id")),
    Ask.type: _ask,
    SettingsMessage.type: _settings,
    MockCommand.type: _mock,
    PauseRequest.type: _pause,
}


def parse_client_message(data: str | bytes | dict[str, Any], *, mock: bool = False) -> ClientMessage:
    """One client message (JSON text or its object) as its model; ``mock``: the session is a mock
    interview (mock commands allowed). Raises InvalidClientMessage (code ``bad_message``, or
    ``invalid_settings`` naming the bad fields) for anything else."""
    if isinstance(data, dict):
        msg: Any = data
    else:
        try:
            msg = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            raise InvalidClientMessage("Messages must be JSON objects") from None
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        raise InvalidClientMessage('Messages must be JSON objects with a "type"')
    parse = CLIENT_PARSERS.get(msg["type"])
    if parse is None:
        raise InvalidClientMessage(f"Unknown message type {msg['type']!r}")
    return parse(msg, mock)
