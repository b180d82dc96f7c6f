"""A session's recording on disk: where it is, whether it has video, joining its parts, removing it.

Why parts are joined here: a session whose media node died goes on on another node, which records
into a new file (``{id}.2.webm``…) placed on the session clock by its ``recording_parts`` row. Users
get one file with one timeline (the captions' times): ``{id}.full.webm`` next to the parts, the
parts' packets copied (no re-encoding: seconds of CPU, not minutes) and shifted to their offsets,
the gap while the client reconnected filled with Opus silence. It is built in a thread on the first
request and rebuilt when a part changed (its signature is kept in ``{id}.full.json``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import time
import uuid
import weakref
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import asyncpg
import av

from interview_room import disk
from interview_room.config import Config
from interview_room.store import recording_parts as parts_store
from interview_room.store.sessions import Session
from web.common.errors import ApiError

log = logging.getLogger("signaling.recordings")

_video_cache: dict[tuple[str, int, int], bool] = {}
_merge_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

PART_NAME = re.compile(r"^(?P<id>[0-9a-fA-F-]{36})(?:\.\d+)?\.webm$")  # recorder.new_recording_path's names
MS = Fraction(1, 1000)  # WebM's time base
OPUS_FRAME_MS = 20
# one 20 ms CELT frame that decodes to silence (TOC 0xf8 mono / 0xfc stereo, then the silence flag)
OPUS_SILENCE = {1: b"\xf8\xff\xfe", 2: b"\xfc\xff\xfe"}


def safe_recording_path(cfg: Config, path: str | os.PathLike[str] | None) -> Path | None:
    """``path`` (read from the database) resolved, if it lies inside the recordings folder; else None.

    Every path that is served or deleted goes through here: a row pointing at ``/etc/passwd`` or
    ``../secret_key`` (a bug, a restored backup, a hand-edited row) must not leave the folder."""
    if not path:
        return None
    try:
        root = cfg.recordings_dir.resolve()
        p = Path(path)
        resolved = (p if p.is_absolute() else root / p).resolve()
    except (OSError, ValueError, RuntimeError):
        return None
    if resolved == root or not resolved.is_relative_to(root):
        log.warning("recording path outside the recordings folder refused path=%r", str(path)[:300])
        return None
    return resolved


def recording_file(cfg: Config, s: Session) -> Path | None:
    """The recorded file (the latest part): the path the media node stored, else the conventional location."""
    candidates = [safe_recording_path(cfg, s.recording_path)] if s.recording_path else []
    candidates.append(safe_recording_path(cfg, cfg.recordings_dir / f"{s.id}.webm"))
    for p in candidates:
        if p is not None and p.is_file():
            return p
    return None


async def playback_file(cfg: Config, pool: asyncpg.Pool, s: Session) -> Path | None:
    """The one file to play: the recording, or for a session recorded in several parts (it moved to
    another media node) the parts joined on the session clock. Falls back to the latest part if the
    join fails."""
    try:
        parts = await parts_store.list_parts(pool, s.id)
    except Exception:
        log.exception("could not read the recording parts session=%s", s.id)
        parts = []
    if len(parts) < 2:
        return recording_file(cfg, s)
    safe = [(safe_recording_path(cfg, p.path), p.offset_s) for p in parts]
    present = [(path, offset) for path, offset in safe if path is not None and path.is_file()]
    if not present:
        return recording_file(cfg, s)
    out = present[-1][0].parent / f"{s.id}.full.webm"
    lock = _merge_locks.setdefault(str(out), asyncio.Lock())
    async with lock:
        try:
            return await _up_to_date(out, present, live=s.status == "live", min_free_mb=cfg.min_free_disk_mb)
        except NoRoom as e:
            log.warning("no disk space to join the recording parts session=%s need_bytes=%d", s.id, e.need)
            raise ApiError(507, "insufficient_storage", disk.NO_ROOM_MESSAGE) from None
        except Exception:
            log.exception("could not join the recording parts session=%s parts=%d", s.id, len(present))
            return recording_file(cfg, s)


class NoRoom(Exception):
    def __init__(self, need: int) -> None:
        super().__init__(f"no room for {need} bytes")
        self.need = need


async def _up_to_date(
    out: Path, parts: list[tuple[Path, float]], *, live: bool = False, min_free_mb: float = 0.0
) -> Path:
    """Rebuilt when the parts changed; while the session is live (its last part grows every second) a
    join of the same parts younger than ``LIVE_REJOIN_S`` is served as it is, so seeking through it does
    not rebuild it on every request."""
    signature = _signature(parts)
    stamp = out.with_suffix(".json")
    try:
        built = json.loads(stamp.read_text()) if out.is_file() else None
    except (OSError, ValueError):
        built = None
    if (
        live
        and isinstance(built, list)
        and [b[:2] for b in built] == [s[:2] for s in signature]
        and time.time() - out.stat().st_mtime < LIVE_REJOIN_S
    ):
        return out
    if built != signature:
        need = sum(int(sig[2]) for sig in signature)  # the joined file is about the parts' size
        if not disk.has_room(out.parent, min_free_mb, need):
            raise NoRoom(need)
        seconds = await asyncio.to_thread(merge_parts, parts, out)
        stamp.write_text(json.dumps(signature))
        log.info("recording parts joined path=%s parts=%d seconds=%.2f", out, len(parts), seconds)
    return out


LIVE_REJOIN_S = 15.0


def _signature(parts: list[tuple[Path, float]]) -> list[list[object]]:
    """What the joined file was built from: a part that grew (still live) or a new part rebuilds it."""
    out: list[list[object]] = []
    for path, offset in parts:
        st = path.stat()
        out.append([str(path), offset, st.st_size, st.st_mtime_ns])
    return out


def merge_parts(parts: Sequence[tuple[Path, float]], out: Path) -> float:
    """Join WebM parts (Opus, VP8 where present), each shifted to its session offset (seconds), into
    ``out`` (replaced atomically); returns its duration. Packets are copied, never re-encoded. A part
    is cut where the next one starts; an unreadable part is left out (logged). Blocking: run in a thread."""
    inputs: list[tuple[av.container.InputContainer, float]] = []
    tmp = out.with_name(f"{out.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        for path, offset in sorted(parts, key=lambda p: p[1]):
            try:
                src = av.open(str(path))
            except (av.FFmpegError, OSError) as e:
                log.warning("recording part unreadable, left out path=%s error=%s", path, e)
                continue
            if not src.streams.audio:
                log.warning("recording part without audio, left out path=%s", path)
                src.close()
                continue
            inputs.append((src, offset))
        if not inputs:
            raise ValueError("no readable recording part")
        with av.open(str(tmp), "w", format="webm") as dst:
            audio = dst.add_stream_from_template(inputs[0][0].streams.audio[0])
            camera = next((src.streams.video[0] for src, _ in inputs if src.streams.video), None)
            video = dst.add_stream_from_template(camera) if camera is not None else None
            joiner = _Joiner(dst, audio, video)
            for i, (src, offset) in enumerate(inputs):
                joiner.copy(src, offset, inputs[i + 1][1] if i + 1 < len(inputs) else None)
        os.replace(tmp, out)
        return joiner.end_ms / 1000
    finally:
        tmp.unlink(missing_ok=True)
        for src, _ in inputs:
            src.close()


def _ms(value: int, time_base: Fraction | None) -> int:
    return round(value * (time_base or MS) / MS)


class _Joiner:
    """Copies the parts' packets into one output in time order (the muxer needs rising timestamps)."""

    def __init__(
        self, dst: av.container.OutputContainer, audio: av.stream.Stream, video: av.stream.Stream | None
    ) -> None:
        self.dst, self.audio, self.video = dst, audio, video
        channels = audio.codec_context.channels or 1  # type: ignore[attr-defined]
        self.silence = OPUS_SILENCE.get(channels, OPUS_SILENCE[1])
        self.audio_end: int | None = None  # ms
        self.video_dts: int | None = None
        self.end_ms = 0
        self.dropped = 0

    def copy(self, src: av.container.InputContainer, offset: float, until: float | None) -> None:
        shift = round(offset * 1000)
        stop = round(until * 1000) if until is not None else None
        a_in = src.streams.audio[0]
        v_in = src.streams.video[0] if src.streams.video and self.video is not None else None
        streams = [a_in] if v_in is None else [a_in, v_in]
        try:
            for pkt in src.demux(*streams):
                if pkt.pts is None or pkt.size == 0:  # the demuxer's end-of-stream markers
                    continue
                pts = _ms(pkt.pts, pkt.time_base) + shift
                if stop is not None and pts >= stop:
                    continue
                if pkt.stream.index == a_in.index:
                    self._audio(pkt, pts)
                else:
                    dts = _ms(pkt.dts, pkt.time_base) + shift if pkt.dts is not None else pts
                    self._video(pkt, pts, dts)
        except av.FFmpegError as e:  # a part cut short by a node that died ends where its data ends
            log.warning("recording part ends early path=%s error=%s", src.name, e)
        if self.dropped:
            log.info("overlapping packets left out path=%s count=%d", src.name, self.dropped)
            self.dropped = 0

    def _audio(self, pkt: av.Packet, pts: int) -> None:
        if self.audio_end is not None and pts < self.audio_end:
            self.dropped += 1
            return
        t = self.audio_end if self.audio_end is not None else 0
        while pts - t >= OPUS_FRAME_MS:  # a hole (the reconnect): silence, so players keep the timeline
            self._mux(self._silence(), self.audio, t, t)
            t += OPUS_FRAME_MS
        duration = _ms(pkt.duration, pkt.time_base) if pkt.duration else OPUS_FRAME_MS
        self._mux(pkt, self.audio, pts, pts)
        self.audio_end = pts + duration
        self.end_ms = max(self.end_ms, self.audio_end)

    def _video(self, pkt: av.Packet, pts: int, dts: int) -> None:
        assert self.video is not None
        if self.video_dts is not None and dts <= self.video_dts:
            self.dropped += 1
            return
        duration = _ms(pkt.duration, pkt.time_base) if pkt.duration else 0
        self._mux(pkt, self.video, pts, dts)
        self.video_dts = dts
        self.end_ms = max(self.end_ms, pts + duration)

    def _silence(self) -> av.Packet:
        pkt = av.Packet(self.silence)
        pkt.duration = OPUS_FRAME_MS
        return pkt

    def _mux(self, pkt: av.Packet, stream: av.stream.Stream, pts: int, dts: int) -> None:
        pkt.stream = stream
        pkt.pts, pkt.dts, pkt.time_base = pts, dts, MS
        self.dst.mux(pkt)


