"""Quality of the offline provider on tests/data/labelled_qa.json.

Prints question-detection precision/recall (captions fed through the same tracker and rules as
the worker), question-bank top-1 accuracy, key-point coverage and the offline score of a good
versus a poor answer to each question.

    .venv/bin/python -m loadtests.offline_eval [path/to/labelled_qa.json]
    .venv/bin/python -m loadtests.offline_eval --paraphrases   (tests/data/paraphrased_questions.json)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ai_sidecar.llm.bank import coverage, default_bank
from ai_sidecar.llm.delivery import measure
from ai_sidecar.llm.detection import QuestionTracker, has_question
from ai_sidecar.llm.scoring import offline_score
from interview_room.messages import Caption

DEFAULT_DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "labelled_qa.json"
# interviewer speech written as paraphrases, not copies of bank entries: how the detector does on questions it
# was not written against (detection only: no bank ids or answers)
PARAPHRASES = DEFAULT_DATA.with_name("paraphrased_questions.json")
WPM = 150.0


@dataclass
class EvalResult:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    bank_total: int = 0
    bank_correct: int = 0
    off_bank_total: int = 0
    off_bank_rejected: int = 0
    pairs: int = 0
    coverage_good_wins: int = 0
    score_good_wins: int = 0
    coverage_good: list[float] = field(default_factory=list)
    coverage_poor: list[float] = field(default_factory=list)
    score_good: list[int] = field(default_factory=list)
    score_poor: list[int] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def bank_accuracy(self) -> float:
        return self.bank_correct / self.bank_total if self.bank_total else 0.0

    @property
    def off_bank_rejection(self) -> float:
        return self.off_bank_rejected / self.off_bank_total if self.off_bank_total else 1.0

    @property
    def coverage_win_rate(self) -> float:
        return self.coverage_good_wins / self.pairs if self.pairs else 0.0

    @property
    def score_win_rate(self) -> float:
        return self.score_good_wins / self.pairs if self.pairs else 0.0


def detect(captions: list[str]) -> list[str]:
    """Run interviewer captions through the tracker as the worker does; the questions found."""
    tracker = QuestionTracker(pause_s=1.0)
    now = 0.0
    found: list[str] = []
    for i, text in enumerate(captions):
        c = Caption(id=f"c{i}", role="interviewer", t0=now, t1=now + 2.0, text=text, lang="en")
        now += 2.5
        if tracker.add(c, now):
            found.append(" ".join(x.text for x in tracker.take()))
    now += 5.0
    if tracker.due(now):
        buf = [c.text for c in tracker.buffer]
        if has_question(" ".join(buf)):
            found.append(" ".join(x.text for x in tracker.take()))
        else:
            tracker.discard()
    return found


def spoken(text: str, t0: float = 0.0) -> list[Caption]:
    """An answer as the candidate's captions: one per sentence group, timed at a steady pace."""
    words = text.split()
    caps: list[Caption] = []
    t = t0
    for i in range(0, len(words), 18):
        chunk = " ".join(words[i : i + 18])
        dur = len(chunk.split()) / WPM * 60.0
        caps.append(Caption(id=f"a{i}", role="candidate", t0=t, t1=t + dur, text=chunk, lang="en"))
        t += dur + 0.4
    return caps


def evaluate(path: Path = DEFAULT_DATA) -> EvalResult:
    bank = default_bank()
    items: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["items"]
    res = EvalResult()
    for it in items:
        found = detect(it["captions"])
        q = found[0] if found else None
        label = " / ".join(it["captions"])
        if it["is_question"]:
            if q:
                res.tp += 1
            else:
                res.fn += 1
                res.misses.append(f"missed question: {label}")
        elif q:
            res.fp += 1
            res.misses.append(f"false question: {label}")
        else:
            res.tn += 1
        if not it["is_question"]:
            continue
        text = " ".join(found) if found else " ".join(it["captions"])
        # the latest question, as the worker matches it (a follow-up leans on the question before)
        match = (
            bank.match_question(found[-1], found[-2] if len(found) > 1 else None)
            if found
            else bank.match_question(text)
        )
        if it.get("off_bank"):
            res.off_bank_total += 1
            if match is None:
                res.off_bank_rejected += 1
            else:
                res.misses.append(f"bank: {label} -> {match.entry.id} (want no match)")
        elif it.get("expected_bank_id"):
            res.bank_total += 1
            if match and match.entry.id == it["expected_bank_id"]:
                res.bank_correct += 1
            else:
                res.misses.append(
                    f"bank: {label} -> {match.entry.id if match else None} (want {it['expected_bank_id']})"
                )
        expected = bank.by_id(it.get("expected_bank_id") or "")
        if expected is None:
            continue
        res.pairs += 1
        cg = coverage(expected, it["good_answer"]).ratio
        cp = coverage(expected, it["poor_answer"]).ratio
        res.coverage_good.append(cg)
        res.coverage_poor.append(cp)
        res.coverage_good_wins += cg > cp
        sg = offline_score(text, match, it["good_answer"], measure(spoken(it["good_answer"]))).score
        sp = offline_score(text, match, it["poor_answer"], measure(spoken(it["poor_answer"]))).score
        res.score_good.append(sg)
        res.score_poor.append(sp)
        res.score_good_wins += sg > sp
        if sg <= sp:
            res.misses.append(f"score: {label}: good {sg} <= poor {sp}")
    return res


def report(res: EvalResult) -> str:
    mean = statistics.fmean
    lines = [
        f"question detection: precision {res.precision:.3f}  recall {res.recall:.3f}  "
        f"(tp {res.tp}, fp {res.fp}, fn {res.fn}, tn {res.tn})",
    ]
    if res.bank_total or res.off_bank_total:
        lines.append(
            f"bank top-1 accuracy: {res.bank_accuracy:.3f} ({res.bank_correct}/{res.bank_total}); off-bank questions "
            f"left unmatched: {res.off_bank_rejection:.3f} ({res.off_bank_rejected}/{res.off_bank_total})"
        )
    if res.pairs:
        lines += [
            f"key-point coverage: good {mean(res.coverage_good):.2f}  poor {mean(res.coverage_poor):.2f}  "
            f"good > poor on {res.coverage_win_rate:.0%} of {res.pairs} pairs",
            f"offline score: good {mean(res.score_good):.1f}  poor {mean(res.score_poor):.1f}  "
            f"good > poor on {res.score_win_rate:.0%} of {res.pairs} pairs",
        ]
    lines += [f"  - {m}" for m in res.misses]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("path", nargs="?", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--paraphrases", action="store_true", help=f"evaluate {PARAPHRASES.name} instead")
    args = ap.parse_args(argv)
    print(report(evaluate(PARAPHRASES if args.paraphrases else args.path)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
