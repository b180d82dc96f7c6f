"""The session recorder: tracks mixed on the session clock, a playable file even after a crash."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest

from recorder import SessionRecorder
from recorder.video import FrameRateLimit

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


# ---- camera video (VP8 in the same file, on the same clock) ----

RED, BLUE = (220, 30, 30), (30, 40, 220)


def picture(rgb: tuple[int, int, int], width: int = 1280, height: int = 720) -> av.VideoFrame:
    img = np.empty((height, width, 3), np.uint8)
    img[:] = rgb
    return av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")


def play(
    rec: SessionRecorder,
    seconds: float,
    sound: np.ndarray,
    camera: dict[tuple[int, int, int], av.VideoFrame],
    colour_at: Callable[[float], tuple[int, int, int] | None],
    fps: float = 30.0,
) -> None:
    """Deliver audio (20 ms frames) and pictures in real time, as a live peer connection would."""
    start = time.monotonic()
    n_audio, n_video = int(seconds / 0.02), int(seconds * fps)
    events = sorted([(i * 0.02, "a", i) for i in range(n_audio)] + [(i / fps, "v", i) for i in range(n_video)])
    for t, kind, i in events:
        delay = start + t - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        if kind == "a":
            rec.write(t, sound[i * 960 : (i + 1) * 960])
        elif (rgb := colour_at(t)) is not None:
            rec.write_video(t, camera[rgb])


def decode_video(path: Path) -> tuple[list[tuple[float, np.ndarray]], av.video.stream.VideoStream | None]:
    """(time, mean RGB) of every decoded picture, and the video stream (None when there is none)."""
    with av.open(str(path)) as c:
        if not c.streams.video:
            return [], None
        stream = c.streams.video[0]
        out = [(float(f.time), f.to_ndarray(format="rgb24").reshape(-1, 3).mean(axis=0)) for f in c.decode(video=0)]
    return out, stream


def admitted(times: list[float]) -> list[float]:
    """The pictures (by session time) the recorder's frame rate limit keeps."""
    limit = FrameRateLimit()
    return [t for t in times if limit.admit(t)]


def seconds_on_disk(path: Path) -> float:
    """Seconds of audio a player decodes from the file as it is now (0 while it is too short to open)."""
    try:
        with av.open(str(path)) as c:
            return sum(f.samples for f in c.decode(audio=0)) / RATE
    except (av.error.FFmpegError, FileNotFoundError):
        return 0.0


def wait_for(probe: Callable[[], float], ok: Callable[[float], bool], timeout: float) -> float:
    """Poll ``probe`` until ``ok`` holds (the bound only stops a hung test; nothing is asserted about time)."""
    deadline = time.monotonic() + timeout
    value = probe()
    while not ok(value) and time.monotonic() < deadline:
        time.sleep(0.05)
        value = probe()
    return value


def near(rgb: np.ndarray, want: tuple[int, int, int], tol: float = 30.0) -> bool:
    return bool(np.abs(rgb - np.array(want)).max() <= tol)


def test_camera_is_recorded_as_vp8_in_sync_with_the_audio(tmp_path: Path) -> None:
    path = tmp_path / "video.webm"
    # a deep picture queue: this test is about the picture and its clock, not about a busy machine dropping
    # pictures (test_a_busy_encoder_drops_pictures_instead_of_queueing_them), so every admitted one is encoded
    rec = SessionRecorder(path, session_id="v1", video=True, max_video_queue=1000)
    # a 720p camera at 30 fps: red, then blue from t=2.0 exactly when the candidate starts to speak
    sound = np.concatenate([np.zeros(2 * RATE, np.int16), tone(440, 2.0)])
    camera = {RED: picture(RED), BLUE: picture(BLUE)}
    play(rec, 4.0, sound, camera, lambda t: RED if t < 2.0 else BLUE)
    assert abs(rec.close() - 4.0) <= 0.05 * 4.0
    assert rec.error is None

    frames, stream = decode_video(path)
    assert stream is not None and stream.codec_context.name == "vp8"
    assert (stream.codec_context.width, stream.codec_context.height) == (640, 360)  # scaled down, aspect kept
    # 30 fps in, 15 fps recorded: every other picture by session time, whatever the machine's speed
    kept = admitted([i / 30.0 for i in range(120)])
    assert len(kept) == 60 and rec.video_skipped == 60 and rec.video_dropped == 0
    assert rec.video_frames == len(frames) == 60
    assert [round(t, 3) for t, _ in frames] == [round(t, 3) for t in kept]
    video_seconds = frames[-1][0] + 1 / 15
    x, _ = decode(path)
    assert abs(video_seconds - len(x) / RATE) <= 0.05 * 4.0
    assert all(near(rgb, RED) for t, rgb in frames if t < 1.9)
    assert all(near(rgb, BLUE) for t, rgb in frames if t > 2.1)
    # one clock: the picture turns blue when the sound starts
    first_blue = min(t for t, rgb in frames if near(rgb, BLUE))
    assert abs(first_blue - onset(band_energy(x, 440))) <= 0.1


