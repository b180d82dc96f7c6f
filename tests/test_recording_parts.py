"""A session recorded in several parts (it moved to another media node) plays back as one file on
one timeline: each part at its offset, the reconnect gap silent, video where a part had a camera.
Deleting the session removes every part and the joined file."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import av
import numpy as np
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from conftest import verified
from test_sessions import app_config

from interview_room import bus
from interview_room.config import Config
from interview_room.store import media
from interview_room.store import recording_parts as parts_store
from web.app import create_app
from web.common.context import SERVICES
from web.sessions.recordings import merge_parts

RATE = 48000


def write_part(
    path: Path, seconds: float, freq: float, *, video: bool = False, size: tuple[int, int] = (160, 120)
) -> None:
    """A part as the recorder writes it: a mono Opus tone, plus a VP8 stream at 10 fps when ``video``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="webm") as c:
        a = c.add_stream("libopus", rate=RATE)
        a.layout = "mono"
        v = c.add_stream("libvpx", rate=10) if video else None
        if v is not None:
            v.width, v.height, v.pix_fmt = size[0], size[1], "yuv420p"
        n = int(seconds * RATE) // 960
        for i in range(n):
            t = (np.arange(960) + i * 960) / RATE
            pcm = (np.sin(2 * np.pi * freq * t) * 8000).astype(np.int16).reshape(1, -1)
            f = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
            f.sample_rate, f.pts, f.time_base = RATE, i * 960, Fraction(1, RATE)
            c.mux(a.encode(f))
        c.mux(a.encode(None))
        if v is not None:
            for i in range(int(seconds * 10)):
                img = np.full((size[1], size[0], 3), (i * 25) % 255, np.uint8)
                vf = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
                vf.pts, vf.time_base = i, Fraction(1, 10)
                c.mux(v.encode(vf))
            c.mux(v.encode(None))


def decode(path: Path) -> tuple[np.ndarray, list[float], float]:
    """(mono float samples placed at their pts from t = 0, video frame times, container duration)."""
    with av.open(str(path)) as c:
        duration = float(c.duration or 0) / av.time_base
        pieces: list[tuple[int, np.ndarray]] = []
        for f in c.decode(audio=0):
            x = f.to_ndarray().astype(np.float32).reshape(len(f.layout.channels), -1).mean(axis=0)
            pieces.append((max(0, round(float(f.pts * f.time_base) * RATE)), x))
    with av.open(str(path)) as c:
        pictures = [float(f.pts * f.time_base) for f in c.decode(video=0)] if c.streams.video else []
    end = max((s + len(x) for s, x in pieces), default=0)
    out = np.zeros(end, np.float32)
    for s, x in pieces:
        out[s : s + len(x)] = x
    return out, pictures, duration


def tone_at(samples: np.ndarray, t0: float, t1: float) -> float | None:
    """The dominant frequency between t0 and t1 (None when that stretch is silent)."""
    x = samples[int(t0 * RATE) : int(t1 * RATE)]
    if len(x) == 0 or float(np.sqrt(np.mean(x**2))) < 0.01:
        return None
    spectrum = np.abs(np.fft.rfft(x))
    return float(np.fft.rfftfreq(len(x), 1 / RATE)[int(np.argmax(spectrum))])


def test_parts_join_on_one_timeline_audio_only_part_then_camera_part(tmp_path: Path) -> None:
    a, b = tmp_path / "s.webm", tmp_path / "s.2.webm"
    write_part(a, 2.0, 440)
    write_part(b, 1.5, 880, video=True)
    out = tmp_path / "s.full.webm"
    seconds = merge_parts([(a, 0.0), (b, 5.0)], out)

    samples, pictures, duration = decode(out)
    assert seconds == pytest.approx(6.5, abs=0.1) and duration == pytest.approx(6.5, abs=0.1)
    assert tone_at(samples, 0.3, 1.7) == pytest.approx(440, abs=5)
    assert tone_at(samples, 2.3, 4.7) is None  # the reconnect gap: silence, on the timeline
    assert tone_at(samples, 5.2, 6.3) == pytest.approx(880, abs=5)
    assert pictures and pictures[0] == pytest.approx(5.0, abs=0.05) and pictures[-1] < 6.6
    assert not list(tmp_path.glob("*.tmp"))


def test_camera_part_then_audio_only_part_and_an_overlap_is_cut(tmp_path: Path) -> None:
    a, b = tmp_path / "s.webm", tmp_path / "s.2.webm"
    write_part(a, 3.0, 660, video=True, size=(320, 240))
    write_part(b, 1.0, 330)
    out = tmp_path / "s.full.webm"
    # the second part starts before the first one's end (clocks of two machines): the first is cut there
    merge_parts([(b, 2.5), (a, 0.0)], out)

    samples, pictures, duration = decode(out)
    assert duration == pytest.approx(3.5, abs=0.1)
    assert tone_at(samples, 0.5, 2.4) == pytest.approx(660, abs=5)
    assert tone_at(samples, 2.6, 3.4) == pytest.approx(330, abs=5)
    assert pictures and pictures[0] == pytest.approx(0.0, abs=0.05) and max(pictures) < 2.5
    with av.open(str(out)) as c:
        assert (c.streams.video[0].codec_context.width, c.streams.video[0].codec_context.height) == (320, 240)


