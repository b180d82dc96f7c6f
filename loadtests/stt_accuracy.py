"""Caption accuracy and Whisper CPU per decoding mode, against an offline whole-file decode. Offline.

    .venv/bin/python -m loadtests.stt_accuracy [--files jfk.wav,conversation.wav,...] [--batch 4]

Each fixture is cut into utterances by the media node's own segmenter (webrtcvad, pause
``balanced``, finals only), as a live room cuts it; the utterances are then transcribed:

- ``alone30``: one by one, 30 s window (``Transcriber.transcribe``, the path before batching);
- ``alone``: one by one through ``transcribe_batch`` (short window, no context);
- ``context``: one by one with the session's previous speech and text as context (``SessionHistory``);
- ``batch``: the fixtures as concurrent sessions, the k-th utterance of each decoded in one batched
  call (``--batch`` at most), with context;
- ``offline``: faster-whisper over the whole file (its own VAD, beam 1): the aim.

Prints WER per fixture and mode, Whisper CPU-seconds (process time: all threads) and wall seconds per
mode, and captions per CPU-second. The machine may be shared: compare modes of the same run.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import jiwer  # noqa: E402

from ai_sidecar.context_window import DecodeItem, SessionHistory  # noqa: E402
from ai_sidecar.transcriber import Transcriber, pcm_to_float  # noqa: E402
from interview_room.config import Config  # noqa: E402
from media_server.segmenter import Segmenter, SegmenterSettings  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
REAL = ["jfk.wav", "conversation.wav", "alsa_front_center.wav", "alsa_front_left.wav"]


def words(text: str) -> str:
    return " ".join(re.sub(r"[^\w']+", " ", text.lower().replace("-", " ")).split())


def reference(name: str) -> str:
    ref = json.loads((FIXTURES / "references.json").read_text())[name]
    if ref.get("utterances"):
        return " ".join(u["text"] for u in ref["utterances"])
    return ref["text"]


def read_pcm(path: Path) -> bytes:
    with wave.open(str(path)) as w:
        return w.readframes(w.getnframes())


def cut(pcm: bytes) -> list[bytes]:
    """The final utterances the media node's segmenter makes of this audio (default settings)."""
    seg = Segmenter(SegmenterSettings(early_partial=False))
    out = [u for u in seg.push(pcm, 0.0) if u.final]
    out += [u for u in seg.flush() if u.final]
    return [u.pcm for u in out]


def wer(ref: str, hyp: str) -> float:
    return float(jiwer.wer(words(ref), words(hyp) or "<empty>"))


def item(pcm: bytes, context_pcm: bytes, context_text: str) -> DecodeItem:
    return DecodeItem(pcm, context_pcm=context_pcm, context_text=context_text)


class Meter:
    def __init__(self) -> None:
        self.cpu = 0.0
        self.wall = 0.0
        self.calls = 0

    def __enter__(self) -> Meter:
        self._c, self._w = time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cpu += time.process_time() - self._c
        self.wall += time.perf_counter() - self._w


def run(args: argparse.Namespace) -> None:
    cfg = Config()
    tr = Transcriber(cfg)
    names = args.files.split(",")
    pcm = {n: read_pcm(FIXTURES / n) for n in names}
    utts = {n: cut(p) for n, p in pcm.items()}
    tr.transcribe(utts[names[0]][0])  # warm-up: model load, first-call allocations
    tr.transcribe_batch([DecodeItem(utts[names[0]][0])])
    n_utts = sum(len(u) for u in utts.values())
    print(f"{len(names)} fixtures, {n_utts} utterances, window min {tr.window_min_s:g} s step {tr.window_step_s:g} s, "
          f"context {args.context:g} s, threads {tr.models.threads}")  # fmt: skip
    hyps: dict[str, dict[str, list[str]]] = {}
    meters: dict[str, Meter] = {}

    def keep(mode: str, name: str, text: str) -> None:
        hyps.setdefault(mode, {}).setdefault(name, []).append(text)

    m = meters["alone30"] = Meter()
    for n in names:
        for u in utts[n]:
            with m:
                r = tr.transcribe(u)
            keep("alone30", n, r.text if r.ok else "")
    m = meters["alone"] = Meter()
    for n in names:
        for u in utts[n]:
            with m:
                r = tr.transcribe_batch([DecodeItem(u)])[0]
            keep("alone", n, r.text if r.ok else "")
    m = meters["context"] = Meter()
    hist = SessionHistory(args.context)
    for n in names:
        for u in utts[n]:
            ctx, text = hist.context(n)
            with m:
                r = tr.transcribe_batch([DecodeItem(u, context_pcm=ctx, context_text=text)])[0]
            keep("context", n, r.text if r.ok else "")
            if r.ok:
                hist.add(n, u, r.text)
    m = meters["batch"] = Meter()
    hist = SessionHistory(args.context)
    for k in range(max(len(u) for u in utts.values())):
        todo = [n for n in names if k < len(utts[n])]
        for i in range(0, len(todo), args.batch):
            part = todo[i : i + args.batch]
            items = [item(utts[n][k], *hist.context(n)) for n in part]
            with m:
                rs = tr.transcribe_batch(items)
            for n, r in zip(part, rs, strict=True):
                keep("batch", n, r.text if r.ok else "")
                if r.ok:
                    hist.add(n, utts[n][k], r.text)
    m = meters["offline"] = Meter()
    _, model = tr.models.for_language("en")
    for n in names:
        with m:
            segs, _ = model.transcribe(pcm_to_float(pcm[n]), language="en", beam_size=1, vad_filter=True)
            keep("offline", n, " ".join(s.text.strip() for s in segs))
    modes = list(meters)
    print("| fixture | utterances | " + " | ".join(f"WER {x}" for x in modes) + " |")
    print("| --- | --- |" + " --- |" * len(modes))
    for n in names:
        row = [f"{wer(reference(n), ' '.join(hyps[x][n])):.3f}" for x in modes]
        print(f"| {n} | {len(utts[n])} | " + " | ".join(row) + " |")
    refs = " ".join(reference(n) for n in names)
    allw = [f"{wer(refs, ' '.join(' '.join(hyps[x][n]) for n in names)):.3f}" for x in modes]
    print(f"| all | {n_utts} | " + " | ".join(allw) + " |")
    print()
    print("| mode | CPU s | wall s | captions per CPU-second |")
    print("| --- | --- | --- | --- |")
    for x in modes:
        per = n_utts / meters[x].cpu if x != "offline" else float("nan")
        print(f"| {x} | {meters[x].cpu:.2f} | {meters[x].wall:.2f} | {per:.2f} |")
    if args.show:
        for x in modes:
            for n in names:
                print(x, n, hyps[x][n])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", default=",".join(REAL))
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--context", type=float, default=None, help="seconds of context (default STT_CONTEXT_S)")
    ap.add_argument("--show", action="store_true", help="print every hypothesis")
    args = ap.parse_args()
    if args.context is None:
        args.context = Config().stt_context_s
    run(args)


if __name__ == "__main__":
    main()
