"""``interview-room``: start the whole stack on one machine, or one part of it for a cluster.

    interview-room run         embedded Postgres + Redis (unless DATABASE_URL/REDIS_URL), migrations,
                               then signaling, media, stt and llm as child processes
    interview-room signaling | media | stt | llm    one part alone (needs DATABASE_URL and REDIS_URL)
    interview-room migrate     apply migrations and exit
    interview-room infra       embedded Postgres + Redis only; prints their URLs
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import subprocess
import sys
import time

from . import config, db, logs
from .embedded import EmbeddedPostgres, EmbeddedRedis
from .internal_api import internal_token

log = logging.getLogger("cli")
PARTS = ("signaling", "media", "stt", "llm")


class Infra:
    """Embedded servers for whatever URL the environment leaves empty."""

    def __init__(self, cfg: config.Config) -> None:
        self.cfg = cfg
        self.pg: EmbeddedPostgres | None = None
        self.redis: EmbeddedRedis | None = None

    def start(self) -> dict[str, str]:
        self.cfg.data_dir.mkdir(parents=True, exist_ok=True)
        env = {
            "DATA_DIR": str(self.cfg.data_dir),
            "SECRET_KEY": config.secret_key(self.cfg),
            "INTERNAL_TOKEN": internal_token(self.cfg),  # signaling's calls to the media node carry it
        }
        if self.cfg.database_url:
            env["DATABASE_URL"] = self.cfg.database_url
        else:
            self.pg = EmbeddedPostgres(self.cfg.data_dir / "postgres")
            env["DATABASE_URL"] = self.pg.start()
        if self.cfg.redis_url:
            env["REDIS_URL"] = self.cfg.redis_url
        else:
            self.redis = EmbeddedRedis(self.cfg.data_dir / "redis")
            env["REDIS_URL"] = self.redis.start()
        asyncio.run(db.migrate(env["DATABASE_URL"]))
        return env

    def stop(self) -> None:
        if self.redis:
            self.redis.stop()
        if self.pg:
            self.pg.stop()


def spawn_parts(env: dict[str, str], parts: tuple[str, ...] = PARTS) -> list[subprocess.Popen[bytes]]:
    full = {**os.environ, **env}
    return [subprocess.Popen([sys.executable, "-m", "interview_room.cli", p], env=full) for p in parts]


def stop_parts(procs: list[subprocess.Popen[bytes]], timeout: float = 15) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for p in procs:
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()


def cmd_run(cfg: config.Config) -> int:
    infra = Infra(cfg)
    env = infra.start()
    procs = spawn_parts(env)
    stop = False

    def _stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    print(f"\n  Interview room is running: http://{cfg.http_host}:{cfg.http_port}/   (Ctrl-C stops it)\n", flush=True)
    try:
        while not stop:
            dead = [p for p in procs if p.poll() is not None]
            if dead:
                log.error("a part exited code=%s; stopping the stack", dead[0].returncode)
                break
            time.sleep(0.5)
    finally:
        stop_parts(procs)
        infra.stop()
    print("stopped", flush=True)
    return 0


def cmd_infra(cfg: config.Config) -> int:
    infra = Infra(cfg)
    env = infra.start()
    print(f"DATABASE_URL={env['DATABASE_URL']}\nREDIS_URL={env['REDIS_URL']}", flush=True)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        infra.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="interview-room", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", nargs="?", default="run", choices=("run", "infra", "migrate", *PARTS))
    args = parser.parse_args(argv)
    os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")
    cfg = config.load()
    logs.setup(args.command, cfg.log_level)
    if args.command == "run":
        return cmd_run(cfg)
    if args.command == "infra":
        return cmd_infra(cfg)
    if args.command == "migrate":
        asyncio.run(db.migrate(cfg.database_url))
        return 0
    if not cfg.database_url or not cfg.redis_url:
        parser.error("DATABASE_URL and REDIS_URL must be set to start one part alone (or use `interview-room run`)")
    if args.command == "signaling":
        from signaling.app import main as part_main
    elif args.command == "media":
        from media_server.node import main as part_main
    elif args.command == "stt":
        from ai_sidecar.stt_worker import main as part_main
    else:
        from ai_sidecar.llm_worker import main as part_main
    part_main(cfg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
