"""``interview-room run`` supervises what it started: embedded Redis and PostgreSQL and the parts are
restarted with backoff when they die (the log says so), and after repeated failures it gives up loudly.

The policy is tested with an injected clock; the real command runs once in a temporary DATA_DIR on
free ports (its own embedded servers, nothing shared with the other tests).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from conftest import Infra, stack_env
from redis.backoff import NoBackoff
from redis.retry import Retry

from interview_room.supervisor import STABLE_S, Child, Supervisor

ROOT = Path(__file__).resolve().parent.parent


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class FakeChild:
    def __init__(self, fail_starts: int = 0) -> None:
        self.up = True
        self.starts = 0
        self.fail_starts = fail_starts

    def start(self) -> None:
        self.starts += 1
        if self.fail_starts:
            self.fail_starts -= 1
            raise RuntimeError("port in use")
        self.up = True

    def child(self, name: str) -> Child:
        return Child(name, self.start, lambda: self.up)


def test_a_dead_child_is_restarted_after_a_doubling_backoff_and_reset_once_stable() -> None:
    clock = Clock()
    fake = FakeChild()
    sup = Supervisor([fake.child("media")], max_restarts=10, window_s=600, backoff_s=1.0, clock=clock)
    fake.up = False
    assert sup.check() is None and fake.starts == 0  # noticed; restart scheduled in 1 s
    clock.now += 0.9
    assert sup.check() is None and fake.starts == 0
    clock.now += 0.2
    assert sup.check() is None and fake.starts == 1 and fake.up
    fake.up = False  # dies again at once: the next wait is 2 s
    sup.check()
    clock.now += 1.5
    sup.check()
    assert fake.starts == 1
    clock.now += 0.6
    sup.check()
    assert fake.starts == 2
    clock.now += STABLE_S  # stayed up: back to the first step
    sup.check()
    fake.up = False
    sup.check()
    clock.now += 1.01
    sup.check()
    assert fake.starts == 3


def test_a_failing_start_is_retried_and_repeated_failures_give_up() -> None:
    clock = Clock()
    fake = FakeChild(fail_starts=1)
    other = FakeChild()
    sup = Supervisor(
        [other.child("redis"), fake.child("llm")], max_restarts=3, window_s=600, backoff_s=1.0, clock=clock
    )
    fake.up = False
    for _ in range(20):
        assert sup.check() is None
        clock.now += 0.5
        if fake.starts >= 2:
            break
    assert fake.starts == 2 and fake.up  # the first start failed, the second worked
    fake.up = False
    why = None
    for _ in range(200):
        why = sup.check()
        if why:
            break
        fake.up = False  # it keeps dying right after each start
        clock.now += 0.5
    assert why is not None and "llm" in why and "giving up" in why
    assert fake.starts == 3 and other.starts == 0


# ---------------------------------------------------------------- the real command


@dataclass
class Run:
    proc: subprocess.Popen[bytes]
    data_dir: Path
    log_path: Path
    env: dict[str, str]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def pid_of(self, part: str) -> int:
        pids = re.findall(rf"started {part} pid=(\d+)", self.log())
        assert pids, f"no start of {part} in the log"
        return int(pids[-1])

    def count(self, pattern: str) -> int:
        return len(re.findall(pattern, self.log()))

    def wait_log(self, pattern: str, count: int = 1, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while len(re.findall(pattern, self.log())) < count:
            assert self.proc.poll() is None, f"run exited {self.proc.returncode}:\n{self.log()[-3000:]}"
            assert time.monotonic() < deadline, f"no {count}x {pattern!r} in the log:\n{self.log()[-3000:]}"
            time.sleep(0.2)


def wait_redis(run: Run, port: int, timeout: float = 60) -> None:
    """The restarted redis-server answers (it may still be loading its AOF a moment after it listens)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if redis.Redis(host="127.0.0.1", port=port, socket_timeout=3).ping():
                return
        except redis.RedisError:
            pass
        assert time.monotonic() < deadline, f"redis did not come back:\n{run.log()[-3000:]}"
        time.sleep(0.2)


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def wait_ok(run: Run, url: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not http_ok(url):
        assert run.proc.poll() is None, f"run exited {run.proc.returncode}:\n{run.log()[-3000:]}"
        assert time.monotonic() < deadline, f"{url} not healthy:\n{run.log()[-3000:]}"
        time.sleep(0.3)


def register(base: str) -> int:
    import json
    import uuid

    req = urllib.request.Request(
        f"{base}/api/auth/register",
        data=json.dumps(
            {"email": f"sup-{uuid.uuid4().hex[:8]}@example.com", "password": "sup password 123", "name": "S"}
        ).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


@pytest.fixture(scope="module")
def run() -> Iterator[Run]:
    data_dir = Path(tempfile.mkdtemp(prefix="ir-run-"))
    log_path = data_dir / "run.log"
    env = {
        **os.environ,
        # no database or Redis given and no SECRET_KEY: ``run`` starts its embedded servers and makes its own key
        **stack_env(Infra(data_dir / "data", "", ""), SECRET_KEY=None),
        "STT_PRELOAD": "none",
        "SUPERVISE_MAX_RESTARTS": "3",
        "SUPERVISE_BACKOFF_MS": "300",
    }
    with open(log_path, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "interview_room.cli", "run"], env=env, stdout=out, stderr=out, cwd=ROOT
        )
    r = Run(proc, data_dir, log_path, env)
    try:
        yield r
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
        if not os.environ.get("IR_KEEP_TEST_DATA"):
            shutil.rmtree(data_dir, ignore_errors=True)


def test_run_restarts_redis_postgres_and_a_part_then_gives_up_on_one_that_keeps_dying(run: Run) -> None:
    base = f"http://127.0.0.1:{run.env['HTTP_PORT']}"
    media = f"http://127.0.0.1:{run.env['MEDIA_PORT']}"
    wait_ok(run, f"{base}/health")
    wait_ok(run, f"{media}/health")
    assert register(base) == 201

    # the embedded redis-server dies
    port = int((Path(run.env["DATA_DIR"]) / "redis" / "port").read_text())
    # counted from here: an earlier line must not stand for this death and restart
    died, seen = run.count(r"msg=\"redis died"), run.count(r"msg=\"restarted redis")
    # no retries: redis-py re-sends a command after a dropped connection (10 times by default), and a
    # re-sent SHUTDOWN reached the restarted server and stopped it again (and again, until run gave up)
    try:
        redis.Redis(host="127.0.0.1", port=port, retry=Retry(NoBackoff(), 0)).shutdown(nosave=True)
    except redis.ConnectionError:
        pass  # it went away mid-reply
    run.wait_log(r"msg=\"redis died", count=died + 1)
    run.wait_log(r"msg=\"restarted redis", count=seen + 1)
    wait_redis(run, port)

    # PostgreSQL's postmaster is killed
    pgdata = Path(run.env["DATA_DIR"]) / "postgres" / "pgdata"
    os.kill(int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0]), signal.SIGKILL)
    run.wait_log(r"msg=\"postgres died")
    run.wait_log(r"msg=\"restarted postgres")
    deadline = time.monotonic() + 120
    while register(base) != 201:  # 503 database_unavailable until the pool reconnects
        assert time.monotonic() < deadline, run.log()[-3000:]
        time.sleep(0.5)

    # a part dies
    os.kill(run.pid_of("media"), signal.SIGKILL)
    run.wait_log(r"msg=\"media died code=-9")
    run.wait_log(r"msg=\"restarted media")
    wait_ok(run, f"{media}/health")
    assert run.proc.poll() is None

    # one that keeps dying: after 3 restarts the 4th death stops the stack with a clear line
    for n in range(1, 4):
        os.kill(run.pid_of("llm"), signal.SIGKILL)
        run.wait_log(r"msg=\"restarted llm", count=n)
    os.kill(run.pid_of("llm"), signal.SIGKILL)
    assert run.proc.wait(120) == 1
    log = run.log()
    assert re.search(r"level=error .*llm keeps dying: restarted 3 times .*giving up; stopping the stack", log), log[
        -3000:
    ]
    assert not http_ok(f"{base}/health")  # everything was stopped