def _session_parts(path: Path) -> list[Path]:
    """The recording parts (``{id}.webm``, ``{id}.2.webm``…) of the session ``path`` belongs to."""
    m = PART_NAME.match(path.name)
    if m is None or not path.parent.is_dir():
        return [path]
    found = [p for p in path.parent.glob(f"{m['id']}*.webm") if PART_NAME.match(p.name)]
    return found or [path]


def _probe_video(path: Path) -> bool:
    try:
        with av.open(str(path)) as container:
            return len(container.streams.video) > 0
    except (av.FFmpegError, OSError, ValueError):
        return False


async def has_video(path: Path) -> bool:
    """Whether the recording holds a video track (probed once per file version). For a part of a
    session recorded in several parts: whether any part has one (the joined file then has)."""
    for part in _session_parts(path):
        try:
            st = part.stat()
        except OSError:
            continue
        key = (str(part), st.st_mtime_ns, st.st_size)
        if key not in _video_cache:
            if len(_video_cache) > 1000:
                _video_cache.clear()
            _video_cache[key] = await asyncio.to_thread(_probe_video, part)
        if _video_cache[key]:
            return True
    return False


def delete_files(cfg: Config, s: Session) -> list[Path]:
    """Remove the recording, all its parts, the joined file and any side files named after the session."""
    paths = {cfg.recordings_dir / f"{s.id}.webm"}
    folders = {cfg.recordings_dir}
    stored = safe_recording_path(cfg, s.recording_path)
    if stored is not None:
        paths.add(stored)
        folders.add(stored.parent)
    for folder in folders:
        if folder.is_dir():
            paths.update(folder.glob(f"{s.id}*"))
    removed = []
    for p in paths:
        if safe_recording_path(cfg, p) is None:
            continue
        try:
            p.unlink()
            removed.append(p)
        except FileNotFoundError:
            pass
    return removed
