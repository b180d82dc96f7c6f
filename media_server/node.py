"""The media node: internal HTTP API for signaling, live sessions, and its registration in Redis.

Why a registry key with a short TTL: signaling places a session on the least-loaded live node; a
node that dies simply stops refreshing ``media:node:{id}`` and disappears within 5 s. On SIGTERM
the node announces ``draining`` (no new sessions), ends its sessions cleanly (recordings
finalized, media time stored) and only then exits. A drain (SIGUSR1 or ``POST /internal/drain``, e.g.
from a Kubernetes preStop hook) is the gentle version: no new sessions, the live ones go on, and
the process exits when the last of them has ended.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import socket
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from aiohttp import web
from aiortc import MediaStreamTrack, RTCDataChannel, RTCPeerConnection
from aiortc.mediastreams import MediaStreamError

from interview_room import bus, db, disk, registry
from interview_room.config import Config
from interview_room.internal_api import (
    TROUBLESHOOT_SECONDS,
    check_authorization,
    internal_token,
    troubleshoot_peers_key,
)
from interview_room.logs import session_id_var
from interview_room.loopback_ice import restrict_ice_hosts
from interview_room.messages import Notice
from interview_room.service import Health, TaskGroup, add_health_routes, run_forever, start_site
from interview_room.store import media as media_store
from recorder.session_recorder import new_recording_path

from .inbox import handle_client_message
from .mock_voice import interviewer_voice
from .peer import OfferError, answer_offer, new_peer_connection, parse_offer, parse_roles, records_video
from .publisher import SegmentPublisher
from .session import EndResult, MediaSession

log = logging.getLogger("media.node")

NODE_TTL_SECONDS = 5
MAX_REMEMBERED_ENDS = 10_000
PEER_KINDS = ("browser", "companion")  # the room's own connection; ``interview-room listen`` (computer audio)


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


@web.middleware
async def _json_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Every error is PROTOCOL JSON, never an HTML page or a stack trace."""
    try:
        return await handler(request)
    except OfferError as e:
        return _error(e.status, e.code, e.message)
    except web.HTTPException as e:
        if e.status < 400:
            raise
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(e.status, "bad_request")
        return _error(e.status, code, e.reason or "Request refused")
    except Exception as e:
        if db.unavailable(e):
            log.warning("database unavailable path=%s error=%s: %s", request.path, type(e).__name__, e)
            resp = _error(503, "database_unavailable", "The database is not answering right now; please try again shortly")
            resp.headers["Retry-After"] = "2"
            return resp
        log.exception("internal error path=%s", request.path)
        return _error(500, "internal", "The media node failed to handle the request")


