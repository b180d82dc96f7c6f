"""Start WhisperLiveKit (LocalAgreement, faster-whisper backend) on 127.0.0.1; runs inside the peer's venv.

    <venv>/bin/python launch_wlk.py --port P --model DIR --warmup WAV [--beam N]

Its own server (``whisperlivekit.basic_server``) with ``--backend faster-whisper --backend-policy
localagreement --model_dir DIR --lan en --pcm-input`` (raw s16le PCM, as its AudioWorklet front end
sends; no ffmpeg) and a local warm-up file; everything else default. ``--beam N`` replaces the beam size
of every faster-whisper transcribe call (its LocalAgreement backend passes 5); 0 keeps it.
"""

import argparse
import functools
import os
import sys

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--model", required=True)
ap.add_argument("--warmup", required=True)
ap.add_argument("--beam", type=int, default=0)
args = ap.parse_args()
os.environ["HF_HUB_OFFLINE"] = "1"

if args.beam:
    import faster_whisper

    orig = faster_whisper.WhisperModel.transcribe

    @functools.wraps(orig)
    def transcribe(self, *a, **kw):
        kw["beam_size"] = args.beam
        return orig(self, *a, **kw)

    faster_whisper.WhisperModel.transcribe = transcribe

sys.argv = [
    "whisperlivekit-server",
    "--host", "127.0.0.1",
    "--port", str(args.port),
    "--backend", "faster-whisper",
    "--backend-policy", "localagreement",
    "--model_dir", args.model,
    "--lan", "en",
    "--pcm-input",
    "--warmup-file", args.warmup,
]
from whisperlivekit.basic_server import main  # noqa: E402

main()
