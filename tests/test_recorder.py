"""The session recorder: tracks mixed on the session clock, a playable file even after a crash."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import av
import numpy as np

from recorder import SessionRecorder

RATE = 48000
ROOT = Path(__file__).resolve().parent.parent


def tone(freq: float, seconds: float, amp: int = 8000) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (np.sin(2 * np.pi * freq * t) * amp).astype(np.int16)


def feed(rec: SessionRecorder, t0: float, x: np.ndarray, frame: int = 960) -> None:
    """Hand the recorder 20 ms frames as a track would, each stamped with its session time."""
    for i in range(0, len(x), frame):
        rec.write(t0 + i / RATE, x[i : i + frame])


def decode(path: Path) -> tuple[np.ndarray, float | None]:
    """Mono float samples of the whole file and the container's duration (None when not written)."""
    with av.open(str(path)) as c:
        dur = c.duration / 1_000_000 if c.duration else None
        chunks = [f.to_ndarray().astype(np.float32).mean(axis=0) for f in c.decode(audio=0)]
    return np.concatenate(chunks), dur


def band_energy(x: np.ndarray, freq: float, win: float = 0.1) -> np.ndarray:
    """Energy at ``freq`` in consecutive windows: tells which tone sounds when."""
    n = int(win * RATE)
    k = len(x) // n
    frames = x[: k * n].reshape(k, n)
    spec = np.abs(np.fft.rfft(frames * np.hanning(n), axis=1))
    b = int(round(freq * n / RATE))
    return spec[:, b - 1 : b + 2].max(axis=1)


def onset(energy: np.ndarray, win: float = 0.1) -> float:
    return float(np.argmax(energy > 0.3 * energy.max()) * win)


def test_two_tracks_mixed_on_the_session_clock(tmp_path: Path) -> None:
    path = tmp_path / "rec" / "s1.webm"
    rec = SessionRecorder(path, session_id="s1")
    a = tone(440, 4.0)  # interviewer from t=0
    b = tone(1500, 3.0)  # candidate joins at t=2.5 and talks until 5.5
    # interleave as two live tracks would deliver them
    for i in range(0, len(b), 960):
        if i < len(a):
            rec.write(i / RATE, a[i : i + 960])
        rec.write(2.5 + i / RATE, b[i : i + 960])
    for i in range(len(b), len(a), 960):
        rec.write(i / RATE, a[i : i + 960])
    duration = rec.close()
    assert rec.error is None
    assert abs(duration - 5.5) <= 0.05 * 5.5

    x, container_duration = decode(path)
    assert abs(len(x) / RATE - 5.5) <= 0.05 * 5.5
    assert container_duration is not None and abs(container_duration - 5.5) <= 0.05 * 5.5
    e440, e1500 = band_energy(x, 440), band_energy(x, 1500)
    assert onset(e440) <= 0.1
    assert abs(onset(e1500) - 2.5) <= 0.1
    # the first track ends at 4.0 s: afterwards only the second one sounds
    assert e440[int(4.3 / 0.1) :].max() < 0.1 * e440.max()
    assert e1500[int(4.3 / 0.1) : int(5.4 / 0.1)].min() > 0.3 * e1500.max()


def test_hole_in_a_track_is_silence_and_late_start_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "s2.webm"
    rec = SessionRecorder(path, session_id="s2")
    feed(rec, 1.0, tone(440, 1.0))  # nothing before t=1: the file still starts at t=0
    feed(rec, 3.0, tone(440, 1.0))  # 1 s hole between
    assert abs(rec.close() - 4.0) <= 0.2
    x, _ = decode(path)
    e = band_energy(x, 440)
    assert abs(onset(e) - 1.0) <= 0.1
    assert e[int(2.2 / 0.1) : int(2.8 / 0.1)].max() < 0.1 * e.max()
    assert e[int(3.2 / 0.1) : int(3.8 / 0.1)].min() > 0.3 * e.max()


def test_close_twice_and_empty_recording(tmp_path: Path) -> None:
    rec = SessionRecorder(tmp_path / "empty.webm")
    assert rec.close() == 0.0
    assert rec.close() == 0.0
    assert rec.error is None
    rec.write(0.0, tone(440, 0.1))  # after close: ignored, no crash


CRASH_SCRIPT = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from recorder import SessionRecorder
    rec = SessionRecorder(sys.argv[1], session_id="crash")
    t = np.arange(48000 * 5) / 48000
    x = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)
    for i in range(0, len(x), 960):
        rec.write(i / 48000, x[i : i + 960])
    while rec.encoded_seconds < 4.4:
        time.sleep(0.05)
    time.sleep(0.5)
    print("ready", flush=True)
    time.sleep(60)
    """
)


def test_crash_mid_session_leaves_a_playable_file(tmp_path: Path) -> None:
    path = tmp_path / "crash.webm"
    p = subprocess.Popen(
        [sys.executable, "-c", CRASH_SCRIPT, str(path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert p.stdout is not None
        assert p.stdout.readline().strip() == b"ready"
        p.send_signal(signal.SIGKILL)  # no close(), no trailer: like a node crash
        p.wait(10)
    finally:
        if p.poll() is None:
            p.kill()
    x, _ = decode(path)
    # everything but the last open cluster (<= 1 s) is there and plays the tone
    assert len(x) / RATE >= 3.3
    e = band_energy(x, 440)
    assert e[1:].min() > 0.3 * e.max()


def test_a_second_part_never_overwrites_the_first(tmp_path: Path) -> None:
    """A session that moves to another node (or a restarted one) records into a new file."""
    from recorder.session_recorder import new_recording_path

    first = new_recording_path(tmp_path, "abc")
    assert first.name == "abc.webm"
    first.write_bytes(b"part one")
    second = new_recording_path(tmp_path, "abc")
    assert second.name == "abc.2.webm"
    second.write_bytes(b"part two")
    assert new_recording_path(tmp_path, "abc").name == "abc.3.webm"
    assert first.read_bytes() == b"part one"
