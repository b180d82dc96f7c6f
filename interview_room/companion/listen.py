"""``interview-room listen``: send what this computer plays (the meeting app) to a room's session.

    interview-room listen --code ABCD-EFGH [--server URL] [--device NAME] [--input FILE.wav]
    interview-room listen --list-devices

In the room, "Connect computer audio" shows the code (it works once, for ten minutes). The companion
exchanges it for a credential for that one session (``POST /api/companion/claim``), offers one audio
track over WebRTC (``POST /api/companion/offer``: non-trickle, as the browser does) and stays until the
session ends or Ctrl-C. The room shows the captions as ``interviewer``; this terminal prints them too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import time
from typing import Any

import aiohttp
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription

from interview_room.config import ListenConfig
from interview_room.loopback_ice import filter_sdp_candidates, restrict_ice_hosts

from .sources import SourceError, list_devices, open_source
from .track import SourceTrack

DEFAULT_SERVER = "http://127.0.0.1:8080"
EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


class ListenError(Exception):
    """Something the user can act on; printed as one line."""


def _ice_servers(items: Any) -> list[RTCIceServer]:
    out = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, str):
            out.append(RTCIceServer(item))
        elif isinstance(item, dict) and item.get("urls"):
            out.append(RTCIceServer(item["urls"], username=item.get("username"), credential=item.get("credential")))
    return out


async def _post(http: aiohttp.ClientSession, url: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    try:
        async with http.post(url, json=body, headers=headers or {}) as r:
            try:
                data = await r.json(content_type=None)
            except ValueError:
                data = None
            if r.status >= 400:
                err = data.get("error", {}) if isinstance(data, dict) else {}
                raise ListenError(f"{err.get('message') or f'the server answered {r.status}'} ({err.get('code', r.status)})")
            return data
    except aiohttp.ClientError as e:
        raise ListenError(f"cannot reach {url.split('/api/')[0]}: {e}") from None


class Companion:
    """One pairing: claim the code, connect, relay the server's events to ``on_event``."""

    def __init__(self, server: str, code: str, source_track: SourceTrack, ice_hosts: list[str]) -> None:
        self.server = server.rstrip("/")
        self.code = code
        self.track = source_track
        self.ice_hosts = ice_hosts
        self.pc: RTCPeerConnection | None = None
        self.done = asyncio.Event()
        self.end_reason = ""
        self.session_id = ""
        self.token = ""

    async def connect(self, http: aiohttp.ClientSession) -> None:
        grant = await _post(http, f"{self.server}/api/companion/claim", {"code": self.code})
        self.session_id = grant["session_id"]
        self.token = str(grant["token"])
        print(f"Paired with session \"{grant.get('title') or self.session_id}\"", flush=True)
        restrict_ice_hosts(self.ice_hosts)
        pc = RTCPeerConnection(RTCConfiguration(iceServers=_ice_servers(grant.get("ice_servers"))))
        self.pc = pc
        pc.addTrack(self.track)
        channel = pc.createDataChannel("events")
        channel.on("message", self._on_message)

        @pc.on("connectionstatechange")
        def _state() -> None:
            if pc.connectionState in ("failed", "closed"):
                self._finish(f"connection {pc.connectionState}")

        self.track.on("ended", lambda: self._finish(str(self.track.error or "the audio source ended")))
        await pc.setLocalDescription(await pc.createOffer())
        while pc.iceGatheringState != "complete":
            await asyncio.sleep(0.01)
        answer = await _post(
            http,
            f"{self.server}/api/companion/offer",
            {"sdp": pc.localDescription.sdp, "type": "offer"},
            {"X-Companion-Token": grant["token"]},
        )
        await pc.setRemoteDescription(RTCSessionDescription(filter_sdp_candidates(answer["sdp"], self.ice_hosts), "answer"))
        print("Listening to this computer's audio; captions appear in the room. Ctrl-C stops.", flush=True)

    def _on_message(self, message: str | bytes) -> None:
        try:
            event = json.loads(message)
        except ValueError:
            return
        if not isinstance(event, dict):
            return
        kind = event.get("type")
        if kind == "caption" and event.get("final"):
            print(f"[{event.get('role')}] {event.get('text')}", flush=True)
        elif kind == "listening":
            print("Paused in the room: nothing is captioned" if event.get("paused") else "Listening again", flush=True)
        elif kind == "session.ended":
            self._finish(f"the session ended ({event.get('reason')})")

    async def session_ended(self, http: aiohttp.ClientSession, wait: float = 5.0) -> bool:
        """After the connection went away: did the session end (in the room, out of credits)? The
        media node hangs up a moment before the session is marked ended, so this asks for a while."""
        deadline = time.monotonic() + wait
        while True:
            try:
                url = f"{self.server}/api/companion/session"
                async with http.get(url, headers={"X-Companion-Token": self.token}) as r:
                    if r.status == 409:  # session_ended
                        return True
                    if 400 <= r.status < 500:  # the credential is gone: nothing more to learn
                        return False
                    body = await r.json(content_type=None) if r.status == 200 else None
                    if isinstance(body, dict) and body.get("status") == "ended":
                        return True
            except (aiohttp.ClientError, ValueError, TimeoutError):
                pass
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.5)

    def _finish(self, reason: str) -> None:
        if not self.done.is_set():
            self.end_reason = reason
            self.done.set()

    async def close(self) -> None:
        self.track.stop()
        if self.pc is not None:
            await self.pc.close()
        await self.track.source.close()


