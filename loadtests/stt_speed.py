"""Whisper time and accuracy per utterance on this machine: tiny.en vs base, beam 1 vs 5.

    .venv/bin/python loadtests/stt_speed.py [--models tiny.en,base] [--beams 1,5] [--repeat 2]

Runs the stt worker's Transcriber (Silero check + Whisper + guards, CPU int8, STT_THREADS or all
cores up to 4) over the speech fixtures and prints the median Whisper seconds per utterance and
the corpus WER (case and punctuation ignored). ``base`` runs twice: language fixed to ``en`` and
``auto`` (detection costs one more pass). Offline.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import jiwer  # noqa: E402

from ai_sidecar.models import Models  # noqa: E402
from ai_sidecar.transcriber import Transcriber  # noqa: E402
from interview_room.config import Config  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"


def words(text: str) -> str:
    return " ".join(re.sub(r"[^\w']+", " ", text.lower()).split())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="tiny.en,base")
    ap.add_argument("--beams", default="1,5")
    ap.add_argument("--repeat", type=int, default=2, help="runs per utterance (the median is printed)")
    args = ap.parse_args()
    refs = json.loads((FIXTURES / "references.json").read_text())
    names = [n for n, r in refs.items() if r.get("text") and not r.get("utterances")]  # single utterances only
    pcm = {}
    for n in names:
        with wave.open(str(FIXTURES / n)) as w:
            pcm[n] = w.readframes(w.getnframes())
    audio_s = sum(len(p) / 32000 for p in pcm.values())
    print(f"{len(names)} utterances, {audio_s:.1f} s of audio, mean {audio_s / len(names):.1f} s")
    print(f"{'model':>8} {'lang':>5} {'beam':>4} {'median_s':>9} {'max_s':>6} {'rtf':>6} {'WER':>6}")
    for model in args.models.split(","):
        cfg = Config(stt_model=model)
        shared = Models(cfg)
        for lang in ("en",) if model.endswith(".en") else ("en", "auto"):
            for beam in (int(b) for b in args.beams.split(",")):
                tr = Transcriber(cfg, models=shared, beam_size=beam)
                tr.transcribe(pcm[names[0]], lang)  # warm-up (model load, first-call allocations)
                times: list[float] = []
                hyps: list[str] = []
                for n in names:
                    runs = [tr.transcribe(pcm[n], lang) for _ in range(args.repeat)]
                    times.append(statistics.median(r.stt_seconds for r in runs))
                    hyps.append(runs[0].text if runs[0].ok else "")
                wer = jiwer.wer([words(refs[n]["text"]) for n in names], [words(h) or "<empty>" for h in hyps])
                print(
                    f"{model:>8} {lang:>5} {beam:>4} {statistics.median(times):>9.2f} {max(times):>6.2f} "
                    f"{sum(times) / audio_s:>6.3f} {wer:>6.3f}"
                )
    print(f"threads: {shared.threads}")


if __name__ == "__main__":
    main()
