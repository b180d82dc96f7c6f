"""``interview-room``: start the whole stack on one machine, or one part of it for a cluster.

    interview-room run         embedded Postgres + Redis (unless DATABASE_URL/REDIS_URL), migrations,
                               then signaling, media, stt and llm as child processes
    interview-room signaling | media | stt | llm    one part alone (needs DATABASE_URL and REDIS_URL)
    interview-room migrate     apply migrations and exit
    interview-room infra       embedded Postgres + Redis only; prints their URLs
    interview-room listen      send this computer's audio (Zoom/Teams/Meet) to a room: --code from the room
                               (interview-room listen --help)
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
from .embedded import EmbeddedPostgres, EmbeddedRedis, EmbeddedUnavailable
from .internal_api import internal_token
from .supervisor import Child, Supervisor

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


def spawn_part(env: dict[str, str], part: str) -> subprocess.Popen[bytes]:
    p = subprocess.Popen([sys.executable, "-m", "interview_room.cli", part], env={**os.environ, **env})
    log.info("started %s pid=%d", part, p.pid)
    return p


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


def _exit_code(p: subprocess.Popen[bytes]) -> str:
    return f"code={p.returncode}" if p.poll() is not None else ""


def supervised(infra: Infra, env: dict[str, str], procs: dict[str, subprocess.Popen[bytes]]) -> list[Child]:
    """What ``run`` started, each with how to tell it is alive and how to start it again."""
    children: list[Child] = []
    pg, redis = infra.pg, infra.redis
    if pg is not None:
        children.append(Child("postgres", pg.start, pg.alive))
    if redis is not None:
        children.append(Child("redis", redis.start, redis.alive, lambda: _exit_code(redis.proc) if redis.proc else ""))
    for part in procs:

        def start(part: str = part) -> None:
            procs[part] = spawn_part(env, part)

        children.append(
            Child(part, start, lambda part=part: procs[part].poll() is None, lambda part=part: _exit_code(procs[part]))
        )
    return children


def cmd_run(cfg: config.Config) -> int:
    infra = Infra(cfg)
    env = infra.start()
    if not cfg.smtp_host and not cfg.dev_log_emails_set:
        env["DEV_LOG_EMAILS"] = "1"  # one laptop without SMTP: login codes and links go to the log
    procs = {p: spawn_part(env, p) for p in PARTS}
    sup = Supervisor(
        supervised(infra, env, procs),
        max_restarts=cfg.supervise_max_restarts,
        window_s=cfg.supervise_window_s,
        backoff_s=cfg.supervise_backoff_ms / 1000.0,
    )
    stop = False
    code = 0

    def _stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    print(f"\n  Interview room is running: http://{cfg.http_host}:{cfg.http_port}/   (Ctrl-C stops it)\n", flush=True)
    try:
        while not stop:
            why = sup.check()
            if why:
                log.error("%s; stopping the stack", why)
                code = 1
                break
            time.sleep(0.5)
    finally:
        stop_parts(list(procs.values()))
        infra.stop()
    print("stopped" if code == 0 else "stopped: a part kept failing (see the log above)", flush=True)
    return code


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
    args_in = sys.argv[1:] if argv is None else argv
    if args_in[:1] == ["listen"]:  # the companion: its own options, no server configuration
        from .companion.listen import main as listen_main

        return listen_main(args_in[1:])
    parser = argparse.ArgumentParser(prog="interview-room", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", nargs="?", default="run", choices=("run", "infra", "migrate", *PARTS))
    args = parser.parse_args(argv)
    os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")
    try:
        cfg = config.load()
    except config.ConfigError as e:  # one line naming the variable, before anything starts
        parser.exit(2, f"interview-room: {e}\n")
    logs.setup(args.command, cfg.log_level)
    try:
        if args.command == "run":
            return cmd_run(cfg)
        if args.command == "infra":
            return cmd_infra(cfg)
    except EmbeddedUnavailable as e:  # e.g. `run` in the container image, which has no [local] extra
        parser.exit(2, f"interview-room: {e}\n")
    if args.command == "migrate":
        asyncio.run(db.migrate(cfg.database_url))
        return 0
    if not cfg.database_url or not cfg.redis_url:
        parser.error("DATABASE_URL and REDIS_URL must be set to start one part alone (or use `interview-room run`)")
    if args.command == "signaling":
        from web.app import main as part_main
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
