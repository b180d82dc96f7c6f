"""The transcriber on recorded speech and noise: offline models, accuracy, and no invented captions."""

from __future__ import annotations

import json
import re
import shutil
import wave
from collections.abc import Iterator
from pathlib import Path

import jiwer
import numpy as np
import pytest

from ai_sidecar import models
from ai_sidecar.transcriber import Transcriber, Transcript, guard
from interview_room.config import Config
from media_server.segmenter import Segmenter, SegmenterSettings

pytestmark = pytest.mark.whisper  # transcribes speech with the Whisper model (not in make test-fast)

FIXTURES = Path(__file__).resolve().parent / "fixtures"
REFS: dict[str, dict] = json.loads((FIXTURES / "references.json").read_text())
ESPEAK = sorted(n for n, r in REFS.items() if r.get("source", "").startswith("espeak-ng"))
NOISE = sorted(p.name for p in FIXTURES.glob("noise*.wav"))


def pcm_of(name: str) -> bytes:
    with wave.open(str(FIXTURES / name)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
        return w.readframes(w.getnframes())


def words(text: str) -> str:
    return " ".join(re.sub(r"[^\w']+", " ", text.lower()).split())


def wer(refs: list[str], hyps: list[str]) -> float:
    return jiwer.wer([words(r) for r in refs], [words(h) or "<empty>" for h in hyps])


@pytest.fixture(scope="module")
def cfg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Config]:
    data_dir = tmp_path_factory.mktemp("stt-data")
    yield Config(data_dir=data_dir, stt_model="")
    shutil.rmtree(data_dir, ignore_errors=True)  # the joined base model is 145 MB


@pytest.fixture(scope="module")
def transcriber(cfg: Config) -> Iterator[Transcriber]:
    yield Transcriber(cfg)


def test_english_questions_are_transcribed_accurately(transcriber: Transcriber) -> None:
    assert len(ESPEAK) >= 6
    results = [transcriber.transcribe(pcm_of(n), "en") for n in ESPEAK]
    for name, r in zip(ESPEAK, results, strict=True):
        assert r.ok, f"{name}: rejected ({r.rejected}) {r.text!r}"
        assert r.lang == "en" and r.model == models.TINY_EN
    score = wer([REFS[n]["text"] for n in ESPEAK], [r.text for r in results])
    assert score <= 0.25, [(n, r.text) for n, r in zip(ESPEAK, results, strict=True)]


def test_real_human_speech_jfk(transcriber: Transcriber) -> None:
    r = transcriber.transcribe(pcm_of("jfk.wav"), "en")
    assert r.ok, r.rejected
    assert wer([REFS["jfk.wav"]["text"]], [r.text]) <= 0.25, r.text
    assert r.duration == pytest.approx(11.0, abs=0.01)


@pytest.mark.parametrize("lang", ["en", "auto"])
def test_keyboard_and_hum_yield_no_caption(transcriber: Transcriber, lang: str) -> None:
    assert NOISE, "tests/fixtures/noise*.wav missing"
    for name in NOISE:
        r = transcriber.transcribe(pcm_of(name), lang)
        assert not r.ok and r.text == "", (name, r.text)
        assert r.rejected == "vad_silero"
        assert r.stt_seconds == 0.0  # Whisper never ran on it


def test_noise_segments_cut_by_webrtcvad_yield_no_caption(transcriber: Transcriber) -> None:
    """What the media node would really send: the pieces of noise webrtcvad takes for speech."""
    assert NOISE, "tests/fixtures/noise*.wav missing"
    for name in NOISE:
        pcm = pcm_of(name)
        seg = Segmenter(SegmenterSettings(aggressiveness=2))
        cuts = []
        step = 16000 * 2 // 50  # 20 ms pushes, as the media node does
        for i in range(0, len(pcm), step):
            cuts += seg.push(pcm[i : i + step], i / 2 / 16000)
        cuts += seg.flush()
        # the fixture is one that webrtcvad mistakes for speech: otherwise this test would check nothing
        assert len([u for u in cuts if u.final]) >= 2, (name, [(u.t0, u.t1, u.final) for u in cuts])
        for u in cuts:
            r = transcriber.transcribe(u.pcm, "en")
            assert not r.ok, (name, u.t0, u.t1, r.text)


def test_silence_and_tiny_input_are_rejected_without_whisper(transcriber: Transcriber) -> None:
    for pcm in (b"", b"\x00", bytes(16000 * 2 * 2)):
        r = transcriber.transcribe(pcm, "en")
        assert r.rejected == "vad_silero" and r.stt_seconds == 0.0


