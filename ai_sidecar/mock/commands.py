"""What the candidate says to the interviewer rather than as an answer: "I'm done", "repeat", "skip".

Why whole-utterance patterns: a caption is one utterance, and a command is said on its own ("Next
question, please."). Inside an answer the same words mean something else ("we skipped the
cache"), so only an utterance that is nothing but a command counts, or an answer that ends with
a closing phrase ("... and it shipped on time. That's all.").
"""

from __future__ import annotations

import re

_FILLER = r"(?:(?:ok(?:ay)?|so|um+|uh+|alright|all right|well|yeah|sorry|right)\s+)*"
_PLEASE = r"(?:\s+please)?(?:\s+thank you|\s+thanks)?"
_COMMANDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "repeat",
        re.compile(
            rf"^{_FILLER}(?:(?:can|could|would) you\s+)?(?:please\s+)?(?:repeat|say (?:that|it) again|come again)"
            rf"(?:\s+the question|\s+that|\s+it)?(?:\s+again)?{_PLEASE}$"
            r"|^(?:sorry\s+)?(?:what was the question|pardon(?: me)?)$"
        ),
    ),
    (
        "skip",
        re.compile(
            rf"^{_FILLER}(?:(?:can|could|may) (?:i|we)\s+)?(?:please\s+)?(?:skip|pass)"
            rf"(?:\s+(?:this|that|it|this one|this question|the question))?(?:\s+(?:one|question))?{_PLEASE}$"
        ),
    ),
    (
        "end",
        re.compile(
            rf"^{_FILLER}(?:(?:can|could) we\s+|let'?s\s+|please\s+)?(?:end|stop|finish)\s+(?:the\s+|this\s+)?interview"
            rf"(?:\s+(?:now|here))?{_PLEASE}$|^let'?s (?:end|stop) here$"
        ),
    ),
    (
        "next",
        re.compile(
            rf"^{_FILLER}(?:i'm|i am)\s+(?:done|finished)(?:\s+with (?:this|that|my answer))?{_PLEASE}$"
            rf"|^{_FILLER}(?:that'?s|that is)\s+(?:it|all|my answer)(?:\s+for (?:this|that)(?: one| question)?)?{_PLEASE}$"
            rf"|^{_FILLER}(?:(?:the\s+)?next(?:\s+question)?|(?:let'?s\s+|we can\s+)?move on(?:\s+to the next(?: question)?)?|done){_PLEASE}$"
        ),
    ),
)
# an answer that closes with one of these asks to move on, keeping what came before as the answer
_CLOSING = re.compile(
    r"(?:^|\s)(?:i'm done|i am done|i'm finished|that's all|that's it|that's my answer|that is my answer|next question)"
    r"(?:\s+please)?(?:\s+thank you|\s+thanks)?$"
)


def normalize(text: str) -> str:
    t = text.lower().replace("’", "'")
    t = re.sub(r"[^a-z0-9' ]+", " ", t)
    return " ".join(t.split())


_SENTENCE_END = re.compile(r"(?<=[.?!])\s+")


def _whole_command(norm: str) -> str | None:
    for action, pattern in _COMMANDS:
        if pattern.match(norm):
            return action
    return None


def parse_command(text: str) -> tuple[str | None, str]:
    """(action or None, the part of the utterance that is an answer).

    An utterance that is only a command is that command. An answer may end with one in a
    sentence of its own ("... it shipped on time. Let's end the interview."): the command is
    obeyed and what came before is the answer. An answer closing with "that's all"/"next
    question" moves on, kept whole.
    """
    norm = normalize(text)
    if not norm:
        return None, ""
    action = _whole_command(norm)
    if action is not None:
        return action, ""
    if len(norm.split()) >= 6 and _CLOSING.search(norm):
        return "next", text
    parts = _SENTENCE_END.split(text.strip())
    if len(parts) >= 2:
        last = normalize(parts[-1])
        action = _whole_command(last) if last else None
        if action is not None:
            return action, " ".join(parts[:-1])
    return None, text
