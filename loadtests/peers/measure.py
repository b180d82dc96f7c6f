"""What a viewer of each system sees, and when, turned into figures; plain functions, no I/O.

Every system's output is reduced to a timeline of ``Snapshot``s: at local time ``rx`` (the
sender's clock, ``time.time()`` when the message arrived) the viewer has ``final`` text (no longer
changed by the system) and ``partial`` text (may still change). From it:

- final latency of an utterance: when the last of its words arrived as final text, minus when its
  last loud sample was sent. "Its words" are the words of an offline decode of the fixture
  (``RefWord``: word + end time in the file), mapped onto the final text by alignment.
- word lag: when a word of the offline decode first appeared in any text (final or partial) minus
  when its end was sent.
- WER of the final text against the reference transcript.

No server timestamp enters any figure: the fixture's own time axis maps to send times by
``send_wall0 + t`` (the sender is paced in real time; its stalls are counted separately).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass

import jiwer


def norm_words(text: str) -> list[str]:
    """Lowercase words without punctuation (hyphens split words), as loadtests.bench scores WER."""
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("-", " ")).split()


@dataclass(frozen=True)
class Snapshot:
    rx: float
    final: str
    partial: str = ""


@dataclass(frozen=True)
class RefWord:
    word: str  # normalized
    end: float  # seconds on the fixture's clock


@dataclass(frozen=True)
class Piece:
    """One utterance of the fixture: its span and where its last loud sample is (fixture clock)."""

    t0: float
    t1: float
    speech_t1: float
    text: str


def wer(ref: str, hyp: str) -> float:
    r, h = " ".join(norm_words(ref)), " ".join(norm_words(hyp))
    if not r:
        return 0.0 if not h else 1.0
    return float(jiwer.wer(r, h)) if h else 1.0


def pct(xs: Sequence[float], q: float) -> float:
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def _matches(ref: list[str], hyp: list[str]) -> list[tuple[int, int]]:
    """(ref index, hyp index) pairs of equal words on the best alignment."""
    sm = difflib.SequenceMatcher(a=ref, b=hyp, autojunk=False)
    return [(b.a + k, b.b + k) for b in sm.get_matching_blocks() for k in range(b.size)]


def _mapping(ref: list[str], hyp: list[str]) -> dict[int, int]:
    """ref index -> hyp index for equal words and for substitutions (paired in order)."""
    out: dict[int, int] = {}
    sm = difflib.SequenceMatcher(a=ref, b=hyp, autojunk=False)
    for op, a0, a1, b0, b1 in sm.get_opcodes():
        if op in ("equal", "replace"):
            for k in range(min(a1 - a0, b1 - b0)):
                out[a0 + k] = b0 + k
    return out


def final_word_times(snaps: Sequence[Snapshot]) -> tuple[list[str], list[float]]:
    """The last final text's words, and for each the first ``rx`` from which the final text kept
    that word and all before it (a revised final counts from its revision)."""
    if not snaps:
        return [], []
    order = sorted(snaps, key=lambda x: x.rx)
    last = norm_words(order[-1].final)
    first = [order[-1].rx] * len(last)
    m = len(last)
    for s in reversed(order):  # m = shortest kept prefix from this snapshot to the end
        w = norm_words(s.final)
        n = 0
        while n < min(len(w), m) and w[n] == last[n]:
            n += 1
        m = n
        for i in range(m):
            first[i] = s.rx
    return last, first


def first_seen(snaps: Sequence[Snapshot], ref: Sequence[RefWord]) -> list[float | None]:
    """For each reference word, the first ``rx`` at which it shows, matched by alignment, in the
    final + partial text; None if it never does."""
    words = [r.word for r in ref]
    out: list[float | None] = [None] * len(words)
    prev = None
    for s in sorted(snaps, key=lambda x: x.rx):
        text = f"{s.final} {s.partial}"
        if text == prev:
            continue
        prev = text
        for i, _ in _matches(words, norm_words(text)):
            if out[i] is None:
                out[i] = s.rx
    return out


@dataclass
class StreamFigures:
    latencies: list[float]  # one per piece that got final text
    missing: int  # pieces with no final word mapped
    word_lags: list[float]  # every reference word that showed
    word_lags_long: list[float]  # words of pieces longer than 4 s
    words_unseen: int
    final_text: str


def stream_figures(
    snaps: Sequence[Snapshot], ref: Sequence[RefWord], pieces: Sequence[Piece], send_wall0: float
) -> StreamFigures:
    """Figures of one stream: ``send_wall0`` = local time the fixture's sample 0 was sent."""
    hyp, hyp_rx = final_word_times(snaps)
    words = [r.word for r in ref]
    mapping = _mapping(words, hyp)
    seen = first_seen(snaps, ref)
    lats: list[float] = []
    missing = 0
    lags: list[float] = []
    lags_long: list[float] = []
    for p in pieces:
        idx = [i for i, r in enumerate(ref) if p.t0 <= r.end <= p.t1 + 0.3]
        got = [hyp_rx[mapping[i]] for i in idx if i in mapping]
        if got:
            lats.append(max(got) - (send_wall0 + p.speech_t1))
        else:
            missing += 1
        for i in idx:
            if seen[i] is not None:
                lag = seen[i] - (send_wall0 + ref[i].end)  # type: ignore[operator]
                lags.append(lag)
                if p.speech_t1 - p.t0 > 4.0:
                    lags_long.append(lag)
    unseen = sum(1 for x in seen if x is None)
    return StreamFigures(lats, missing, lags, lags_long, unseen, snaps[-1].final if snaps else "")
