"""The media node with two peers in one session (the room and ``interview-room listen``), and pause.

A companion's offer (``peer: companion``) adds the computer's audio as the ``interviewer`` track of
the live session: the room's connection stays up, both are on one clock and one recording, and the
time is billed once. Pausing (``{"type": "pause"}`` on the data channel) stops captions, billing and
recording for every track of the session until it resumes, and leaves a marker.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg
import pytest
import test_media_node
from test_media_node import (  # the node under test and its aiortc client helpers
    NodeUnderTest,
    connect,
    make_client,
    new_session,
    offer,
    post,
    segments_of,
    until,
)

from loadtests.client import FIXTURES, WavTrack

media = test_media_node.media  # the module's node under test, as a fixture here too


async def _close(*clients: object) -> None:
    for c in clients:
        for t in c.tracks:  # type: ignore[attr-defined]
            t.stop()
        await c.pc.close()  # type: ignore[attr-defined]


async def test_companion_adds_a_track_to_the_live_session_and_is_billed_once(
    media: NodeUnderTest, pool: asyncpg.Pool
) -> None:
    uid, sid = await new_session(pool)
    room = await make_client([("candidate", WavTrack(FIXTURES / "alsa_front_center.wav", lead_silence=0.5))])
    # the companion names no roles: whatever it sends is the interviewer (the other side of the call)
    companion = await make_client([(None, WavTrack(FIXTURES / "q_why_company.wav", lead_silence=1.0))])
    companion.roles = {}
    try:
        st, answer = await offer(media, room, uid, sid)
        assert st == 200, answer
        await connect(room, answer)
        st, answer = await offer(media, companion, uid, sid, peer="companion")
        assert st == 200, answer
        await connect(companion, answer)
        session = media.node.sessions[sid]
        assert len(session.pcs) == 2  # added, not replaced
        assert room.pc.connectionState == "connected"
        await room.wait_event(lambda e: e.get("type") == "notice" and e.get("code") == "companion_connected")

        async def both_roles() -> set[str] | None:
            roles = {s.role for s in await segments_of(media.redis, sid) if s.final}
            return roles if roles == {"interviewer", "candidate"} else None

        await until(both_roles, 30)
        # a companion that reconnects replaces its own earlier connection, never the room's
        again = await make_client([(None, WavTrack(None))])
        again.roles = {}
        st, answer = await offer(media, again, uid, sid, peer="companion")
        assert st == 200, answer
        await connect(again, answer)
        assert sorted(session.peer_kinds[p] for p in session.pcs) == ["browser", "companion"]

        async def first_companion_dropped() -> bool:
            return companion.pc.connectionState in ("closed", "failed")

        await until(first_companion_dropped, 30)
        assert room.pc.connectionState == "connected"

        await asyncio.sleep(1.0)
        tracks = dict(session.meter._tracks)
        assert set(tracks) == {"0", "companion:0"}, tracks
        for c in (room, companion, again):
            for t in c.tracks:
                t.stop()
        await asyncio.sleep(0.3)
        st, res = await post(f"{media.url}/internal/sessions/{sid}/end", {})
        assert st == 200, res
        # one recording, billed once: the longest track's time, not the sum of both peers'
        assert res["recording_path"] and Path(res["recording_path"]).is_file()
        tracks = session.meter._tracks
        assert res["media_seconds"] == pytest.approx(max(tracks.values()), abs=0.01)
        assert res["media_seconds"] < sum(tracks.values()) - 1.0
        debited = await pool.fetchval(
            "SELECT -sum(seconds) FROM credit_ledger WHERE session_id = $1 AND kind = 'debit'", uuid.UUID(sid)
        )
        assert debited == pytest.approx(res["media_seconds"], abs=0.05)
    finally:
        await _close(room, companion)


async def test_an_unknown_peer_kind_is_refused(media: NodeUnderTest, pool: asyncpg.Pool) -> None:
    uid, sid = await new_session(pool)
    c = await make_client([("interviewer", WavTrack(None))])
    try:
        st, body = await offer(media, c, uid, sid, peer="spy")
        assert (st, body["error"]["code"]) == (400, "invalid_peer")
        assert sid not in media.node.sessions
    finally:
        await _close(c)


async def test_pause_stops_captions_billing_and_recording_until_resumed(media: NodeUnderTest, pool: asyncpg.Pool) -> None:
    uid, sid = await new_session(pool)
    track = WavTrack(None, lead_silence=0.5)
    c = await make_client([("interviewer", track)])
    try:
        st, answer = await offer(media, c, uid, sid)
        assert st == 200, answer
        await connect(c, answer)
        session = media.node.sessions[sid]
        await until(lambda: asyncio.sleep(0, session.meter.media_seconds > 0.5))

        # bad pause messages: an error, nothing changes
        c.send({"type": "pause", "paused": "yes"})
        c.send({"type": "pause", "paused": True, "extra": 1})
        await c.wait_event(lambda e: len([x for x in c.received if x.get("type") == "error"]) >= 2)
        assert {e["code"] for e in c.received if e.get("type") == "error"} == {"bad_message"}
        assert session.paused is False

        c.send({"type": "pause", "paused": True})
        ev = await c.wait_event(lambda e: e.get("type") == "listening" and e.get("paused") is True)
        assert ev["t"] > 0
        billed_at_pause = session.meter.media_seconds
        before = len([s for s in await segments_of(media.redis, sid) if s.final])
        track.enqueue(FIXTURES / "q_why_company.wav", gap=0.2)  # said while paused: never captioned
        await track.wait_played(30)
        await asyncio.sleep(1.5)
        assert len([s for s in await segments_of(media.redis, sid) if s.final]) == before
        assert session.meter.media_seconds == pytest.approx(billed_at_pause, abs=0.1)

        c.send({"type": "pause", "paused": False})
        resumed = await c.wait_event(lambda e: e.get("type") == "listening" and e.get("paused") is False)
        track.enqueue(FIXTURES / "alsa_front_center.wav", gap=0.3)

        async def captioned_again() -> bool:
            return len([s for s in await segments_of(media.redis, sid) if s.final]) > before

        await until(captioned_again, 20)
        assert session.meter.media_seconds > billed_at_pause + 0.5
        segs = [s for s in await segments_of(media.redis, sid) if s.final]
        assert all(s.t0 >= resumed["t"] - 0.5 for s in segs[before:])

        # the recording is marked where the pause was
        rows = await pool.fetch("SELECT t0, t1 FROM session_pauses WHERE session_id = $1", uuid.UUID(sid))
        assert len(rows) == 1 and rows[0]["t0"] == pytest.approx(ev["t"], abs=0.01)
        assert rows[0]["t1"] == pytest.approx(resumed["t"], abs=0.01) and rows[0]["t1"] > rows[0]["t0"] + 2
        # a pause still open when the session ends is closed at the end
        c.send({"type": "pause"})
        await c.wait_event(lambda e: e.get("type") == "listening" and e.get("paused") is True and e is not ev)
        track.stop()
        st, res = await post(f"{media.url}/internal/sessions/{sid}/end", {})
        assert st == 200, res
        rows = await pool.fetch("SELECT t0, t1 FROM session_pauses WHERE session_id = $1 ORDER BY t0", uuid.UUID(sid))
        assert len(rows) == 2 and rows[1]["t1"] is not None and rows[1]["t1"] >= rows[1]["t0"]
    finally:
        await _close(c)