def test_other_languages_use_multilingual_base_and_detect_the_language(cfg: Config) -> None:
    tr = Transcriber(cfg)
    r = tr.transcribe(pcm_of("jfk.wav"), "auto")
    assert r.ok and r.model == models.BASE and r.lang == "en"
    assert wer([REFS["jfk.wav"]["text"]], [r.text]) <= 0.25, r.text
    assert models.BASE in tr.models.loaded() and models.TINY_EN not in tr.models.loaded()


def test_base_model_is_joined_once_and_reused(cfg: Config) -> None:
    first = models.base_path(cfg.model_cache_dir)
    d1, d2 = models._base_parts()
    size = (d1 / "model.bin.part1").stat().st_size + (d2 / "model.bin.part2").stat().st_size
    model_bin = first / "model.bin"
    assert model_bin.stat().st_size == size
    with open(d1 / "model.bin.part1", "rb") as a, open(model_bin, "rb") as b:
        assert a.read(1 << 16) == b.read(1 << 16)
    stamp = model_bin.stat().st_mtime_ns
    assert models.base_path(cfg.model_cache_dir) == first
    assert model_bin.stat().st_mtime_ns == stamp  # reused, not rewritten
    assert not [p for p in first.iterdir() if p.name.endswith(".tmp")]


def test_a_truncated_join_is_redone(tmp_path: Path) -> None:
    target = tmp_path / models.BASE_DIR_NAME
    target.mkdir()
    (target / "model.bin").write_bytes(b"half a model")
    path = models.base_path(tmp_path)
    d1, d2 = models._base_parts()
    size = (path / "model.bin").stat().st_size
    shutil.rmtree(path)
    assert size == (d1 / "model.bin.part1").stat().st_size + (d2 / "model.bin.part2").stat().st_size


def test_model_choice_follows_language_and_override(tmp_path: Path) -> None:
    cfg = Config(data_dir=tmp_path, stt_model="")
    assert models.model_name_for(cfg, "en") == models.TINY_EN
    assert models.model_name_for(cfg, "auto") == models.BASE
    assert models.model_name_for(cfg, "es") == models.BASE
    custom = Config(data_dir=tmp_path, stt_model="large-v3")
    assert models.model_name_for(custom, "en") == "large-v3"


def test_a_model_missing_offline_is_a_clear_error_not_a_download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    cfg = Config(data_dir=tmp_path, stt_model="Systran/faster-whisper-large-v3")
    with pytest.raises(models.ModelUnavailable, match="not available offline"):
        models.Models(cfg).get(cfg.stt_model)


def _t(
    text: str,
    *,
    nsp: float = 0.05,
    logprob: float = -0.3,
    speech_ms: float = 2000.0,
    db: float = -20.0,
    cr: float = 1.2,
) -> Transcript:
    return Transcript(text, "en", nsp, logprob, cr, speech_ms / 1000 + 0.2, speech_ms, db, 0.3, models.TINY_EN)


def test_hallucination_guards() -> None:
    assert guard(_t("How does a hash map handle collisions?")) is None
    assert guard(_t("Thank you very much for having me today.")) is None
    assert guard(_t("Thank you.", speech_ms=2500, nsp=0.02)) is None  # clearly spoken: kept
    assert guard(_t("Thank you.", speech_ms=600, nsp=0.4)) == "hallucination"
    assert guard(_t("you", speech_ms=350)) == "hallucination"
    assert guard(_t("Thank you.", speech_ms=1500, db=-55)) == "hallucination"
    assert guard(_t("Thanks for watching!")) == "hallucination"
    assert guard(_t("Subtitles by the Amara.org community")) == "hallucination"
    assert guard(_t(" . ")) == "empty"
    assert guard(_t("")) == "empty"
    assert guard(_t("Hello?", nsp=0.9, logprob=-1.4)) == "no_speech"
    assert guard(_t("4x" * 60, logprob=-0.1, cr=9.0)) == "repetition"
    assert guard(_t("Garbled", logprob=-2.5)) == "low_logprob"


def test_sound_annotations_are_not_captions() -> None:
    from ai_sidecar.transcriber import clean_text

    assert clean_text("[Music] ♪ (typing) ") == ""
    assert clean_text("So [laughs] I led the team.") == "So I led the team."
    assert guard(_t(clean_text("[BLANK_AUDIO]"))) == "empty"


def test_audio_helpers_roundtrip() -> None:
    from ai_sidecar.transcriber import pcm_to_float, rms_dbfs

    full = (np.ones(1600, dtype="<i2") * 32767).tobytes()
    assert rms_dbfs(pcm_to_float(full)) == pytest.approx(0.0, abs=0.01)
    assert rms_dbfs(pcm_to_float(b"")) < -100
