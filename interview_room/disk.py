"""Free space under DATA_DIR: new sessions need room to be recorded, a live one stops recording without it."""

from __future__ import annotations

import shutil
from pathlib import Path

MB = 1024 * 1024


def free_bytes(path: Path) -> int:
    """Free bytes (for an unprivileged writer) on the filesystem holding ``path`` (or its nearest parent)."""
    p = Path(path)
    while not p.exists() and p != p.parent:
        p = p.parent
    return shutil.disk_usage(p).free


def has_room(path: Path, min_free_mb: float, need_bytes: int = 0) -> bool:
    """At least ``min_free_mb`` would be left after writing ``need_bytes`` more."""
    if min_free_mb <= 0 and need_bytes <= 0:
        return True
    return free_bytes(path) - need_bytes >= min_free_mb * MB


NO_ROOM_MESSAGE = "The server is out of disk space for recordings; please try again later"
