# `make run` and `make test` do all set-up on a fresh machine with Python 3.11+.
# They install exactly requirements/dev.txt (every package pinned with its sha256; `make lock` regenerates it
# from pyproject.toml), then the project itself without dependencies.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements/dev.txt
# the edit-test loop: unit and API tests, no headless Chromium, no Whisper model, no stack of their own
FAST := not browser and not whisper and not slow

.PHONY: run test test-fast lint bench clean system-packages lock

$(STAMP): $(LOCK) pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --require-hashes --no-deps -r $(LOCK)
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/interview-room run

system-packages:
	@bash scripts/system-packages.sh

test: $(STAMP) system-packages
	$(BIN)/ruff check .
	$(BIN)/pytest -q

test-fast: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest -q -m "$(FAST)"

lock:
	bash scripts/lock.sh

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python -m loadtests.bench --peers 1,5,10 --seconds 40

clean:
	rm -rf $(VENV) .venv-lock test-artifacts .pytest_cache
