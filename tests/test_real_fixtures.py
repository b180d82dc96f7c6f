"""The committed speech fixtures agree with references.json: files exist, 16 kHz mono s16, lengths and texts.

The long real-speech fixtures (tests/fixtures/make_real_speech.py) also: a minute or more, several sources
(speakers), utterance spans in order inside the file, speech inside each span and silence between them.
"""

from __future__ import annotations

import wave

import numpy as np
import pytest

from loadtests.client import FIXTURES, load_references

REFS = load_references()
REAL = [name for name, r in REFS.items() if r.get("real_speech")]


@pytest.mark.parametrize("name", sorted(REFS))
def test_fixture_matches_reference(name: str) -> None:
    ref = REFS[name]
    path = FIXTURES / name
    assert path.is_file(), name
    with wave.open(str(path), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2), name
        assert w.getnframes() / 16000 == pytest.approx(ref["duration"], abs=0.002)
    if ref.get("no_speech"):
        assert ref["text"] == ""
    else:
        assert ref["text"].strip(), name


def test_real_speech_fixtures_exist() -> None:
    assert {"real_multi_speaker.wav", "real_ivr_monologue.wav"} <= set(REAL)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) / 32768.0 if len(x) else 0.0


@pytest.mark.parametrize("name", REAL)
def test_real_speech_utterances(name: str) -> None:
    ref = REFS[name]
    with wave.open(str(FIXTURES / name), "rb") as w:
        audio = np.frombuffer(w.readframes(w.getnframes()), np.int16)
    utts = ref["utterances"]
    assert ref["duration"] >= 50.0
    assert ref["text"] == " ".join(u["text"] for u in utts)
    assert all(u["text"].strip() and u["source"] for u in utts)
    end = 0.0
    for u in utts:
        assert end <= u["t0"] < u["speech_t1"] <= u["t1"] <= ref["duration"] + 1e-3
        span = audio[int(u["t0"] * 16000) : int(u["t1"] * 16000)]
        assert _rms(span) > 0.02, u  # speech
        gap = audio[int(end * 16000) : int(u["t0"] * 16000)]
        assert _rms(gap) < 0.001, u  # silence between utterances
        end = u["t1"]


def test_multi_speaker_has_several_speakers_and_a_minute() -> None:
    ref = REFS["real_multi_speaker.wav"]
    assert ref["duration"] >= 60.0
    sources = {u["source"].split(":")[0] for u in ref["utterances"]}
    assert len(sources) >= 3, sources