def test_a_part_cut_short_by_a_dead_node_still_joins(tmp_path: Path) -> None:
    a, b = tmp_path / "s.webm", tmp_path / "s.2.webm"
    write_part(a, 4.0, 440, video=True)
    data = a.read_bytes()
    a.write_bytes(data[: len(data) * 2 // 3])  # SIGKILL mid-write: no cues, a torn last cluster
    write_part(b, 1.0, 880)
    out = tmp_path / "s.full.webm"
    merge_parts([(a, 0.0), (b, 6.0)], out)
    samples, _, duration = decode(out)
    assert duration == pytest.approx(7.0, abs=0.1)
    assert tone_at(samples, 0.2, 1.5) == pytest.approx(440, abs=5)
    assert tone_at(samples, 6.2, 6.9) == pytest.approx(880, abs=5)


# ---------------------------------------------------------------- through the API


@pytest_asyncio.fixture(scope="module")
async def cfg(infra: Any) -> Config:
    return app_config(infra, "recording-parts")


@pytest_asyncio.fixture(scope="module")
async def api(cfg: Config, pool: asyncpg.Pool, infra: Any) -> AsyncIterator[TestClient]:
    redis = bus.connect(infra.redis_url.rsplit("/", 1)[0] + "/1")
    client = TestClient(TestServer(create_app(cfg, pool, redis)), cookie_jar=aiohttp.DummyCookieJar())
    await client.start_server()
    yield client
    await client.close()
    await redis.aclose()


async def new_session(api: TestClient) -> tuple[str, dict[str, str]]:
    email = f"parts-{uuid.uuid4().hex[:12]}@example.com"
    resp = await api.post("/api/auth/register", json={"email": email, "password": "parts password 123", "name": "P"})
    assert resp.status == 201
    body = await resp.json()
    await verified(api.server.app[SERVICES].pool, body["user"]["id"])
    headers = {"Authorization": f"Bearer {body['token']}"}
    resp = await api.post("/api/sessions", json={"title": "moved"}, headers=headers)
    assert resp.status == 201
    return (await resp.json())["id"], headers


async def go_live(pool: asyncpg.Pool, sid: str, path: Path, offset: float) -> None:
    """What a media node writes when it takes the session and its recording starts."""
    await media.mark_live(pool, uuid.UUID(sid), recording_path=str(path), media_node="http://127.0.0.1:1")
    await parts_store.add_part(
        pool, uuid.UUID(sid), path=str(path), offset_s=offset, started_wall=1_700_000_000 + offset, media_node=None
    )


async def test_a_moved_session_plays_as_one_file_and_delete_removes_every_part(
    api: TestClient, pool: asyncpg.Pool, cfg: Config
) -> None:
    sid, headers = await new_session(api)
    rec = cfg.recordings_dir
    first, second = rec / f"{sid}.webm", rec / f"{sid}.2.webm"
    write_part(first, 2.0, 440)
    await go_live(pool, sid, first, 0.0)
    assert await parts_store.media_origin(pool, uuid.UUID(sid)) == pytest.approx(1_700_000_000)

    # one part: the file itself, as before
    resp = await api.get(f"/api/sessions/{sid}/recording", headers=headers)
    assert resp.status == 200 and resp.content_type == "audio/webm" and await resp.read() == first.read_bytes()

    # the node died; another one recorded the rest (with a camera) from t = 4
    write_part(second, 1.5, 880, video=True)
    await go_live(pool, sid, second, 4.0)
    detail = await (await api.get(f"/api/sessions/{sid}", headers=headers)).json()
    assert detail["has_video"] is True
    resp = await api.get(f"/api/sessions/{sid}/recording", headers=headers)
    body = await resp.read()
    assert resp.status == 200 and resp.content_type == "video/webm"
    merged = rec / f"{sid}.full.webm"
    assert body == merged.read_bytes()
    samples, pictures, duration = decode(merged)
    assert duration == pytest.approx(5.5, abs=0.1)
    assert tone_at(samples, 0.3, 1.7) == pytest.approx(440, abs=5)
    assert tone_at(samples, 4.2, 5.3) == pytest.approx(880, abs=5)
    assert pictures[0] == pytest.approx(4.0, abs=0.05)

    # Range works on the joined file; it is not rebuilt while the parts stay as they are
    built = merged.stat().st_mtime_ns
    part = await api.get(f"/api/sessions/{sid}/recording", headers={**headers, "Range": "bytes=10-109"})
    assert part.status == 206 and await part.read() == body[10:110]
    assert merged.stat().st_mtime_ns == built

    # a live part grows every second: a join of the same parts made moments ago is served as it is
    write_part(second, 2.5, 880, video=True)
    os.utime(second, ns=(built + 10**9, built + 10**9))
    await (await api.get(f"/api/sessions/{sid}/recording", headers=headers)).read()
    assert merged.stat().st_mtime_ns == built
    # once the session has ended, the grown part rebuilds it
    await pool.execute("UPDATE sessions SET status = 'ended', ended_at = now() WHERE id = $1", uuid.UUID(sid))
    await (await api.get(f"/api/sessions/{sid}/recording", headers=headers)).read()
    _, _, duration = decode(merged)
    assert duration == pytest.approx(6.5, abs=0.1)

    assert (await api.delete(f"/api/sessions/{sid}", headers=headers)).status == 204
    assert not list(rec.glob(f"{sid}*"))
    assert await pool.fetchval("SELECT count(*) FROM recording_parts WHERE session_id = $1", uuid.UUID(sid)) == 0
