"""What goes into one Whisper window: the utterance, the session's speech before it, and the window size.

Whisper's encoder is trained on 30 s windows, and faster-whisper pads every call to 30 s, so a 3 s
utterance pays for 30 s of encoder (about 80 % of a tiny.en call on CPU). CTranslate2 accepts
shorter inputs: the window here is the audio rounded up to ``step_s`` and at least ``min_s``
(measured in ``loadtests/stt_accuracy.py``: same WER on the fixtures, a fraction of the CPU).

Decoding an utterance alone loses context ("ask what you can do" after a pause is heard better
after "ask not what your country can do for you"). ``SessionHistory`` keeps the last few seconds
of each session's captioned speech with their text; the window then holds that speech followed by
the new utterance, and the decoder is given the context text as a forced prefix, so it emits only
the new words and spends no decoder steps on the context. Pure functions and a dict: no network.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from dataclasses import dataclass

SAMPLE_RATE = 16000
HOP = 160  # samples per mel frame (10 ms)
FULL_WINDOW_S = 30.0
GAP_S = 0.2  # silence between context utterances and before the new one


@dataclass
class DecodeItem:
    """One utterance to transcribe, with optional acoustic context of the same session.

    ``context_pcm`` is the session's speech right before it (16 kHz s16le) and ``context_text``
    what was recognised in it; both empty = decode alone. ``hints``: words to bias the decoder
    (passed as faster-whisper passes ``hotwords``: a previous-text prompt), empty = none.
    ``prefix``: words of this utterance already shown (a mid-speech partial): the decode is forced
    through them and continues; unlike the context text they are part of the result.
    """

    pcm: bytes
    lang: str = "en"
    context_pcm: bytes = b""
    context_text: str = ""
    hints: str = ""
    prefix: str = ""


def window_samples(n_samples: int, min_s: float, step_s: float) -> int:
    """Samples of the window for ``n_samples`` of audio: rounded up to ``step_s``, ``min_s`` .. 30 s.

    ``min_s`` >= 30 gives Whisper's own 30 s window (faster-whisper's behaviour).
    """
    full = int(FULL_WINDOW_S * SAMPLE_RATE)
    if min_s >= FULL_WINDOW_S:
        return full
    step = max(HOP, int(step_s * SAMPLE_RATE))
    need = max(int(min_s * SAMPLE_RATE), n_samples + HOP)  # one frame of silence after the speech at least
    return min(full, math.ceil(need / step) * step)


def join_context(context_pcm: bytes, pcm: bytes, max_samples: int) -> tuple[bytes, int]:
    """``context + gap + pcm``, or ``pcm`` alone when that would exceed ``max_samples``; and the
    number of samples before the utterance (0 = no context)."""
    if not context_pcm:
        return pcm, 0
    gap = b"\x00\x00" * int(GAP_S * SAMPLE_RATE)
    if (len(context_pcm) + len(gap) + len(pcm)) // 2 > max_samples:
        return pcm, 0
    return context_pcm + gap + pcm, (len(context_pcm) + len(gap)) // 2


@dataclass
class _Said:
    pcm: bytes
    text: str


class SessionHistory:
    """The last ``seconds`` of captioned speech per session (whole utterances), for ``DecodeItem`` context.

    Bounded: at most ``max_sessions`` sessions (least recently used dropped) and ``seconds`` of audio
    each. Only final captions that passed the guards go in, so a hallucination never becomes context.
    """

    def __init__(self, seconds: float = 10.0, max_sessions: int = 1000) -> None:
        self.seconds = seconds
        self.max_sessions = max_sessions
        self._by_session: OrderedDict[str, deque[_Said]] = OrderedDict()

    def add(self, session_id: str, pcm: bytes, text: str) -> None:
        if self.seconds <= 0 or not text.strip():
            return
        said = self._by_session.pop(session_id, None) or deque()
        said.append(_Said(pcm, text.strip()))
        limit = int(self.seconds * SAMPLE_RATE) * 2
        while said and sum(len(s.pcm) for s in said) > limit:
            said.popleft()
        if said:
            self._by_session[session_id] = said
        while len(self._by_session) > self.max_sessions:
            self._by_session.popitem(last=False)

    def context(self, session_id: str) -> tuple[bytes, str]:
        """(pcm, text) of the session's recent speech, oldest first; empty when none."""
        said = self._by_session.get(session_id)
        if not said:
            return b"", ""
        self._by_session.move_to_end(session_id)
        gap = b"\x00\x00" * int(GAP_S * SAMPLE_RATE)
        return gap.join(s.pcm for s in said), " ".join(s.text for s in said)

    def forget(self, session_id: str) -> None:
        self._by_session.pop(session_id, None)

    def __len__(self) -> int:
        return len(self._by_session)
