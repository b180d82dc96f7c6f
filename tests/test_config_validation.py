"""One Config for every setting, validated at start-up (issue 18, item 7).

Settings are read and parsed in interview_room/config.py only (one integer parser, one boolean parser);
a value that does not parse stops `interview-room` and each of its parts with one line naming the
variable and a non-zero exit, before anything is started. Importing ai_sidecar.models changes nothing
in the environment.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from ai_sidecar.transcriber import Transcriber
from interview_room import config

BAD = [
    ("STT_BEAM_SIZE", "abc", "must be a whole number"),
    ("STT_BEAM_SIZE", "0", "must be at least 1"),
    ("STT_CLAIM_IDLE_MS", "soon", "must be a whole number"),
    ("HTTP_PORT", "80a", "must be a whole number"),
    ("LLM_TIMEOUT_S", "fast", "must be a number"),
    ("MIN_FREE_DISK_MB", "nan", "must be a finite number"),
    ("VAD_AGGRESSIVENESS", "7", "must be from 0 to 3"),
    ("DEV_LOG_EMAILS", "maybe", "must be 1/true/yes/on or 0/false/no/off"),
    ("SEGMENT_EARLY_PARTIAL", "2", "must be 1/true/yes/on or 0/false/no/off"),
    ("WEBHOOK_ALLOW_PRIVATE", "sure", "must be 1/true/yes/on or 0/false/no/off"),
    ("SMTP_TLS", "sometimes", "must be one of auto, require, off"),
    ("LLM_PROVIDER", "gpt", "must be one of auto, openai, offline"),
    ("TTS_PROVIDER", "robot", "must be one of"),
    ("SEGMENT_HANGOVER", "forever", "must be one of short, balanced, long"),
]


@pytest.mark.parametrize(("name", "value", "must"), BAD)
def test_a_bad_value_names_its_variable(monkeypatch: pytest.MonkeyPatch, name: str, value: str, must: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(config.ConfigError) as err:
        config.load()
    assert str(err.value).startswith(f"{name}={value!r} is not valid: {must}"), str(err.value)


def test_settings_once_read_outside_config_are_config_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("STT_BEAM_SIZE", "STT_PRELOAD", "STT_CLAIM_IDLE_MS"):
        monkeypatch.delenv(name, raising=False)
    cfg = config.load()
    assert (cfg.stt_beam_size, cfg.stt_preload, cfg.stt_claim_idle_ms) == (1, ["en"], 10_000)
    monkeypatch.setenv("STT_BEAM_SIZE", " 5 ")
    monkeypatch.setenv("STT_PRELOAD", "en, es")
    monkeypatch.setenv("STT_CLAIM_IDLE_MS", "3000")
    cfg = config.load()
    assert (cfg.stt_beam_size, cfg.stt_preload, cfg.stt_claim_idle_ms) == (5, ["en", "es"], 3000)
    monkeypatch.setenv("STT_PRELOAD", "none")
    assert config.load().stt_preload == []
    # the transcriber's beam comes from the Config it is given, not from the environment
    monkeypatch.setenv("STT_BEAM_SIZE", "2")
    assert Transcriber(dataclasses.replace(cfg, stt_beam_size=4)).beam_size == 4


def test_one_boolean_and_one_integer_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    for raw, want in [("1", True), ("TRUE", True), ("yes", True), ("on", True), ("0", False), ("False", False),
                      ("no", False), ("off", False)]:  # fmt: skip
        for name in ("DEV_LOG_EMAILS", "WEBHOOK_ALLOW_PRIVATE", "SEGMENT_EARLY_PARTIAL"):
            monkeypatch.setenv(name, raw)
        cfg = config.load()
        assert (cfg.dev_log_emails, cfg.webhook_allow_private, cfg.segment_early_partial) == (want, want, want), raw
    for name in ("DEV_LOG_EMAILS", "WEBHOOK_ALLOW_PRIVATE", "SEGMENT_EARLY_PARTIAL", "HTTP_PORT"):
        monkeypatch.setenv(name, "")  # empty = the default, for every kind of setting
    cfg = config.load()
    assert (cfg.dev_log_emails, cfg.webhook_allow_private, cfg.segment_early_partial) == (False, False, True)
    assert cfg.http_port == 8080 and cfg.dev_log_emails_set
    monkeypatch.delenv("DEV_LOG_EMAILS")
    assert not config.load().dev_log_emails_set
    monkeypatch.setenv("LLM_PROVIDER", "OpenAI")
    assert config.load().llm_provider == "openai"


def test_no_module_reads_settings_from_the_environment_but_config() -> None:
    """Child processes' environments (cli, the résumé sandbox) and the Hub's offline switch are not settings."""
    allowed = {
        "interview_room/config.py",
        "interview_room/cli.py",  # passes the environment on to the parts it starts; XDG_RUNTIME_DIR default
        "web/accounts/resume_sandbox.py",  # the sandbox child's environment (PYTHONPATH)
        "ai_sidecar/models.py",  # stay_offline(): HF_HUB_OFFLINE for the Hub library, set when models are set up
    }
    readers = set()
    for pkg in ("interview_room", "signaling", "web", "media_server", "recorder", "ai_sidecar"):
        for f in (ROOT / pkg).rglob("*.py"):
            if re.search(r"os\.environ|getenv\(", f.read_text()):
                readers.add(str(f.relative_to(ROOT)))
    assert readers <= allowed, sorted(readers - allowed)
    for f in ("interview_room/cli.py", "web/accounts/resume_sandbox.py", "ai_sidecar/models.py"):
        text = (ROOT / f).read_text()
        assert not re.search(r"environ\.get\(\s*[\"'](?!PYTHONPATH)", text), f  # reads no setting


def test_importing_the_models_module_leaves_the_environment_alone() -> None:
    code = (
        "import os, json; before = dict(os.environ); import ai_sidecar.models; "
        "print(json.dumps(sorted(set(os.environ.items()) ^ set(before.items()))))"
    )
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("command", ["run", "signaling", "media", "stt", "llm", "migrate", "infra"])
def test_a_bad_value_stops_start_up_with_one_line(command: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": "postgresql://127.0.0.1:9/none" if command != "run" else "",
        "REDIS_URL": "redis://127.0.0.1:9/0" if command != "run" else "",
        "STT_BEAM_SIZE": "abc",
    }
    out = subprocess.run(
        [sys.executable, "-m", "interview_room.cli", command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2, (out.returncode, out.stdout, out.stderr)
    assert out.stderr.strip().splitlines() == [
        "interview-room: STT_BEAM_SIZE='abc' is not valid: must be a whole number"
    ]
    assert not (tmp_path / "data").exists()  # nothing was started or created
