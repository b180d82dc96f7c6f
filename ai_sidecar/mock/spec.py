"""What the user asked for (``sessions.mock``), read tolerantly, and what follows from it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TYPES = ("behavioral", "frontend", "dsa", "system_design", "machine_coding", "custom")
DIFFICULTIES = ("easy", "medium", "hard", "expert")
TYPE_NAMES = {
    "behavioral": "behavioural / HR",
    "frontend": "frontend / JavaScript",
    "dsa": "data structures and algorithms",
    "system_design": "system design",
    "machine_coding": "machine coding",
    "custom": "custom",
}
# older clients sent these; they map onto the current set
_ALIASES = {"behavioural": "behavioral", "hr": "behavioral", "javascript": "frontend", "technical": "custom", "mixed": "custom"}
MIN_QUESTIONS, MAX_QUESTIONS = 5, 7


@dataclass(frozen=True)
class MockSpec:
    type: str = "behavioral"
    difficulty: str = "medium"
    focus_areas: tuple[str, ...] = ()
    requirements: str = ""
    duration_minutes: int = 30
    language: str = "en"

    @classmethod
    def from_config(cls, raw: dict[str, Any] | None, language: str = "en") -> MockSpec:
        raw = raw or {}
        t = str(raw.get("type") or "behavioral").strip().lower()
        t = _ALIASES.get(t, t)
        d = str(raw.get("difficulty") or "medium").strip().lower()
        focus = raw.get("focus_areas") or []
        try:
            minutes = int(raw.get("duration_minutes") or 30)
        except (TypeError, ValueError):
            minutes = 30
        lang = (language or "en").lower()
        return cls(
            type=t if t in TYPES else "custom",
            difficulty=d if d in DIFFICULTIES else "medium",
            focus_areas=tuple(str(f).strip() for f in focus if isinstance(f, str) and f.strip())[:20],
            requirements=str(raw.get("requirements") or "")[:10_000],
            duration_minutes=max(1, min(240, minutes)),
            language="en" if lang in ("", "auto") else lang,
        )

    @property
    def question_count(self) -> int:
        """5-7: about one question per five minutes."""
        return max(MIN_QUESTIONS, min(MAX_QUESTIONS, round(self.duration_minutes / 5)))

    @property
    def allocation_s(self) -> int:
        """Answer time per question (the follow-up included)."""
        return max(30, self.duration_minutes * 60 // self.question_count)

    @property
    def type_name(self) -> str:
        return TYPE_NAMES.get(self.type, self.type)

    @property
    def follow_up_below(self) -> float:
        """Key-point coverage under which the interviewer asks a follow-up: stricter when harder."""
        return {"easy": 0.3, "medium": 0.5, "hard": 0.6, "expert": 0.75}[self.difficulty]
