"""The utterance segmenter on real speech fixtures and synthetic silence/clicks (no network)."""

from __future__ import annotations

import json
import wave
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from interview_room.config import Config
from media_server.segmenter import Segmenter, SegmenterSettings, Utterance

FIXTURES = Path(__file__).resolve().parent / "fixtures"
REFS = json.loads((FIXTURES / "references.json").read_text())
SR = 16000
BASE = SegmenterSettings(
    frame_ms=20, aggressiveness=2, preroll_ms=300, hangover_ms=450, min_ms=300, max_ms=15000, early_partial=False
)


def load(name: str) -> np.ndarray:
    with wave.open(str(FIXTURES / name)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (SR, 1, 2)
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)


def speech(name: str) -> tuple[np.ndarray, float, float]:
    """Fixture samples and the (t0, t1) of its speech inside the file."""
    r = REFS[name]
    return load(name), float(r["speech_t0"]), float(r["speech_t1"])


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(round(seconds * SR)), dtype=np.int16)


def run(
    audio: np.ndarray, settings: SegmenterSettings = BASE, chunk_ms: int = 20, t_start: float = 0.0
) -> list[Utterance]:
    seg = Segmenter(settings)
    out: list[Utterance] = []
    pcm = audio.astype(np.int16).tobytes()
    step = SR * chunk_ms // 1000 * 2
    for i in range(0, len(pcm), step):
        out += seg.push(pcm[i : i + step], t_start + i / 2 / SR)
    return out + seg.flush()


def spans(us: list[Utterance]) -> list[tuple[float, float]]:
    return [(round(u.t0, 2), round(u.t1, 2)) for u in us]


def assert_covers(u: Utterance, t0: float, t1: float, preroll: float = 0.3) -> None:
    """The cut starts within the pre-roll before speech and ends shortly after it."""
    assert t0 - preroll - 0.15 <= u.t0 <= t0 + 0.15, (spans([u]), t0, t1)
    assert t1 - 0.25 <= u.t1 <= t1 + 0.45, (spans([u]), t0, t1)
    assert len(u.pcm) == round((u.t1 - u.t0) * SR) * 2


def test_silence_and_low_noise_give_nothing() -> None:
    assert run(silence(5)) == []
    rng = np.random.default_rng(7)
    assert run(rng.normal(0, 25, 5 * SR).astype(np.int16)) == []


def test_speech_silence_speech_gives_two_segments_on_the_true_spans() -> None:
    a, a0, a1 = speech("q_why_company.wav")
    b, b0, b1 = speech("c_billing_migration.wav")
    lead, gap = 1.0, 2.0
    audio = np.concatenate([silence(lead), a, silence(gap), b, silence(1.0)])
    t_b = lead + len(a) / SR + gap
    out = run(audio, t_start=100.0)  # the session clock need not start at 0
    assert len(out) == 2, spans(out)
    assert_covers(out[0], 100 + lead + a0, 100 + lead + a1)
    assert_covers(out[1], 100 + t_b + b0, 100 + t_b + b1)
    assert all(u.final for u in out)
    # the end of speech (for latency figures) is the last voiced frame, before the tail
    for u, end in ((out[0], 100 + lead + a1), (out[1], 100 + t_b + b1)):
        assert end - 0.1 <= u.speech_end <= end + 0.25 and u.speech_end < u.t1


def test_real_conversation_fixture_cut_into_its_utterances() -> None:
    ref = REFS["conversation.wav"]["utterances"]
    out = run(load("conversation.wav"), chunk_ms=20)
    assert len(out) == len(ref), spans(out)
    for u, r in zip(out, ref, strict=True):
        # the reference spans include 50 ms of padding around the speech
        assert_covers(u, r["t0"] + 0.05, r["t1"] - 0.05)


def test_chunking_does_not_change_the_result() -> None:
    audio = load("conversation.wav")
    assert spans(run(audio, chunk_ms=20)) == spans(run(audio, chunk_ms=7)) == spans(run(audio, chunk_ms=130))


def test_over_long_utterance_is_split_at_the_pause_not_blindly() -> None:
    a, a0, a1 = speech("q_conflict.wav")  # ~5.8 s of speech
    b, _, b1 = speech("c_cache_latency.wav")
    pause = 0.3  # shorter than the hangover: one utterance for the VAD
    audio = np.concatenate([silence(0.5), a, silence(pause), b, silence(1.0)])
    gap0 = 0.5 + len(a) / SR  # where the silent pause starts (file padding makes it a bit longer)
    settings = replace(BASE, max_ms=8000)
    out = run(audio, settings)
    assert len(out) == 2, spans(out)
    assert all(u.duration <= 8.0 + 1e-9 for u in out)
    cut = out[0].t1
    assert out[1].t0 == pytest.approx(cut)  # contiguous: nothing lost at the cut
    assert gap0 - 0.1 <= cut <= gap0 + pause + 0.1, (cut, gap0)


