"""Rule-based question detection on interviewer captions, and the buffer that joins captions.

A question may span several captions ("Let's talk about your last role." + "What was the
hardest bug you fixed there?"), so interviewer captions wait in a buffer until the speaker
pauses (no new caption for ``pause_s``), the candidate speaks, or a caption clearly ends a
question (then nothing waits: that is the latency path).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from interview_room.messages import Caption

from .text import sentences

WH = frozenset({"what", "why", "how", "when", "where", "who", "whom", "whose", "which"})
AUX = frozenset(
    """is are was were do does did can could would will should have has had may might shall am
    isn't aren't wasn't weren't don't doesn't didn't can't couldn't wouldn't won't shouldn't haven't hasn't""".split()
)
# words after an auxiliary that make it a question ("can you", "is there"), not "could be", "will do"
SUBJECTS = frozenset(
    """you your yourself we i they he she it there this that these those the a an any anyone anything someone
    something people everyone one our my""".split()
)
# "what I'd like to do today is..." — a wh-word followed by a subject pronoun opens a statement
STATEMENT_AFTER_WH = frozenset(
    """i i'd i'll i'm i've we we'd we'll we're we've you'll you're you've they they'll they're he she a""".split()
)
IMPERATIVE = (
    "tell me",
    "tell us",
    "walk me through",
    "walk us through",
    "talk me through",
    "take me through",
    "run me through",
    "describe",
    "explain",
    "give me an example",
    "give me a",
    "give us an example",
    "share an example",
    "share a time",
    "talk about a time",
    "talk about your",
    "talk to me about",
    "compare",
    "define",
    "name a",
    "name some",
    "list the",
    "design a",
    "design an",
    "implement a",
    "implement an",
    "write a function",
    "write a query",
    "imagine",
    "suppose",
    "say you",
    "let's say you",
)
EMBEDDED = (
    "i'd like to know",
    "i'd like to hear",
    "i'd like you to",
    "i would like to know",
    "i would like to hear",
    "i would like you to",
    "i'd love to hear",
    "i'd love to know",
    "i want to hear",
    "i want to know",
    "i want you to",
    "i'm curious",
    "i am curious",
    "i'm wondering",
    "i am wondering",
    "i was wondering",
    "i wonder",
    "i'm interested in hearing",
    "i'm interested to hear",
)
DISCOURSE = frozenset(
    """so okay ok alright all right now and well great good cool right then next also anyway perfect
    thanks thank awesome fine sure yes yeah um uh hmm oh""".split()
)
SMALL_TALK = re.compile(
    r"\b("
    r"how are you( doing)?( today)?|how's it going|how is it going|how have you been|how's your (day|week|morning)"
    r"|how was your (day|weekend|week|morning|trip|flight|commute)|how('s| is) everything"
    r"|can you (hear|see) me|can you see my screen|do you (hear|see) me|are you able to (hear|see)"
    r"|is my (audio|video|mic|microphone|screen|camera)|am i (audible|on mute|muted|too loud)|are you there"
    r"|can everyone hear|is (this|it) working|is the (audio|sound|video) (ok|okay|good|fine)"
    r"|nice to meet you|good to meet you|pleasure to meet you|good to see you|nice to see you"
    r"|did you find (us|the place|the room|it) (ok|okay|easily|alright)|would you like (some )?(water|coffee|tea|a drink)"
    r"|shall we (start|begin|get started)|are you ready|ready to (start|begin|get started)|should we (start|begin|get started)"
    r"|does that make sense|is that (ok|okay|alright|fine|clear|right)|sound good|sounds good|make sense"
    r"|can you repeat|could you repeat|sorry,? what was that|can i get you anything|how('s| is) the weather"
    r")\b"
)
SHORT_NON_QUESTIONS = frozenset(
    {"right", "okay", "ok", "yeah", "yes", "really", "sorry", "pardon", "no", "huh", "hm", "hmm", "true", "correct"}
)

_LEAD = re.compile(r"^[\s,.;:!-]+")
_WORD = re.compile(r"[a-z0-9']+")


def _normalise(s: str) -> str:
    return s.lower().replace("’", "'").strip()


def _strip_discourse(s: str) -> str:
    """Drop leading "so,", "okay, great." ... that do not change what the sentence is."""
    s = _LEAD.sub("", _normalise(s))
    while True:
        m = re.match(r"([a-z']+)[\s,.;:!-]+", s)
        if not m or m.group(1) not in DISCOURSE:
            return s
        rest = s[m.end() :]
        if not rest:
            return s
        s = rest


def is_small_talk(sentence: str) -> bool:
    return bool(SMALL_TALK.search(_normalise(sentence)))


