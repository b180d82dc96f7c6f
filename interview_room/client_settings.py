"""The one validation of a client's ``settings`` message, shared by the media node and the llm worker.

Why one: the node used to adopt any short string as the listening language (Whisper then failed
on every segment, ``en-US`` stopped all captions) while the llm worker refused it. Both now call
``parse_settings``: a regional tag becomes its language (``en-US``, ``pt_BR`` -> ``en``, ``pt``),
only languages Whisper knows are accepted, and a message with any bad field changes nothing
(the client gets one ``error`` event ``invalid_settings``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .config import HANGOVER_MS
from .messages import ErrorEvent

# Whisper's languages (faster_whisper.tokenizer._LANGUAGE_CODES): what captions can be made in, and so
# what the listening and answering languages may be. tests/test_client_settings.py keeps it in step.
LANGUAGES: frozenset[str] = frozenset(
    "af am ar as az ba be bg bn bo br bs ca cs cy da de el en es et eu fa fi fo fr gl gu ha haw he hi hr ht "
    "hu hy id is it ja jw ka kk km kn ko la lb ln lo lt lv mg mi mk ml mn mr ms mt my ne nl nn no oc pa pl ps "
    "pt ro ru sa sd si sk sl sn so sq sr su sv sw ta te tg th tk tl tr tt uk ur uz vi yi yo zh yue".split()
)
# other codes (old ISO 639 codes, Bokmål, ISO 639-2 "jav") for a language Whisper knows under another name
ALIASES: dict[str, str] = {"iw": "he", "in": "id", "ji": "yi", "jv": "jw", "jav": "jw", "nb": "no", "fil": "tl"}
AUTO = "auto"
ERROR_CODE = "invalid_settings"
_TAG = re.compile(r"^([a-z]{2,3})(?:-[a-z0-9]{1,8})*$")
MAX_TAG = 35  # longer than any real BCP-47 tag a browser sends


class InvalidSettings(ValueError):
    """Fields of a settings message that cannot be adopted (field -> why)."""

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = problems
        super().__init__(self.message)

    @property
    def message(self) -> str:
        parts = "; ".join(f"{k} {v}" for k, v in self.problems.items())
        return f"Invalid settings, nothing changed: {parts}"

    def to_event(self) -> ErrorEvent:
        return ErrorEvent(code=ERROR_CODE, message=self.message)


def language(value: object, *, allow_auto: bool = False) -> str:
    """A language tag reduced to the code Whisper and the models use (``en-US`` -> ``en``).

    Raises ValueError (the text says what is accepted) for anything else.
    """
    expected = "must be a supported language code such as 'en' or 'pt-BR'" + (" or 'auto'" if allow_auto else "")
    if not isinstance(value, str) or len(value) > MAX_TAG:
        raise ValueError(expected)
    s = value.strip().lower().replace("_", "-")
    if allow_auto and s == AUTO:
        return AUTO
    m = _TAG.match(s)
    if not m:
        raise ValueError(expected)
    code = ALIASES.get(m.group(1), m.group(1))
    if code not in LANGUAGES:
        raise ValueError(f"{value!r} is not a supported language; " + expected.removeprefix("must be "))
    return code


@dataclass(frozen=True)
class SettingsChange:
    """What a valid ``settings`` message changes (None = left as it is)."""

    listen_language: str | None = None
    answer_language: str | None = None
    translate: bool | None = None
    hangover: str | None = None

    def to_payload(self) -> dict[str, Any]:
        """The normalised message, as forwarded to the llm worker."""
        fields = {k: v for k, v in self.__dict__.items() if v is not None}
        return {"type": "settings", **fields}


def parse_settings(msg: dict[str, Any]) -> SettingsChange:
    """Validate a client ``settings`` message (unknown keys are ignored); InvalidSettings if any field is bad."""
    problems: dict[str, str] = {}
    out: dict[str, Any] = {}
    for key, allow_auto in (("listen_language", True), ("answer_language", False)):
        if key in msg:
            try:
                out[key] = language(msg[key], allow_auto=allow_auto)
            except ValueError as e:
                problems[key] = str(e)
    if "translate" in msg:
        if isinstance(msg["translate"], bool):
            out["translate"] = msg["translate"]
        else:
            problems["translate"] = "must be true or false"
    if "hangover" in msg:
        if isinstance(msg["hangover"], str) and msg["hangover"] in HANGOVER_MS:
            out["hangover"] = msg["hangover"]
        else:
            problems["hangover"] = f"must be one of: {', '.join(HANGOVER_MS)}"
    if problems:
        raise InvalidSettings(problems)
    return SettingsChange(**out)
