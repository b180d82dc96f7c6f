"""``interview-room listen`` end to end: the command (a real process) pairs with a room's session
through the public API, sends the computer's audio, and the room gets it captioned as ``interviewer``.

Two sources: ``--input FILE.wav``, and a real PulseAudio server (a private one with a null sink, the
way a meeting app plays into the default output) whose monitor the companion captures with ``parec``
while ``paplay`` plays a speech fixture into the sink. The whole stack runs (Whisper included), on
loopback only.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from conftest import confirm_client
from test_e2e_captions import wer

from loadtests.client import FIXTURES, RoomClient, WavTrack, load_references

pytestmark = pytest.mark.whisper

REFS = load_references()
ROOT = Path(__file__).resolve().parent.parent


@pytest_asyncio.fixture
async def room(stack: Any) -> AsyncIterator[RoomClient]:
    """A signed-in user in a live assistant session whose browser sends only its microphone (silent)."""
    c = RoomClient(stack.base_url)
    await c.register(f"listen-{uuid.uuid4().hex[:8]}@example.com", "correct horse battery", "L")
    await confirm_client(c)
    s = await c.create_session(title="Zoom call", mode="assistant", listen_language="en", answer_language="en")
    await c.connect(s["id"], [("candidate", WavTrack(None))])
    try:
        yield c
    finally:
        await c.close()


class Companion:
    """``python -m interview_room.cli listen ...`` as the user runs it; its output lines collected."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def start(cls, *args: str, env: dict[str, str] | None = None) -> Companion:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "interview_room.cli", "listen", *args,
            cwd=ROOT, env={**os.environ, "ICE_HOSTS": "127.0.0.1", **(env or {})},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        return cls(proc)

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for line in self.proc.stdout:
            self.lines.append(line.decode(errors="replace").rstrip())

    async def wait_line(self, text: str, timeout: float = 60) -> None:
        async with asyncio.timeout(timeout):
            while not any(text in ln for ln in self.lines):
                if self.proc.returncode is not None:
                    raise AssertionError(f"the companion exited: {self.lines}")
                await asyncio.sleep(0.05)

    async def wait(self, timeout: float = 30) -> int:
        async with asyncio.timeout(timeout):
            code = await self.proc.wait()
            await self._reader
            return code

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.terminate()
            await self.wait()


async def _pair(c: RoomClient) -> str:
    made = await c.request("POST", f"/api/sessions/{c.session_id}/pairing")
    return str(made["code"])


async def _interviewer_captions(c: RoomClient, ref: str, timeout: float = 120) -> list[dict[str, Any]]:
    """Final interviewer captions until they hold as many words as ``ref`` (or a quiet 8 s after some)."""
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            got.append(await c.wait_for(lambda e: e["type"] == "caption" and e["final"], timeout=8 if got else 90))
        except TimeoutError:
            if got:
                break
            raise
        if len(" ".join(e["text"] for e in got).split()) >= len(ref.split()):
            break
    return got


async def test_listen_with_an_input_file_is_captioned_in_the_room_and_billed_once(room: RoomClient, stack: Any) -> None:
    code = await _pair(room)
    started = time.monotonic()
    companion = await Companion.start("--server", stack.base_url, "--code", code, "--input", str(FIXTURES / "q_conflict.wav"))
    try:
        await companion.wait_line("Listening to this computer's audio")
        await room.wait_for(lambda e: e["type"] == "notice" and e["code"] == "companion_connected", timeout=30)
        ref = REFS["q_conflict.wav"]["text"]
        captions = await _interviewer_captions(room, ref)
        assert {e["role"] for e in captions} == {"interviewer"}
        score = wer(ref, " ".join(e["text"] for e in captions))
        print(f"listen --input q_conflict.wav: WER {score:.3f} over {len(captions)} captions")
        assert score <= 0.25, captions
        await companion.wait_line("[interviewer]")  # the terminal shows them too

        # a used code does not pair a second companion
        second = await Companion.start("--server", stack.base_url, "--code", code, "--input", str(FIXTURES / "jfk.wav"))
        assert await second.wait() == 1
        assert any("invalid_code" in ln for ln in second.lines), second.lines

        ended = await room.end()
        assert await companion.wait() == 0, companion.lines
        assert any("the session ended" in ln for ln in companion.lines), companion.lines
        wall = time.monotonic() - started
        # one session: one recording, and the time billed once (the room's track ran the whole
        # time, the companion's most of it: the sum would be far more than the session lasted)
        detail = await room.get_session()
        assert detail["recording_url"] and ended["status"] == "ended"
        sent = room.sent_seconds
        assert 0.9 * sent - 1 <= float(ended["duration_seconds"]) <= sent + 1.0, (ended["duration_seconds"], sent, wall)
    finally:
        await companion.stop()


