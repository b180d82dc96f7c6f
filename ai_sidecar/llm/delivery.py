"""Delivery facts measured from the candidate's captions: pace, fillers, length. Never guessed by a model.

Whisper tends to drop "um"/"uh" from its text, so filler counts are a lower bound.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from interview_room.messages import Caption

IDEAL_WPM = (110.0, 170.0)

_WORDS = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)?")
# unconditional fillers
_PLAIN = re.compile(r"\b(um+|uh+|erm+|er|ah+|hmm+|mm+|uh-huh)\b", re.I)
# "like" / "you know" / "I mean" count only where set off by punctuation or before another filler:
# "it was, like, hard" is a filler, "I'd like to" and "you know the API" are not.
_LIKE = re.compile(r"\blike,|,\s*like\s+(?=(?:um|uh)\b)", re.I)
_YOU_KNOW = re.compile(r"\byou know\s*(?=[,.?!]|$)", re.I)
_I_MEAN = re.compile(r"(?:^|[,.]\s*)i mean\s*(?=,)", re.I)
_PLAIN_KEYS = (
    ("uh-huh", "uh-huh"),
    ("um", "um"),
    ("mm", "um"),
    ("uh", "uh"),
    ("erm", "erm"),
    ("er", "er"),
    ("ah", "ah"),
    ("hm", "hmm"),
)
_SOFT = re.compile(r"\b(basically|literally|kinda|sorta)\b", re.I)


def count_fillers(text: str) -> Counter[str]:
    c: Counter[str] = Counter()
    for m in _PLAIN.finditer(text):
        w = m.group(1).lower()
        c[next((k for p, k in _PLAIN_KEYS if w.startswith(p)), w)] += 1
    for line in re.split(r"(?<=[.!?])\s+", text):
        c["like"] += len(_LIKE.findall(line))
        c["you know"] += len(_YOU_KNOW.findall(line))
        c["i mean"] += len(_I_MEAN.findall(line))
    for m in _SOFT.finditer(text):
        c[m.group(1).lower()] += 1
    return Counter({k: v for k, v in c.items() if v})


def word_count(text: str) -> int:
    return len(_WORDS.findall(text))


@dataclass
class DeliveryFacts:
    words: int = 0
    talk_seconds: float = 0.0
    answer_seconds: float = 0.0
    wpm: float | None = None
    fillers: dict[str, int] = field(default_factory=dict)
    filler_count: int = 0
    fillers_per_100_words: float = 0.0
    long_pauses: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The ``delivery`` of a ``score`` event, under the names docs/protocol.md gives them."""
        return {
            "word_count": self.words,
            "talk_seconds": self.talk_seconds,
            "answer_seconds": self.answer_seconds,
            "words_per_minute": self.wpm,
            "filler_words": self.filler_count,
            "fillers": dict(self.fillers),
            "fillers_per_100_words": self.fillers_per_100_words,
            "long_pauses": self.long_pauses,
        }


def measure(captions: Sequence[Caption], long_pause_s: float = 3.0) -> DeliveryFacts:
    """Facts over a candidate's answer: captions in time order, t0/t1 on the media clock."""
    if not captions:
        return DeliveryFacts()
    text = " ".join(c.text for c in captions)
    words = word_count(text)
    talk = sum(max(0.0, c.t1 - c.t0) for c in captions)
    span = max(0.0, captions[-1].t1 - captions[0].t0)
    pauses = sum(1 for a, b in zip(captions, captions[1:], strict=False) if b.t0 - a.t1 >= long_pause_s)
    fillers = count_fillers(text)
    n_fill = sum(fillers.values())
    return DeliveryFacts(
        words=words,
        talk_seconds=round(talk, 2),
        answer_seconds=round(span, 2),
        # under 3 s of speech the rate is noise
        wpm=round(words / talk * 60.0, 1) if talk >= 3.0 and words else None,
        fillers=dict(fillers),
        filler_count=n_fill,
        fillers_per_100_words=round(100.0 * n_fill / words, 1) if words else 0.0,
        long_pauses=pauses,
    )


def delivery_score(f: DeliveryFacts) -> int:
    """0-100 from the measured facts: pace in the ideal band, few fillers, a reasonable length."""
    if f.words == 0:
        return 0
    score = 100.0
    if f.wpm is not None:
        lo, hi = IDEAL_WPM
        if f.wpm < lo:
            score -= min(40.0, (lo - f.wpm) * 0.8)
        elif f.wpm > hi:
            score -= min(40.0, (f.wpm - hi) * 0.8)
    score -= min(35.0, f.fillers_per_100_words * 5.0)
    if f.words < 25:
        score -= (25 - f.words) * 1.2
    elif f.words > 400:
        score -= min(20.0, (f.words - 400) * 0.05)
    score -= min(10.0, f.long_pauses * 3.0)
    return int(max(0.0, min(100.0, round(score))))


def describe(f: DeliveryFacts) -> str:
    """One sentence about the delivery facts worth mentioning, or an empty string."""
    parts: list[str] = []
    if f.wpm is not None:
        lo, hi = IDEAL_WPM
        if f.wpm > hi:
            parts.append(f"you spoke at about {f.wpm:.0f} words per minute; slowing to {lo:.0f}-{hi:.0f} helps")
        elif f.wpm < lo:
            parts.append(f"you spoke at about {f.wpm:.0f} words per minute; a little faster keeps attention")
    if f.fillers_per_100_words >= 3:
        top = ", ".join(f'"{k}"' for k, _ in sorted(f.fillers.items(), key=lambda kv: -kv[1])[:2])
        parts.append(f"{f.filler_count} filler words ({top})")
    if f.words and f.words < 25:
        parts.append(f"the answer was short ({f.words} words)")
    if not parts:
        return ""
    s = "; ".join(parts)
    return s[0].upper() + s[1:] + "."