def test_a_busy_encoder_drops_pictures_instead_of_queueing_them(tmp_path: Path) -> None:
    path = tmp_path / "burst.webm"
    rec = SessionRecorder(path, session_id="v2", video=True)
    frame = picture(RED)
    feed(rec, 0.0, tone(440, 2.0))
    for i in range(300):  # 20 s of pictures handed over at once: far faster than they can be encoded
        rec.write_video(i / 15, frame)
    rec.close()
    assert rec.error is None
    assert rec.video_dropped >= 200
    assert rec.video_frames + rec.video_dropped == 300
    frames, stream = decode_video(path)
    assert stream is not None and rec.video_frames <= len(frames) <= 300 - rec.video_dropped + 10


def test_a_stalled_camera_never_holds_the_audio_back(tmp_path: Path) -> None:
    path = tmp_path / "stall.webm"
    rec = SessionRecorder(path, session_id="v3", video=True)
    camera = {BLUE: picture(BLUE, 640, 480)}
    play(rec, 4.0, tone(440, 4.0), camera, lambda t: BLUE if t < 1.0 else None)  # the camera stops at 1 s
    # the audio after the stall reaches the file while the session is still going (not held for a picture)
    on_disk = wait_for(lambda: seconds_on_disk(path), lambda s: s >= 2.4, timeout=60)
    assert on_disk >= 2.4 and rec.error is None
    assert abs(rec.close() - 4.0) <= 0.2
    x, _ = decode(path)
    assert abs(len(x) / RATE - 4.0) <= 0.2
    e = band_energy(x, 440)
    assert e[1:].min() > 0.3 * e.max()
    frames, stream = decode_video(path)
    assert stream is not None and (stream.codec_context.width, stream.codec_context.height) == (480, 360)
    assert all(near(rgb, BLUE) for _, rgb in frames)  # the last picture is held, as in a live call
    assert frames[-1][0] >= 3.4


def test_no_camera_picture_gives_an_audio_only_file(tmp_path: Path) -> None:
    for name, video in (("expected.webm", True), ("off.webm", False)):
        rec = SessionRecorder(tmp_path / name, session_id="v4", video=video, video_wait=1.0)
        feed(rec, 0.0, tone(440, 3.0))
        if not video:
            rec.write_video(0.5, picture(RED))  # a session that does not record video ignores pictures
        assert abs(rec.close() - 3.0) <= 0.1
        with av.open(str(tmp_path / name)) as c:
            assert len(c.streams.video) == 0 and len(c.streams.audio) == 1
        x, _ = decode(tmp_path / name)
        assert abs(len(x) / RATE - 3.0) <= 0.1


VIDEO_CRASH_SCRIPT = textwrap.dedent(
    """
    import sys, time
    import av
    import numpy as np
    from recorder import SessionRecorder
    camera_until = float(sys.argv[2])
    rec = SessionRecorder(sys.argv[1], session_id="crash", video=True, max_video_queue=1000)
    t = np.arange(48000 * 5) / 48000
    x = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)
    img = np.zeros((360, 640, 3), np.uint8)
    img[:] = (30, 40, 220)
    pic = av.VideoFrame.from_ndarray(img, format="rgb24")
    start = time.monotonic()
    for i in range(250):  # 20 ms of sound each, and a picture every third (~16.7 fps), in real time
        time.sleep(max(0.0, start + i * 0.02 - time.monotonic()))
        rec.write(i * 0.02, x[i * 960 : (i + 1) * 960])
        if i % 3 == 0 and i * 0.02 < camera_until:
            rec.write_video(i * 0.02, pic)
    while rec.encoded_seconds < 4.4:
        time.sleep(0.05)
    time.sleep(0.5)
    print("ready" if rec.video_dropped == 0 else f"dropped {rec.video_dropped}", flush=True)
    time.sleep(60)
    """
)


@pytest.mark.parametrize("camera_until", [5.0, 1.0], ids=["camera-on", "camera-stopped"])
def test_crash_with_video_leaves_a_playable_file(tmp_path: Path, camera_until: float) -> None:
    path = tmp_path / "crash-video.webm"
    p = subprocess.Popen(
        [sys.executable, "-c", VIDEO_CRASH_SCRIPT, str(path), str(camera_until)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert p.stdout is not None
        assert p.stdout.readline().strip() == b"ready"
        p.send_signal(signal.SIGKILL)
        p.wait(10)
    finally:
        if p.poll() is None:
            p.kill()
    x, _ = decode(path)
    assert len(x) / RATE >= 3.3
    e = band_energy(x, 440)
    assert e[1:].min() > 0.3 * e.max()
    frames, stream = decode_video(path)
    assert stream is not None and stream.codec_context.name == "vp8"
    assert frames and frames[-1][0] >= min(camera_until, 3.3) - 0.2
    assert all(near(rgb, BLUE) for _, rgb in frames)
    # every picture the script handed over up to 3.3 s (all but the last open cluster) is in the file
    sent = admitted([i * 0.02 for i in range(250) if i % 3 == 0 and i * 0.02 < camera_until])
    assert [round(t, 3) for t, _ in frames if t < 3.3][: len([t for t in sent if t < 3.3])] == [
        round(t, 3) for t in sent if t < 3.3
    ]