def test_monologue_pieces_never_exceed_max() -> None:
    jfk = load("jfk.wav")
    audio = np.concatenate([jfk, jfk, jfk])  # 33 s of speech, pauses shorter than "long" hangover are common
    settings = replace(BASE, max_ms=6000, hangover_ms=900)
    out = run(audio, settings)
    assert len(out) >= 6
    assert all(0.3 <= u.duration <= 6.0 + 1e-9 for u in out), spans(out)
    total = sum(u.duration for u in out)
    assert total >= 0.8 * len(audio) / SR  # the speech is kept, only cut


def test_preroll_is_included_before_the_onset() -> None:
    a, a0, a1 = speech("q_hash_map.wav")
    audio = np.concatenate([silence(2.0), a, silence(1.0)])
    no_pre = run(audio, replace(BASE, preroll_ms=0))
    pre = run(audio, replace(BASE, preroll_ms=400))
    assert len(no_pre) == len(pre) == 1
    assert pre[0].t0 == pytest.approx(no_pre[0].t0 - 0.4, abs=0.021)
    assert pre[0].t0 <= 2.0 + a0 - 0.35
    assert pre[0].t1 == pytest.approx(no_pre[0].t1)


def test_hangover_decides_whether_a_pause_splits() -> None:
    a, _, _ = speech("q_why_company.wav")
    b, _, _ = speech("q_url_shortener.wav")
    audio = np.concatenate([silence(0.5), a, silence(0.6), b, silence(1.5)])
    short = run(audio, replace(BASE, hangover_ms=250))
    long = run(audio, replace(BASE, hangover_ms=1200))
    assert len(short) == 2, spans(short)
    assert len(long) == 1, spans(long)
    # a longer hangover does not move the end of speech, it only waits longer to decide
    assert long[0].t1 == pytest.approx(short[1].t1, abs=0.05)


def test_hangover_can_change_mid_stream() -> None:
    a, _, _ = speech("q_why_company.wav")
    audio = np.concatenate([a, silence(0.6), a, silence(1.5)]).tobytes()
    seg = Segmenter(replace(BASE, hangover_ms=1200))
    half = len(audio) // 4 // 640 * 640
    out = seg.push(audio[:half], 0.0)
    seg.set_hangover("short")
    out += seg.push(audio[half:], half / 2 / SR) + seg.flush()
    assert len(out) == 2, spans(out)


def test_clicks_and_blips_are_discarded() -> None:
    rng = np.random.default_rng(3)
    audio = silence(6.0).astype(np.float64)
    for t in (1.0, 2.5, 4.0):  # 10 ms noise bursts: loud, but no speech
        i = int(t * SR)
        audio[i : i + 160] = rng.normal(0, 9000, 160)
    a, _, _ = speech("q_why_company.wav")
    blip = a[8000 : 8000 + int(0.15 * SR)]  # 150 ms of a word: shorter than min_ms
    i = int(5.0 * SR)
    audio[i : i + len(blip)] = blip
    assert run(audio.clip(-32768, 32767).astype(np.int16)) == []
    # the same blip is kept when the minimum allows it (the test can tell the difference)
    assert len(run(audio.clip(-32768, 32767).astype(np.int16), replace(BASE, min_ms=60))) == 1


def test_a_long_input_gap_ends_the_utterance_where_audio_stopped() -> None:
    a, _, _ = speech("c_billing_migration.wav")
    seg = Segmenter(BASE)
    pcm = a.tobytes()
    half = len(pcm) // 2 // 640 * 640
    out = seg.push(pcm[:half], 0.0)
    out += seg.push(pcm[half:], half / 2 / SR + 30.0)  # 30 s hole (track muted / packets lost)
    out += seg.flush()
    assert len(out) == 2, spans(out)
    assert out[0].t1 <= half / 2 / SR + 0.01
    assert out[1].t0 >= half / 2 / SR + 30.0 - 0.01