def question_kind(sentence: str) -> str | None:
    """Why a sentence reads as an interview question ("mark", "wh", "aux", "imperative", "embedded"), or None."""
    raw = sentence.strip()
    if not raw or is_small_talk(raw):
        return None
    s = _strip_discourse(raw)
    ws = _WORD.findall(s)
    if not ws:
        return None
    if raw.endswith("?"):
        if len(ws) == 1 and ws[0] in SHORT_NON_QUESTIONS:
            return None
        if ws[-1] in {"right", "okay", "ok", "yeah"} and len(ws) <= 3:
            return None
        return "mark"
    first, second = ws[0], (ws[1] if len(ws) > 1 else "")
    if first in WH:
        if len(ws) < 3 or second in STATEMENT_AFTER_WH or (first == "what" and second in {"a", "an"}):
            return None
        third = ws[2] if len(ws) > 2 else ""
        if first in {"how", "why"} and second in {"about", "don't", "not"} and third in {"we", "i", "move", "start"}:
            return None  # a suggestion: "how about we...", "why don't we move on"
        return "wh"
    if first in AUX and second in SUBJECTS and len(ws) >= 3:
        return "aux"
    if len(ws) >= 4 and any(s.startswith(p + " ") or s.startswith(p + ",") for p in IMPERATIVE):
        return "imperative"
    if any(p in s for p in EMBEDDED) and len(ws) >= 5:
        return "embedded"
    return None


def has_question(text: str) -> bool:
    """Offline verdict on a finished stretch of interviewer speech."""
    return any(question_kind(s) for s in sentences(text))


def obviously_not_question(text: str) -> bool:
    """Short acknowledgements and small talk: not worth asking a model about."""
    if "?" in text:
        return False
    ss = sentences(text)
    return len(_WORD.findall(_normalise(text))) <= 3 or all(is_small_talk(s) for s in ss)


def clearly_ends_question(text: str) -> bool:
    """True when a caption's last sentence is a complete question, so no need to wait for more.

    A question mark is enough; an opener without one needs terminal punctuation and some length,
    because Whisper ends a cut-off phrase ("What was the hardest bug") without one.
    """
    ss = sentences(text)
    if not ss:
        return False
    last = ss[-1].strip()
    kind = question_kind(last)
    if kind is None:
        return False
    if kind == "mark":
        return True
    return last[-1] in ".!" and len(_WORD.findall(last)) >= (4 if kind in ("imperative", "embedded") else 5)


@dataclass
class QuestionTracker:
    """Interviewer captions waiting for a decision, plus recent non-question lead-ins.

    Pure state (the caller passes ``now``), so tests drive time by hand.
    """

    pause_s: float = 1.2
    max_buffer: int = 4
    lead_in_window_s: float = 20.0
    max_lead_ins: int = 2
    buffer: list[Caption] = field(default_factory=list)
    lead_ins: list[Caption] = field(default_factory=list)
    last_at: float | None = None

    def add(self, c: Caption, now: float) -> bool:
        """Buffer an interviewer caption; True when the buffer now clearly ends with a question."""
        self.buffer.append(c)
        if len(self.buffer) > self.max_buffer:
            self._to_lead_ins(self.buffer[: -self.max_buffer])
            self.buffer = self.buffer[-self.max_buffer :]
        self.last_at = now
        return clearly_ends_question(c.text)

    def deadline(self) -> float | None:
        return self.last_at + self.pause_s if self.buffer and self.last_at is not None else None

    def due(self, now: float) -> bool:
        d = self.deadline()
        return d is not None and now >= d

    def take(self) -> list[Caption]:
        """The question's captions: relevant lead-ins, then the buffer; clears both."""
        if not self.buffer:
            return []
        first_t0 = self.buffer[0].t0
        leads = [c for c in self.lead_ins if first_t0 - c.t1 <= self.lead_in_window_s][-self.max_lead_ins :]
        out = [*leads, *self.buffer]
        self.buffer, self.lead_ins, self.last_at = [], [], None
        return out

    def discard(self) -> None:
        """The buffer was not a question: keep it as possible lead-in for the next one."""
        self._to_lead_ins(self.buffer)
        self.buffer, self.last_at = [], None

    def candidate_spoke(self) -> None:
        """A lead-in does not survive the candidate's turn."""
        self.lead_ins = []

    def _to_lead_ins(self, cs: list[Caption]) -> None:
        self.lead_ins = [*self.lead_ins, *cs][-self.max_lead_ins :]


def focus(text: str) -> str:
    """The sentences that ask something (lead-ins dropped), for matching; the whole text if none do."""
    qs = [s for s in sentences(text) if question_kind(s)]
    return " ".join(qs) if qs else text


FOLLOW_UP_OPENERS = frozenset({"and", "or", "but", "also", "plus"})


def is_follow_up(text: str) -> bool:
    """ "And when would you not add one?": a question that leans on the one before it."""
    ws = _WORD.findall(_normalise(text))
    return bool(ws) and ws[0] in FOLLOW_UP_OPENERS