async def run(args: argparse.Namespace) -> int:
    try:
        source = open_source(input_file=args.input, device=args.device)
    except SourceError as e:
        print(f"interview-room listen: {e}", file=sys.stderr)
        return EXIT_ERROR
    ice_hosts = ListenConfig().ice_hosts
    companion = Companion(args.server, args.code, SourceTrack(source), ice_hosts)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows: Ctrl-C raises KeyboardInterrupt instead
            loop.add_signal_handler(sig, companion._finish, "stopped")
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
            await companion.connect(http)
            await companion.done.wait()
            if companion.end_reason != "stopped" and not companion.end_reason.startswith("the session ended"):
                await companion.close()
                if await companion.session_ended(http):
                    companion.end_reason = "the session ended"
    except ListenError as e:
        print(f"interview-room listen: {e}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        await companion.close()
    print(f"Stopped: {companion.end_reason}", flush=True)
    return EXIT_OK if companion.end_reason in ("stopped",) or companion.end_reason.startswith("the session ended") else EXIT_ERROR


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="interview-room listen",
        description="Send this computer's audio (Zoom, Teams, Meet) to your interview room as the interviewer.",
    )
    p.add_argument("--code", help='the code the room shows after "Connect computer audio" (asked for when left out)')
    p.add_argument(
        "--server",
        default=ListenConfig().server or DEFAULT_SERVER,
        help=f"the room's address (env INTERVIEW_ROOM_URL; default {DEFAULT_SERVER})",
    )
    p.add_argument("--device", help="the capture device (see --list-devices); default: what the computer plays")
    p.add_argument("--list-devices", action="store_true", help="list capture devices and exit")
    p.add_argument("--input", metavar="FILE", help="send this audio file instead of a device (tests, demos)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.list_devices:
        try:
            devices = list_devices()
        except SourceError as e:
            print(f"interview-room listen: {e}", file=sys.stderr)
            return EXIT_ERROR
        for d in devices:
            print(f"{'*' if d.loopback else ' '} {d.name}    {d.description}")
        print("(* = captures what the computer plays; pass one with --device)")
        return EXIT_OK
    if not args.code and sys.stdin.isatty():  # typed here, the code stays out of the shell history and `ps`
        try:
            args.code = input('The code the room shows after "Connect computer audio": ').strip()
        except (EOFError, KeyboardInterrupt):
            return EXIT_USAGE
    if not args.code:
        parser().print_usage(sys.stderr)
        print("interview-room listen: --code is required (the room shows it after \"Connect computer audio\")", file=sys.stderr)
        return EXIT_USAGE
    try:
        return asyncio.run(run(args))
    except KeyboardInterrupt:
        return EXIT_OK
