"""``interview-room listen`` says plainly what is wrong, with an exit code, and changes nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from interview_room.companion import sources
from interview_room.embedded import free_port

ROOT = Path(__file__).resolve().parent.parent


def listen(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "interview_room.cli", "listen", *args],
        cwd=ROOT, env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_without_a_code_it_says_where_the_code_comes_from() -> None:
    r = listen()
    assert r.returncode == 2 and 'the room shows it after "Connect computer audio"' in r.stderr, r


def test_an_unreadable_input_file_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "not-audio.wav"
    bad.write_text("hello")
    r = listen("--code", "ABCD-EFGH", "--input", str(bad))
    assert r.returncode == 1 and f"cannot read {bad}" in r.stderr, r


def test_an_unreachable_server_is_named(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    r = listen("--server", f"http://127.0.0.1:{port}", "--code", "ABCD-EFGH", "--input", str(ROOT / "tests/fixtures/jfk.wav"))
    assert r.returncode == 1 and f"cannot reach http://127.0.0.1:{port}" in r.stderr, r
    assert "Traceback" not in r.stderr


def test_without_parec_linux_says_which_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources.shutil, "which", lambda name: None)
    with pytest.raises(sources.SourceError, match="pulseaudio-utils"):
        sources.PulseSource()


async def test_a_file_source_plays_the_file_then_silence() -> None:
    src = sources.FileSource(ROOT / "tests/fixtures/alsa_front_center.wav")
    n = len(src.samples) // sources.FRAME_SAMPLES + 1
    frames = []
    async for f in src.frames():
        frames.append(f)
        if len(frames) == n + 3:
            break
    assert all(len(f) == sources.FRAME_BYTES for f in frames)
    assert src.finished.is_set() and frames[-1] == bytes(sources.FRAME_BYTES)
    assert any(f != bytes(sources.FRAME_BYTES) for f in frames[:n])
