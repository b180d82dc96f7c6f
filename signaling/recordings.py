"""A session's recording on disk: where it is, whether it has video, removing it."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from interview_room.config import Config
from interview_room.store.sessions import Session

log = logging.getLogger("signaling.recordings")

_video_cache: dict[tuple[str, int, int], bool] = {}


def recording_file(cfg: Config, s: Session) -> Path | None:
    """The recorded file: the path the media node stored, else the conventional location."""
    candidates = [Path(s.recording_path)] if s.recording_path else []
    candidates.append(cfg.recordings_dir / f"{s.id}.webm")
    for p in candidates:
        if p.is_file():
            return p
    return None


def _probe_video(path: Path) -> bool:
    import av

    try:
        with av.open(str(path)) as container:
            return len(container.streams.video) > 0
    except (av.FFmpegError, OSError, ValueError):
        return False


async def has_video(path: Path) -> bool:
    """Whether the container holds a video track (probed once per file version)."""
    st = path.stat()
    key = (str(path), st.st_mtime_ns, st.st_size)
    if key not in _video_cache:
        if len(_video_cache) > 1000:
            _video_cache.clear()
        _video_cache[key] = await asyncio.to_thread(_probe_video, path)
    return _video_cache[key]


def delete_files(cfg: Config, s: Session) -> list[Path]:
    """Remove the recording and any side files named after the session."""
    paths = {cfg.recordings_dir / f"{s.id}.webm"}
    if s.recording_path:
        paths.add(Path(s.recording_path))
    if cfg.recordings_dir.is_dir():
        paths.update(cfg.recordings_dir.glob(f"{s.id}*"))
    removed = []
    for p in paths:
        try:
            p.unlink()
            removed.append(p)
        except FileNotFoundError:
            pass
    return removed