@pytest.fixture
def pulse() -> Iterator[dict[str, str]]:
    """A private PulseAudio server with a null sink "meeting" (what a meeting app would play to)."""
    if shutil.which("pulseaudio") is None or shutil.which("paplay") is None:
        pytest.fail("needs Debian pulseaudio + pulseaudio-utils: run `make test` (scripts/system-packages.sh installs them)")
    home = Path(tempfile.mkdtemp(prefix="pulse-"))
    socket = home / "native"
    env = {
        "HOME": str(home),
        "XDG_RUNTIME_DIR": str(home),
        "PULSE_RUNTIME_PATH": str(home / "runtime"),
        "PULSE_SERVER": f"unix:{socket}",
    }
    full = {**os.environ, **env}
    log = open(home / "pulseaudio.log", "wb")  # noqa: SIM115 - for the server's life
    proc = subprocess.Popen(
        [
            "pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--use-pid-file=no", "--system=false",
            "--log-target=stderr", "-L", f"module-native-protocol-unix socket={socket} auth-anonymous=1",
            "-L", "module-null-sink sink_name=meeting", "-L", "module-always-sink",
        ],
        env=full, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while subprocess.run(["pactl", "info"], env=full, capture_output=True).returncode != 0:
            assert proc.poll() is None and time.monotonic() < deadline, (home / "pulseaudio.log").read_text()
            time.sleep(0.1)
        subprocess.run(["pactl", "set-default-sink", "meeting"], env=full, check=True)
        yield env
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
        shutil.rmtree(home, ignore_errors=True)


async def test_listen_captures_the_pulseaudio_monitor(room: RoomClient, stack: Any, pulse: dict[str, str]) -> None:
    listed = subprocess.run(
        [sys.executable, "-m", "interview_room.cli", "listen", "--list-devices"],
        cwd=ROOT, env={**os.environ, **pulse}, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert listed.returncode == 0 and "meeting.monitor" in listed.stdout, listed
    code = await _pair(room)
    companion = await Companion.start("--server", stack.base_url, "--code", code, "--device", "meeting.monitor", env=pulse)
    try:
        await companion.wait_line("Listening to this computer's audio")
        await room.wait_for(lambda e: e["type"] == "notice" and e["code"] == "companion_connected", timeout=30)
        # the "meeting app" plays the interviewer's question into the default output
        play = await asyncio.create_subprocess_exec(
            "paplay", "--device=meeting", str(FIXTURES / "jfk.wav"), env={**os.environ, **pulse}
        )
        assert await play.wait() == 0
        ref = REFS["jfk.wav"]["text"]
        captions = await _interviewer_captions(room, ref)
        assert {e["role"] for e in captions} == {"interviewer"}
        score = wer(ref, " ".join(e["text"] for e in captions))
        print(f"listen from the PulseAudio monitor, jfk.wav: WER {score:.3f} over {len(captions)} captions")
        assert score <= 0.25, captions
        await room.end()
        assert await companion.wait() == 0, companion.lines
    finally:
        await companion.stop()
