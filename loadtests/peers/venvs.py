"""The peers' own venvs, made on demand outside the repo (never in our pyproject).

Each peer package goes in with ``--no-deps``; then only what its faster-whisper path imports (found by
importing it: the server module, the faster-whisper backend, the warm-up). torch is imported by both at
module level, so both get a CPU-only torch wheel when pip can find one locally (``--torch-wheel`` or a
``torch-*+cpu-*.whl`` in pip's find-links); PyPI's own torch wheel needs the CUDA libraries to import.
"""

from __future__ import annotations

import glob
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

TORCH_PURE_DEPS = ["typing_extensions", "filelock", "sympy", "networkx", "jinja2", "fsspec"]


@dataclass(frozen=True)
class PeerSpec:
    name: str
    package: str  # installed with --no-deps
    deps: tuple[str, ...]  # installed with their own dependencies
    probe: str  # python that must import for the venv to count as ready


WHISPERLIVE = PeerSpec(
    "whisperlive",
    "whisper-live==0.10.0",
    ("faster-whisper==1.2.0", "websockets", "fastapi", "uvicorn", "requests"),
    "import whisper_live.server, whisper_live.backend.faster_whisper_backend",
)
WHISPERLIVEKIT = PeerSpec(
    "whisperlivekit",
    "whisperlivekit==0.2.26",
    (
        "faster-whisper",
        "websockets",
        "fastapi",
        "uvicorn",
        "requests",
        "python-multipart",
        "soundfile",
        "tiktoken",
        "numba",
        "librosa",  # its warm-up reads the warm-up file with librosa
    ),
    "import whisperlivekit.basic_server, whisperlivekit.local_agreement.whisper_online",
)
SPECS = {s.name: s for s in (WHISPERLIVE, WHISPERLIVEKIT)}


def find_cpu_torch() -> str | None:
    try:
        links = subprocess.run(
            [sys.executable, "-m", "pip", "config", "get", "global.find-links"], capture_output=True, text=True
        ).stdout.split()
    except OSError:
        links = []
    for d in links:
        found = sorted(glob.glob(str(Path(d) / f"torch-*+cpu-cp{sys.version_info[0]}{sys.version_info[1]}-*.whl")))
        if found:
            return found[-1]
    return None


def python_of(root: Path, spec: PeerSpec) -> Path:
    return root / spec.name / "bin" / "python"


def ready(root: Path, spec: PeerSpec) -> bool:
    py = python_of(root, spec)
    return py.exists() and subprocess.run([str(py), "-c", spec.probe], capture_output=True).returncode == 0


def ensure(root: Path, spec: PeerSpec, torch_wheel: str | None = None) -> Path:
    """Create (or complete) the venv of ``spec`` under ``root``; returns its python."""
    py = python_of(root, spec)
    if ready(root, spec):
        return py
    root.mkdir(parents=True, exist_ok=True)
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(root / spec.name)], check=True)
    pip = [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    print(f"[peers] installing {spec.package} into {root / spec.name}", flush=True)
    subprocess.run([*pip, "--no-deps", spec.package], check=True)
    subprocess.run([*pip, *spec.deps], check=True)
    wheel = torch_wheel or find_cpu_torch()
    if wheel:
        subprocess.run([*pip, "--no-deps", wheel], check=True)
        subprocess.run([*pip, *TORCH_PURE_DEPS], check=True)
    else:
        print("[peers] no CPU-only torch wheel found: installing PyPI's torch with its CUDA libraries", flush=True)
        subprocess.run([*pip, "torch"], check=True)
    if not ready(root, spec):
        raise RuntimeError(f"{spec.name}: venv made but `{spec.probe}` fails in {py}")
    return py
