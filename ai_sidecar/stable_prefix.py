"""Stable prefix of a running utterance's partial transcripts (LocalAgreement-2). Pure, no I/O.

A partial decodes the utterance so far; its last words are often wrong (a word cut in half, a
guess Whisper revises once it hears more). A word is shown only once two consecutive decodes
agree on it and on every word before it, and a word once shown is never taken back: the caption
only grows, so it never jumps, until the final replaces it. Words are compared normalised (case
and punctuation apart, since Whisper moves a comma as the sentence goes on); the shown words keep
the spelling of the decode that first confirmed them.

The state (``Agreement``) is plain data so the stt worker can keep it in Redis between the
partials of one utterance (any worker may get the next one).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass, field
from typing import Any

_PUNCT = re.compile(r"[^\w']+")


def norm_word(word: str) -> str:
    """A word for comparison: lower case, letters/digits/apostrophes only."""
    return _PUNCT.sub("", unicodedata.normalize("NFKC", word).lower())


def split_words(text: str) -> list[str]:
    """Display words of a transcript (those that are only punctuation are dropped)."""
    return [w for w in text.split() if norm_word(w)]


def common_prefix(a: list[str], b: list[str]) -> int:
    """How many leading words of ``a`` and ``b`` agree (normalised)."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if norm_word(x) != norm_word(y):
            break
        n += 1
    return n


@dataclass
class Agreement:
    """Per utterance: the words shown so far and the latest decode's words."""

    committed: list[str] = field(default_factory=list)
    previous: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(self.committed)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Agreement:
        return cls(
            committed=[str(w) for w in obj.get("committed", [])], previous=[str(w) for w in obj.get("previous", [])]
        )


def advance(state: Agreement | None, hypothesis: str) -> tuple[Agreement, bool]:
    """Feed the next decode of the utterance so far; returns the new state and whether words were added.

    Words are added when this decode and the one before agree beyond what is shown, and both
    agree with what is shown (a decode that contradicts a shown word adds nothing; the shown
    words stay).
    """
    st = state or Agreement()
    words = split_words(hypothesis)
    shown = len(st.committed)
    agreed = common_prefix(st.previous, words)
    grew = False
    if agreed > shown and common_prefix(st.committed, words) == shown:
        st = Agreement(committed=st.committed + words[shown:agreed], previous=words)
        grew = True
    else:
        st = Agreement(committed=list(st.committed), previous=words)
    return st, grew


def settle(state: Agreement | None, hypothesis: str) -> Agreement:
    """The decode of an utterance whose speech stopped (the speculative partial): its whole text is
    shown, except that words already shown stay (a contradicting decode continues after them)."""
    words = split_words(hypothesis)
    shown = state.committed if state else []
    if common_prefix(shown, words) < len(shown):
        words = shown + words[len(shown) :]
    return Agreement(committed=words, previous=split_words(hypothesis))


def is_prefix(shown: str, final: str) -> bool:
    """True when the words of ``shown`` are the first words of ``final`` (normalised)."""
    a, b = split_words(shown), split_words(final)
    return common_prefix(a, b) == len(a)
