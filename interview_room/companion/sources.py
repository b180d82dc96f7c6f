"""Where the companion's audio comes from. Every source yields 20 ms frames of 48 kHz mono s16le.

- Linux (PulseAudio, or PipeWire with its PulseAudio server ``pipewire-pulse``): a sink's *monitor*
  source, read by ``parec`` (Debian ``pulseaudio-utils``) in a child process: no Python dependency,
  and the system mixes everything the computer plays into it. The default is ``@DEFAULT_MONITOR@``,
  the monitor of the sink the meeting app plays to.
- Windows (WASAPI loopback of the speakers) and macOS (a loopback device such as BlackHole): the
  optional ``soundcard`` package (``pip install soundcard``), when it is installed.
- ``--input FILE``: a recorded file, played in real time (tests, demos).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

RATE = 48000
FRAME_SAMPLES = RATE // 50  # 20 ms
FRAME_BYTES = FRAME_SAMPLES * 2
PULSE_DEFAULT = "@DEFAULT_MONITOR@"


class SourceError(Exception):
    """The audio source cannot be opened; the message says what to do."""


@dataclass(frozen=True)
class Device:
    name: str  # what --device takes
    description: str
    loopback: bool  # captures what the computer plays (a monitor / loopback), not a microphone


class AudioSource:
    """Async iterator of 20 ms frames (bytes, 48 kHz mono s16le), paced in real time."""

    def frames(self) -> AsyncIterator[bytes]:
        raise NotImplementedError

    async def close(self) -> None:
        return None


class FileSource(AudioSource):
    """A file played once in real time, then silence (so the server's VAD sees the end of speech).
    ``finished`` is set when the file has been played."""

    def __init__(self, path: str | Path) -> None:
        import av

        try:
            container = av.open(str(path))
        except (OSError, av.FFmpegError) as e:
            raise SourceError(f"cannot read {path}: {e}") from None
        try:
            resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
            chunks = [o.to_ndarray().reshape(-1) for f in container.decode(audio=0) for o in resampler.resample(f)]
            chunks += [o.to_ndarray().reshape(-1) for o in resampler.resample(None)]
        finally:
            container.close()
        self.samples = np.concatenate(chunks).astype(np.int16) if chunks else np.zeros(0, np.int16)
        self.finished = asyncio.Event()

    async def frames(self) -> AsyncIterator[bytes]:  # type: ignore[override]
        start = time.monotonic()
        n = 0
        silence = bytes(FRAME_BYTES)
        while True:
            delay = start + n * 0.02 - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -0.06:  # the loop stalled: skip ahead rather than burst
                start -= delay
            pos = n * FRAME_SAMPLES
            chunk = self.samples[pos : pos + FRAME_SAMPLES]
            if len(chunk) < FRAME_SAMPLES:
                self.finished.set()
                yield silence if len(chunk) == 0 else np.pad(chunk, (0, FRAME_SAMPLES - len(chunk))).tobytes()
            else:
                yield chunk.tobytes()
            n += 1


class PulseSource(AudioSource):
    """``parec`` recording a PulseAudio/PipeWire source (a monitor by default), raw s16le mono 48 kHz."""

    def __init__(self, device: str | None = None) -> None:
        if shutil.which("parec") is None:
            raise SourceError(
                "parec was not found: install PulseAudio's tools (Debian/Ubuntu: sudo apt install pulseaudio-utils; "
                "with PipeWire also pipewire-pulse)"
            )
        self.device = device or PULSE_DEFAULT
        self._proc: asyncio.subprocess.Process | None = None

    async def frames(self) -> AsyncIterator[bytes]:  # type: ignore[override]
        self._proc = await asyncio.create_subprocess_exec(
            "parec",
            f"--device={self.device}",
            "--format=s16le",
            f"--rate={RATE}",
            "--channels=1",
            "--latency-msec=20",
            "--client-name=interview-room listen",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert self._proc.stdout is not None
        try:
            while True:
                try:
                    yield await self._proc.stdout.readexactly(FRAME_BYTES)
                except asyncio.IncompleteReadError:
                    err = b""
                    if self._proc.stderr is not None:
                        err = await self._proc.stderr.read()
                    raise SourceError(
                        f"parec stopped ({err.decode(errors='replace').strip() or 'no message'}); "
                        "is PulseAudio/PipeWire running, and is the --device name right (--list-devices)?"
                    ) from None
        finally:
            await self.close()

    async def close(self) -> None:
        if self._proc is not None and self._proc.returncode is None:
            self._proc.terminate()
            try:
                await asyncio.wait_for(self._proc.wait(), 3)
            except TimeoutError:
                self._proc.kill()


class SoundcardSource(AudioSource):
    """WASAPI loopback (Windows) or a loopback device such as BlackHole (macOS) through ``soundcard``."""

    def __init__(self, device: str | None = None) -> None:
        try:
            import soundcard  # type: ignore[import-not-found]  # optional: pip install soundcard
        except ImportError:
            raise SourceError(
                "capturing the computer's audio here needs the soundcard package: pip install soundcard "
                "(macOS also needs a loopback device such as BlackHole; see the README)"
            ) from None
        self._sc: Any = soundcard
        if device:
            self.mic = soundcard.get_microphone(device, include_loopback=True)
        else:  # the default speakers' loopback (Windows WASAPI); on macOS name the BlackHole device
            self.mic = soundcard.get_microphone(soundcard.default_speaker().name, include_loopback=True)

    async def frames(self) -> AsyncIterator[bytes]:  # type: ignore[override]
        queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=50)
        loop = asyncio.get_running_loop()
        stop = False

        def record() -> None:
            with self.mic.recorder(samplerate=RATE, channels=1, blocksize=FRAME_SAMPLES) as rec:
                while not stop:
                    data = rec.record(numframes=FRAME_SAMPLES)
                    pcm = (np.clip(data.reshape(-1), -1.0, 1.0) * 32767).astype(np.int16).tobytes()
                    loop.call_soon_threadsafe(_put, pcm)

        def _put(pcm: bytes) -> None:
            if queue.full():
                queue.get_nowait()  # late: drop the oldest frame rather than drift
            queue.put_nowait(pcm)

        worker = loop.run_in_executor(None, record)
        try:
            while True:
                if worker.done():
                    worker.result()
                    raise SourceError("the audio device stopped")
                yield await queue.get()
        finally:
            stop = True


def _pulse_devices() -> list[Device]:
    try:
        out = subprocess.run(
            ["pactl", "list", "short", "sources"], capture_output=True, text=True, timeout=10, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError) as e:
        raise SourceError(f"cannot list PulseAudio/PipeWire sources (pactl): {e}") from None
    devices = []
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) >= 2:
            name = parts[1]
            devices.append(Device(name, " ".join(parts[2:4]), name.endswith(".monitor")))
    return devices


def list_devices() -> list[Device]:
    """What ``--device`` can name here; loopback (monitor) devices first."""
    if sys.platform.startswith("linux") and shutil.which("pactl"):
        devices = [Device(PULSE_DEFAULT, "the monitor of the default output (what the computer plays)", True)]
        devices += _pulse_devices()
    else:
        try:
            import soundcard
        except ImportError:
            raise SourceError("listing devices here needs the soundcard package: pip install soundcard") from None
        devices = [Device(m.name, m.id, bool(getattr(m, "isloopback", False))) for m in soundcard.all_microphones(include_loopback=True)]
    return sorted(devices, key=lambda d: not d.loopback)


def open_source(*, input_file: str | None, device: str | None) -> AudioSource:
    if input_file:
        return FileSource(input_file)
    if sys.platform.startswith("linux") and shutil.which("parec"):
        return PulseSource(device)
    if sys.platform.startswith("linux"):
        return PulseSource(device)  # raises with the package to install
    return SoundcardSource(device)