def _internal_auth(token: Callable[[], str]) -> Any:
    """``/internal/*`` needs the shared INTERNAL_TOKEN (refused before anything is read or done);
    ``/health`` and ``/metrics`` stay open for probes and Prometheus."""

    @web.middleware
    async def check(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.path.startswith("/internal/"):
            refused = check_authorization(request.headers.get("Authorization"), token())
            if refused == 401:
                log.warning("internal call without a credential path=%s peer=%s", request.path, request.remote)
                return _error(401, "unauthorized", "This internal API needs the INTERNAL_TOKEN credential")
            if refused is not None:
                log.warning("internal call with a wrong credential path=%s peer=%s", request.path, request.remote)
                return _error(403, "forbidden", "The credential is not this node's INTERNAL_TOKEN")
        return await handler(request)

    return check


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise OfferError(400, "invalid_json", "The body must be a JSON object") from None
    if not isinstance(body, dict):
        raise OfferError(400, "invalid_json", "The body must be a JSON object")
    return body


def _session_id(value: object) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise OfferError(400, "invalid_session_id", "session_id must be a UUID") from None


def too_many_live(live: int) -> OfferError:
    return OfferError(
        409,
        "too_many_live_sessions",
        f"You already have {live} live sessions; end one before starting another",
    )


def _opt_str(body: dict[str, Any], key: str) -> str | None:
    v = body.get(key)
    return v if isinstance(v, str) and v else None


class MediaNode:
    def __init__(
        self,
        cfg: Config,
        redis: aioredis.Redis,
        pool: asyncpg.Pool,
        *,
        node_id: str | None = None,
        end_grace: float = 30.0,
        heartbeat_interval: float = 1.0,
    ) -> None:
        self.cfg = cfg
        self.redis = redis
        self.pool = pool
        self.node_id = node_id or f"{socket.gethostname()}-{cfg.media_port}"
        self.url = cfg.media_base_url
        self.end_grace = end_grace
        self.heartbeat_interval = heartbeat_interval
        self.sessions: dict[str, MediaSession] = {}
        self.results: OrderedDict[str, EndResult] = OrderedDict()
        self.draining = False
        self.drained = asyncio.Event()  # set when draining and the last session has ended
        self.tasks = TaskGroup("media-node")
        self._locks: dict[str, asyncio.Lock] = {}
        self._troubleshoot: set[RTCPeerConnection] = set()
        self._cpu = 0.0
        self._heartbeat_task: asyncio.Task[Any] | None = None
        self.publisher = SegmentPublisher(
            redis, buffer_bytes=cfg.media_outage_buffer_bytes, backlog_bytes=cfg.stt_backlog_bytes, on_shed=self._on_shed
        )
        self._token: str | None = None

    @property
    def registry_key(self) -> str:
        return registry.node_key(self.node_id)

    # ---- lifecycle ----

    def token(self) -> str:
        """INTERNAL_TOKEN (or the one generated in DATA_DIR), read on first use."""
        if self._token is None:
            self._token = internal_token(self.cfg)
        return self._token

    def full(self) -> str | None:
        """Why this node takes no new session (MEDIA_MAX_SESSIONS, MEDIA_MAX_CPU), or None."""
        cap = self.cfg.media_max_sessions
        if cap > 0 and len(self.sessions) >= cap:
            return f"{len(self.sessions)} sessions"
        if self.cfg.media_max_cpu > 0 and self._cpu >= self.cfg.media_max_cpu:
            return f"cpu {self._cpu:.2f}"
        return None

    def make_app(self) -> web.Application:
        app = web.Application(
            middlewares=[_json_errors, _internal_auth(self.token)], client_max_size=self.cfg.max_body_bytes
        )
        app.router.add_post("/internal/offer", self.handle_offer)
        app.router.add_post("/internal/sessions/{id}/end", self.handle_end)
        app.router.add_post("/internal/troubleshoot/offer", self.handle_troubleshoot)
        app.router.add_post("/internal/drain", self.handle_drain)
        health = Health().redis(self.redis).database(self.pool).task("heartbeat", lambda: self._heartbeat_task)
        add_health_routes(app, health)
        return app

    async def start(self) -> None:
        restrict_ice_hosts(self.cfg.ice_hosts)
        self.cfg.recordings_dir.mkdir(parents=True, exist_ok=True)
        await self._register()
        self._heartbeat_task = self.tasks.spawn(self._heartbeat(), "heartbeat")
        log.info("media node up id=%s url=%s ice_hosts=%s", self.node_id, self.url, self.cfg.ice_hosts or "all")

    async def shutdown(self) -> None:
        """Drain: refuse new sessions, end the live ones (recordings finalized), deregister."""
        self.draining = True
        try:
            await self._register()
        except Exception:
            log.warning("could not announce draining")
        if self.sessions:
            log.info("ending %d live sessions before exit", len(self.sessions))
        await asyncio.gather(
            *(self.end_session(sid, by_node=True, reason="node_shutdown") for sid in list(self.sessions)),
            return_exceptions=True,
        )
        await asyncio.gather(*(pc.close() for pc in list(self._troubleshoot)), return_exceptions=True)
        await self.publisher.close()
        await self.tasks.close()
        try:
            await registry.deregister(self.redis, self.node_id)
        except Exception:
            log.warning("could not deregister")

    def _on_shed(self, session_id: str, reason: str, nbytes: int) -> None:
        """A segment was shed: its session hears of it (held here, or on another node through its events)."""
        session = self.sessions.get(session_id)
        if session is not None:
            session.notify_shed(session_id, reason, nbytes)
        elif reason == "backlog_full" and session_id:
            self.tasks.spawn(self._notify_elsewhere(session_id), "shed-notice")

    async def _notify_elsewhere(self, session_id: str) -> None:
        key = f"shed:notice:{session_id}"
        try:
            if await self.redis.set(key, "1", nx=True, ex=30):
                notice = Notice(
                    level="warning", code="captions_dropped",
                    message="Some speech could not be captioned: the caption service is overloaded",
                )  # fmt: skip
                await bus.publish_event(self.redis, session_id, notice)
        except Exception as e:
            log.warning("could not send a shed notice error=%r", e)

    async def _register(self) -> None:
        info = {
            "url": self.url,
            "sessions": len(self.sessions),
            "cpu": round(self._cpu, 3),
            "draining": self.draining,
            "full": self.full() is not None,
            "heartbeat": round(time.time(), 3),
        }
        await registry.register(self.redis, self.node_id, json.dumps(info), NODE_TTL_SECONDS)
        await self.redis.sadd(bus.KNOWN_MEDIA_NODES, self.url.rstrip("/"))

    async def _announce(self) -> None:
        """Publish a changed session count now: signaling may place the next session within the second."""
        try:
            await self._register()
        except Exception as e:
            log.warning("could not update the registry error=%r", e)

    async def _heartbeat(self) -> None:
        last_wall, last_cpu = time.monotonic(), time.process_time()
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            wall, cpu = time.monotonic(), time.process_time()
            self._cpu = (cpu - last_cpu) / max(1e-6, wall - last_wall)  # share of one core, threads included
            last_wall, last_cpu = wall, cpu
            try:
                await self._register()
            except Exception as e:  # Redis restarting: keep trying, the TTL covers a short gap
                log.warning("heartbeat failed error=%r", e)

    # ---- sessions ----

    async def end_session(self, session_id: str, *, by_node: bool, reason: str) -> EndResult | None:
        session = self.sessions.get(session_id)
        if session is None:
            return self.results.get(session_id)
        result = await session.end(by_node=by_node, reason=reason)
        self.results[session_id] = result
        while len(self.results) > MAX_REMEMBERED_ENDS:
            self.results.popitem(last=False)
        if self.sessions.get(session_id) is session:
            del self.sessions[session_id]
            self._locks.pop(session_id, None)
            if not self.draining:
                await self._announce()
            elif not self.sessions:
                self.drained.set()
        return result

    async def drain(self) -> None:
        """Take no new sessions; the live ones go on and the process exits after the last one."""
        if not self.draining:
            self.draining = True
            log.info("draining sessions=%d", len(self.sessions))
            await self._announce()
        if not self.sessions:
            self.drained.set()

    async def handle_drain(self, request: web.Request) -> web.Response:
        await self.drain()
        return web.json_response({"draining": True, "sessions": len(self.sessions)}, status=202)

    async def handle_offer(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        sid = _session_id(body.get("session_id"))
        session_id_var.set(sid)
        live_here = sid in self.sessions and not self.sessions[sid].ending
        if self.draining and not live_here:  # a reconnect of a session held here is still served
            return _error(503, "node_draining", "This media node is shutting down")
        if not live_here and (why := self.full()):
            log.info("new session refused: node full (%s)", why)
            return _error(503, "node_full", "This media node is at its limit; another one takes the session")
        if body.get("type", "offer") != "offer":
            raise OfferError(400, "invalid_sdp", 'type must be "offer"')
        sdp = body.get("sdp")
        parse_offer(sdp)
        roles = parse_roles(body.get("roles"))
        kind = body.get("peer") or "browser"
        if kind not in PEER_KINDS:
            raise OfferError(400, "invalid_peer", f"peer must be one of: {', '.join(PEER_KINDS)}")
        assert isinstance(sdp, str)

        # signaling always sends the session's mode; a re-offer without one keeps the live session's
        live = self.sessions.get(sid)
        mode = _opt_str(body, "mode") or (live.mode if live is not None else None)
        pc = new_peer_connection(self.cfg.ice_servers)
        try:
            answer = await answer_offer(
                pc,
                sdp,
                self.cfg.ice_hosts,
                accept_video=records_video(self.cfg.record_video, mode),
                voice=interviewer_voice(body.get("mode")) if kind == "browser" else None,
            )
        except BaseException:
            await pc.close()
            raise
        lock = self._locks.setdefault(sid, asyncio.Lock())
        async with lock:
            try:
                session = await self._session_for_offer(sid, body)
            except BaseException:
                await pc.close()
                raise
            if session is None:
                await pc.close()
                known = await media_store.media_result(self.pool, uuid.UUID(sid))
                if known is None:
                    return _error(404, "session_not_found", "No such session")
                return _error(409, "session_ended", "This session has ended")
            session.attach(pc, kind)
            await session.replace_peers(pc)  # a re-offer takes over from the previous connection (of its kind)
            roles_started = session.start_tracks(pc, roles)
        log.info("offer answered peer=%s tracks=%s", kind, ",".join(roles_started) or "-")
        if kind == "companion":  # the room says the computer's audio is connected
            notice = Notice(
                level="info", code="companion_connected", message="Computer audio connected: the interviewer is heard from it"
            )
            self.tasks.spawn(session.publish_event(notice), "companion-notice")
        return web.json_response({"sdp": answer, "type": "answer"})

    async def _session_for_offer(self, sid: str, body: dict[str, Any]) -> MediaSession | None:
        """The live session, or a new one marked live in Postgres; None if it cannot go live."""
        if sid in self.results:
            return None
        session = self.sessions.get(sid)
        if session is not None:
            return None if session.ending else session
        if self.draining:  # drained while this offer was being answered
            raise OfferError(503, "node_draining", "This media node is shutting down")
        if not disk.has_room(self.cfg.recordings_dir, self.cfg.min_free_disk_mb):
            log.warning("no disk space for a new session dir=%s", self.cfg.recordings_dir)
            raise OfferError(507, "insufficient_storage", disk.NO_ROOM_MESSAGE)
        if why := self.full():  # filled up while this offer was being answered
            log.info("new session refused: node full (%s)", why)
            raise OfferError(503, "node_full", "This media node is at its limit; another one takes the session")
        recording = new_recording_path(self.cfg.recordings_dir, sid)
        try:
            row = await media_store.mark_live(
                self.pool,
                uuid.UUID(sid),
                recording_path=str(recording),
                media_node=self.url,
                max_live_per_user=self.cfg.max_live_sessions_per_user,
            )
        except media_store.LiveLimitReached as e:
            raise too_many_live(e.live) from None
        if row is None:
            return None
        session = MediaSession(
            session_id=sid,
            user_id=str(row.user_id),
            mode=_opt_str(body, "mode") or row.mode,
            listen_language=_opt_str(body, "listen_language") or row.listen_language,
            hangover=_opt_str(body, "hangover") or row.hangover,
            cfg=self.cfg,
            redis=self.redis,
            pool=self.pool,
            owner=self.tasks,
            request_end=lambda reason: self.end_session(sid, by_node=True, reason=reason),
            end_grace=self.end_grace,
            recording_path=recording,
            publisher=self.publisher,
        )
        self.sessions[sid] = session
        await session.start()
        log.info("session live mode=%s lang=%s", session.mode, session.lang)
        await self._announce()
        return session

    async def handle_end(self, request: web.Request) -> web.Response:
        sid = _session_id(request.match_info["id"])
        session_id_var.set(sid)
        result = await self.end_session(sid, by_node=False, reason="ended")
        if result is None:
            stored = await media_store.media_result(self.pool, uuid.UUID(sid))
            if stored is None:
                return _error(404, "session_not_found", "No such session")
            result = EndResult(media_seconds=stored[0], recording_path=stored[1])
        return web.json_response(result.to_json())

    # ---- troubleshooting: a peer that only answers ping ----

    async def handle_troubleshoot(self, request: web.Request) -> web.Response:
        if self.draining:
            return _error(503, "node_draining", "This media node is shutting down")
        if len(self._troubleshoot) >= self.cfg.media_max_troubleshoot:
            log.info("troubleshooting peer refused: %d open", len(self._troubleshoot))
            return _error(503, "node_full", "This media node has too many troubleshooting connections open")
        body = await _json_body(request)
        if body.get("type", "offer") != "offer":
            raise OfferError(400, "invalid_sdp", 'type must be "offer"')
        sdp = body.get("sdp")
        parse_offer(sdp, require_audio=False)
        assert isinstance(sdp, str)
        # signaling counts each user's peers in Redis; this one's slot is freed when it closes
        user_id, peer_id = _opt_str(body, "user_id"), _opt_str(body, "peer_id")
        slot = (troubleshoot_peers_key(user_id), peer_id) if user_id and peer_id else None
        pc = new_peer_connection(self.cfg.ice_servers)

        @pc.on("datachannel")
        def _channel(channel: RTCDataChannel) -> None:
            @channel.on("message")
            def _message(message: str | bytes) -> None:
                handle_client_message(message, reply=channel.send, enqueue=None)

        @pc.on("track")
        def _track(track: MediaStreamTrack) -> None:
            self.tasks.spawn(_drain(track), "troubleshoot-track")

        @pc.on("connectionstatechange")
        async def _state() -> None:
            if pc.connectionState in ("failed", "closed"):
                await self._close_troubleshoot(pc, slot)

        try:
            answer = await answer_offer(pc, sdp, self.cfg.ice_hosts, accept_video=False)
        except BaseException:
            await pc.close()
            raise
        if len(self._troubleshoot) >= self.cfg.media_max_troubleshoot:  # filled up meanwhile
            await pc.close()
            return _error(503, "node_full", "This media node has too many troubleshooting connections open")
        self._troubleshoot.add(pc)
        self.tasks.spawn(self._expire_troubleshoot(pc, slot), "troubleshoot-expiry")
        return web.json_response({"sdp": answer, "type": "answer"})

    async def _expire_troubleshoot(self, pc: RTCPeerConnection, slot: tuple[str, str] | None) -> None:
        await asyncio.sleep(TROUBLESHOOT_SECONDS)
        await self._close_troubleshoot(pc, slot)

    async def _close_troubleshoot(self, pc: RTCPeerConnection, slot: tuple[str, str] | None) -> None:
        if pc not in self._troubleshoot:
            return
        self._troubleshoot.discard(pc)
        await pc.close()
        if slot is not None:
            try:
                await self.redis.zrem(*slot)
            except Exception as e:  # the slot's own expiry frees it anyway
                log.warning("could not free a troubleshooting slot error=%r", e)


async def _drain(track: MediaStreamTrack) -> None:
    """Received media nobody needs still has to be taken, or aiortc's queue grows without bound."""
    try:
        while True:
            await track.recv()
    except MediaStreamError:
        return


def main(cfg: Config) -> None:
    async def run(stop: asyncio.Event) -> None:
        redis = bus.connect(cfg.redis_url)
        pool = await db.create_pool(cfg.database_url)
        node = MediaNode(cfg, redis, pool)
        await node.start()
        runner = await start_site(node.make_app(), cfg.media_host, cfg.media_port)
        log.info("listening on %s:%d", cfg.media_host, cfg.media_port)
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGUSR1, lambda: node.tasks.spawn(node.drain(), "drain"))
        try:
            waits = {asyncio.ensure_future(stop.wait()), asyncio.ensure_future(node.drained.wait())}
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for w in waits:
                w.cancel()
            if node.drained.is_set():
                log.info("drained: the last session has ended")
        finally:
            log.info("stopping")
            await node.shutdown()
            await runner.cleanup()
            await pool.close()
            await redis.aclose()

    run_forever(run)
