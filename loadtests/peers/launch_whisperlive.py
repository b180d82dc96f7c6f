"""Start WhisperLive's server (faster_whisper backend) on 127.0.0.1; runs inside the peer's own venv.

    <venv>/bin/python launch_whisperlive.py --port P --model DIR [--beam N]

Settings as the project's run_server.py gives them when a custom model folder is passed: one shared model
(``single_model``), OMP_NUM_THREADS=1, 4 clients at most. ``--beam N`` replaces the beam size of every
transcribe call (the project's default is 5); 0 keeps the default. Nothing is downloaded: the model is a
local CTranslate2 folder and HF_HUB_OFFLINE=1.
"""

import argparse
import functools
import os

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--model", required=True)
ap.add_argument("--beam", type=int, default=0)
args = ap.parse_args()
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ["HF_HUB_OFFLINE"] = "1"

from whisper_live.transcriber import transcriber_faster_whisper as tfw  # noqa: E402

if args.beam:
    orig = tfw.WhisperModel.transcribe

    @functools.wraps(orig)
    def transcribe(self, *a, **kw):
        kw["beam_size"] = args.beam
        return orig(self, *a, **kw)

    tfw.WhisperModel.transcribe = transcribe

from whisper_live.server import TranscriptionServer  # noqa: E402

TranscriptionServer().run(
    "127.0.0.1",
    port=args.port,
    backend="faster_whisper",
    faster_whisper_custom_model_path=args.model,
    single_model=True,
    max_clients=4,
    max_connection_time=3600,
)