def test_short_input_gap_is_filled_with_silence() -> None:
    a, a0, a1 = speech("q_url_shortener.wav")
    pcm = a.tobytes()
    seg = Segmenter(BASE)
    cut = len(pcm) // 2 // 640 * 640
    out = (
        seg.push(pcm[:cut], 0.0)
        + seg.push(pcm[cut:], cut / 2 / SR + 0.1)
        + seg.push(bytes(SR * 2), len(pcm) / 2 / SR + 0.1)
    )
    out += seg.flush()
    assert len(out) == 1
    assert out[0].t1 >= a1 + 0.1 - 0.25


def test_partials_snapshot_the_running_utterance() -> None:
    a, a0, a1 = speech("q_conflict.wav")
    out = run(np.concatenate([silence(0.5), a, silence(1.0)]), replace(BASE, partial_interval_ms=1000))
    partials = [u for u in out if not u.final]
    finals = [u for u in out if u.final]
    assert len(finals) == 1
    assert len(partials) >= 4
    assert all(p.t0 == finals[0].t0 for p in partials)
    assert [p.t1 for p in partials] == sorted(p.t1 for p in partials)
    assert all(finals[0].pcm.startswith(p.pcm[: len(p.pcm) // 2]) for p in partials)


def test_settings_from_config_follow_session_hangover() -> None:
    cfg = Config()
    s = SegmenterSettings.from_config(cfg, "long")
    assert s.hangover_ms == 900
    assert SegmenterSettings.from_config(cfg, "short").hangover_ms == 250
    assert s.max_ms == cfg.segment_max_ms and s.frame_ms == cfg.vad_frame_ms
    with pytest.raises(ValueError):
        Segmenter(replace(BASE, frame_ms=25))


def test_early_partial_is_the_final_when_speech_does_not_resume() -> None:
    """The speculative partial (100 ms of silence) carries the audio of the final that follows,
    so the stt worker can transcribe during the hangover; when speech resumes there is no final for it."""
    audio, _, _ = speech("q_why_company.wav")
    us = run(np.concatenate([silence(0.5), audio, silence(1.5)]), replace(BASE, early_partial=True))
    partials = [u for u in us if not u.final]
    finals = [u for u in us if u.final]
    assert len(finals) == 1 and len(partials) >= 1
    early = partials[-1]
    # same start, same last voiced frame: the final only adds trailing silence
    assert early.t0 == finals[0].t0 and early.speech_end == finals[0].speech_end
    assert finals[0].pcm.startswith(early.pcm) and len(early.pcm) < len(finals[0].pcm)
    assert early.t1 - early.speech_end == pytest.approx(0.1, abs=0.021)
    # a pause shorter than the hangover but longer than the tail: a partial, then speech goes on
    a, _, _ = speech("q_process_thread.wav")
    us = run(np.concatenate([silence(0.5), a, silence(0.33), a, silence(1.5)]), replace(BASE, early_partial=True))
    finals = [u for u in us if u.final]
    assert len(finals) == 1
    # exactly one partial at the pause, ending with the first sentence; the final runs on past the second
    first_end, second_start = 0.5 + len(a) / 16000, 0.5 + len(a) / 16000 + 0.33
    at_pause = [u for u in us if not u.final and u.t1 < finals[0].t1 - 1.0]
    assert len(at_pause) == 1, [(u.t0, u.t1, u.final) for u in us]
    assert first_end - 0.3 <= at_pause[0].speech_end <= second_start, at_pause[0].speech_end
    assert at_pause[0].t0 == finals[0].t0 and finals[0].speech_end > second_start + 1.0


def test_periodic_partials_are_cut_on_voiced_frames_only() -> None:
    """A periodic partial cut as a pause begins would decode while that pause's early partial and
    final queue behind it: each is cut on a voiced frame (its last frame is speech)."""
    a, _, _ = speech("c_rare_names.wav")
    pieces = [silence(0.5)]
    for i in range(0, len(a), 2 * SR):  # 300 ms pauses inside the utterance (shorter than the hangover)
        pieces += [a[i : i + 2 * SR], silence(0.3)]
    out = run(np.concatenate([*pieces, silence(1.0)]), replace(BASE, partial_interval_ms=300))
    assert sum(u.final for u in out) >= 1
    periodic = [u for u in out if not u.final and u.speech_end == u.t1]
    assert len(periodic) >= 10
    tail = SR // 5 * 2  # webrtcvad itself calls a few frames after speech voiced: 200 ms
    assert all(np.abs(np.frombuffer(p.pcm[-tail:], dtype=np.int16)).max() > 0 for p in periodic)  # not in a pause
