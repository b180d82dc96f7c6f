"""How many false utterances webrtcvad cuts from noise, and how many survive the Silero check.

    .venv/bin/python loadtests/false_segments.py [--whisper] [wav ...]

Defaults to tests/fixtures/noise*.wav (keyboard clicks + mains hum + hiss). For every webrtcvad
aggressiveness it prints: the share of 20 ms frames webrtcvad calls speech, the segments the media
node's segmenter cuts (media_server/segmenter.py; plain webrtcvad runs if it is missing), how many
of those Silero still takes for speech (>= 250 ms), and with --whisper how many would become a
caption after the hallucination guards. The speech fixtures are run too, to show the check does
not eat real speech. Offline, CPU only.
"""

from __future__ import annotations

import argparse
import sys
import time
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import webrtcvad  # noqa: E402

from ai_sidecar.transcriber import MIN_SPEECH_MS, Transcriber, pcm_to_float, speech_ms  # noqa: E402
from interview_room.config import Config  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
RATE = 16000
FRAME = RATE * 2 // 50  # 20 ms of s16le


def read_pcm(path: Path) -> bytes:
    with wave.open(str(path)) as w:
        if (w.getframerate(), w.getnchannels(), w.getsampwidth()) != (RATE, 1, 2):
            raise SystemExit(f"{path}: need 16 kHz mono s16 WAV")
        return w.readframes(w.getnframes())


def voiced_share(pcm: bytes, aggressiveness: int) -> float:
    vad = webrtcvad.Vad(aggressiveness)
    frames = [pcm[i : i + FRAME] for i in range(0, len(pcm) - FRAME + 1, FRAME)]
    return sum(vad.is_speech(f, RATE) for f in frames) / max(1, len(frames))


def cut(pcm: bytes, aggressiveness: int) -> tuple[list[bytes], str]:
    """Utterances as the media node would cut them (20 ms pushes)."""
    try:
        from media_server.segmenter import Segmenter, SegmenterSettings
    except ImportError:
        return _plain_webrtcvad(pcm, aggressiveness), "plain webrtcvad"
    seg = Segmenter(SegmenterSettings(aggressiveness=aggressiveness))
    out = []
    for i in range(0, len(pcm), FRAME):
        out += seg.push(pcm[i : i + FRAME], i / 2 / RATE)
    out += seg.flush()
    return [u.pcm for u in out], "media_server.segmenter"


def _plain_webrtcvad(pcm: bytes, aggressiveness: int, hangover_frames: int = 22, min_frames: int = 15) -> list[bytes]:
    vad = webrtcvad.Vad(aggressiveness)
    segs: list[bytes] = []
    cur = bytearray()
    silent = 0
    for i in range(0, len(pcm) - FRAME + 1, FRAME):
        f = pcm[i : i + FRAME]
        if vad.is_speech(f, RATE):
            cur += f
            silent = 0
        elif cur:
            cur += f
            silent += 1
            if silent >= hangover_frames:
                if len(cur) // FRAME >= min_frames:
                    segs.append(bytes(cur))
                cur, silent = bytearray(), 0
    if len(cur) // FRAME >= min_frames:
        segs.append(bytes(cur))
    return segs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("wavs", nargs="*", type=Path)
    ap.add_argument("--whisper", action="store_true", help="also run Whisper + guards on each segment")
    args = ap.parse_args()
    noise = args.wavs or sorted(FIXTURES.glob("noise*.wav"))
    speech = [] if args.wavs else sorted(FIXTURES.glob("q_*.wav")) + sorted(FIXTURES.glob("c_*.wav"))
    tr = Transcriber(Config(data_dir=Path("/tmp/ir-false-segments"), stt_model="")) if args.whisper else None

    print(f"Silero threshold: {MIN_SPEECH_MS:.0f} ms of speech per segment")
    for label, files in (("noise (every segment is false)", noise), ("speech (every segment is real)", speech)):
        if not files:
            continue
        print(f"\n== {label}: {', '.join(p.name for p in files)}")
        hdr = f"{'aggr':>4} {'voiced':>7} {'segments':>9} {'silero_pass':>12} {'silero_ms/seg':>14}"
        print(hdr + (f" {'captions':>9} {'whisper_s':>10}" if tr else ""))
        source = ""
        for aggr in range(4):
            n_seg = n_pass = n_cap = 0
            share = 0.0
            vad_s = whisper_s = 0.0
            for path in files:
                pcm = read_pcm(path)
                share += voiced_share(pcm, aggr) / len(files)
                segs, source = cut(pcm, aggr)
                n_seg += len(segs)
                for s in segs:
                    t = time.perf_counter()
                    ms = speech_ms(pcm_to_float(s))
                    vad_s += time.perf_counter() - t
                    n_pass += ms >= MIN_SPEECH_MS
                    if tr is not None:
                        r = tr.transcribe(s, "en")
                        whisper_s += r.stt_seconds
                        n_cap += r.ok
            per = f"{vad_s / n_seg * 1000:.1f}" if n_seg else "-"
            line = f"{aggr:>4} {share:>7.0%} {n_seg:>9} {n_pass:>12} {per:>14}"
            print(line + (f" {n_cap:>9} {whisper_s:>10.2f}" if tr else ""))
        print(f"(segments cut by {source}; silero_ms/seg = Silero CPU time per segment)")


if __name__ == "__main__":
    main()
