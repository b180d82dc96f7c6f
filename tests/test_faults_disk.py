"""A full disk under DATA_DIR: new sessions get 507 ``insufficient_storage``; a live session gets a
``notice``, stops recording and stops being billed (captions go on); a moved session's joined playback
file is not built without room for it. DATA_DIR is a small tmpfs (mounting needs root)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from conftest import Infra, Part, Stack, stack_env, start_stack, until, verified
from test_recording_parts import go_live, write_part

from interview_room import bus, disk
from interview_room.config import Config
from loadtests.client import FIXTURES, ApiError, RoomClient, WavTrack
from web.app import create_app

TMPFS_MB = 64
MIN_FREE_MB = 24
SCRIPT = ["q_process_thread.wav", "q_why_company.wav", "q_hash_map.wav"]


@pytest.fixture(scope="module")
def small_disk() -> Iterator[Path]:
    # the one skip of the suite: a filesystem that can really fill up needs a mount, and mounting needs root
    # (`make test` runs as root in CI; as root a failed mount is a failure, not a skip)
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mnt = Path(tempfile.mkdtemp(prefix="ir-small-disk-"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_MB}m", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)
        shutil.rmtree(mnt, ignore_errors=True)


class Filler:
    """Takes the small disk's free space down to ``leave_mb`` (and gives it back)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "filler"

    def fill(self, leave_mb: float) -> None:
        grow = disk.free_bytes(self.path.parent) - int(leave_mb * disk.MB)
        with open(self.path, "ab") as f:
            f.write(b"\0" * max(0, grow))
        assert disk.free_bytes(self.path.parent) < MIN_FREE_MB * disk.MB

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def disk_stack(infra: Infra, small_disk: Path) -> Iterator[Stack]:
    data = small_disk / "stack"
    logs = Path(tempfile.mkdtemp(prefix="ir-small-disk-logs-"))
    redis_url = infra.redis_url.rsplit("/", 1)[0] + "/9"  # no other stack's workers read these streams
    env = stack_env(
        Infra(data, infra.database_url, redis_url),
        ports=("HTTP_PORT", "MEDIA_PORT"),
        MIN_FREE_DISK_MB=str(MIN_FREE_MB),
        DISK_CHECK_INTERVAL_MS="200",
    )
    try:
        parts = (Part("signaling", "disk-signaling"), Part("media", "disk-media"))
        with start_stack(Infra(logs, infra.database_url, redis_url), env, *parts) as s:
            yield s
    finally:
        shutil.rmtree(logs, ignore_errors=True)


async def debited(pool: asyncpg.Pool, sid: str) -> float:
    return float(
        await pool.fetchval(
            "SELECT COALESCE(-sum(seconds), 0) FROM credit_ledger WHERE session_id = $1 AND kind = 'debit'",
            uuid.UUID(sid),
        )
    )


async def test_full_disk_refuses_new_sessions_and_stops_recording_and_billing_a_live_one(
    disk_stack: Stack, small_disk: Path, pool: asyncpg.Pool
) -> None:
    base = disk_stack.base_url
    filler = Filler(small_disk)
    a = RoomClient(base)
    b = RoomClient(base)
    try:
        await a.register(f"disk-a-{uuid.uuid4().hex[:8]}@example.com", "disk password 123", "A")
        await b.register(f"disk-b-{uuid.uuid4().hex[:8]}@example.com", "disk password 123", "B")
        for c in (a, b):  # as entering the e-mailed code does
            await verified(pool, c.user["id"])
        sa = await a.create_session(title="live when the disk fills")
        sb = await b.create_session(title="created before the disk filled")
        track = WavTrack([FIXTURES / f for f in SCRIPT], gap=1.0, loop_seconds=90)
        await a.connect(sa["id"], [("interviewer", track)])

        async def billed() -> bool:
            return await debited(pool, sa["id"]) > 2.0

        await until(billed, 60, "the live session was never billed")
        filler.fill(leave_mb=MIN_FREE_MB / 2)

        notice = await a.wait_for(lambda e: e.get("type") == "notice" and e.get("code") == "insufficient_storage", 30)
        assert "not billed" in notice["message"]
        sent_at_notice = a.sent_seconds

        # new sessions are refused with a clear error: creating one, and starting one created before
        with pytest.raises(ApiError) as e:
            await b.create_session(title="no room")
        assert (e.value.status, e.value.code) == (507, "insufficient_storage")
        with pytest.raises(ApiError) as e:
            await b.connect(sb["id"], [("interviewer", None)])
        assert (e.value.status, e.value.code) == (507, "insufficient_storage")

        # the live session goes on (audio keeps arriving) but what is not recorded is not billed
        async def more_sent() -> bool:
            return a.sent_seconds >= sent_at_notice + 8

        await until(more_sent, 60, "the client stopped sending")
        final = await a.end()
        total = await debited(pool, sa["id"])
        assert total <= sent_at_notice + 1.0, (total, sent_at_notice)
        assert total < a.sent_seconds - 6, (total, a.sent_seconds)
        assert final["duration_seconds"] == pytest.approx(total, abs=1.0)

        # the recording made before the disk filled is kept and playable
        async with aiohttp.ClientSession() as http:
            headers = {"Authorization": f"Bearer {a.token}"}
            async with http.get(f"{base}/api/sessions/{sa['id']}/recording", headers=headers) as r:
                assert r.status == 200 and len(await r.read()) > 1000

        # room again: the next user is served
        filler.clear()
        assert (await b.create_session(title="room again"))["id"]
    finally:
        filler.clear()
        await a.close()
        await b.close()
        r = bus.connect(disk_stack.env["REDIS_URL"])
        await r.delete(bus.STT_SEGMENTS)
        await r.aclose()


@pytest_asyncio.fixture
async def small_api(small_disk: Path, pool: asyncpg.Pool, infra: Infra) -> AsyncIterator[tuple[TestClient, Config]]:
    cfg = Config(
        data_dir=small_disk / "api",
        database_url=infra.database_url,
        redis_url=infra.redis_url,
        secret_key="test-secret-key",
        openai_api_key="",
        stripe_api_key="",
        smtp_host="",
        min_free_disk_mb=MIN_FREE_MB,
    )
    redis = bus.connect(infra.redis_url.rsplit("/", 1)[0] + "/1")
    client = TestClient(TestServer(create_app(cfg, pool, redis)), cookie_jar=aiohttp.DummyCookieJar())
    await client.start_server()
    yield client, cfg
    await client.close()
    await redis.aclose()


async def test_joined_playback_file_is_not_built_without_room(
    small_api: tuple[TestClient, Config], small_disk: Path, pool: asyncpg.Pool
) -> None:
    api, cfg = small_api
    filler = Filler(small_disk)
    email = f"disk-join-{uuid.uuid4().hex[:8]}@example.com"
    resp = await api.post("/api/auth/register", json={"email": email, "password": "disk password 123", "name": "J"})
    registered = await resp.json()
    await verified(pool, registered["user"]["id"])  # as entering the e-mailed code does
    headers = {"Authorization": f"Bearer {registered['token']}"}
    resp = await api.post("/api/sessions", json={"title": "moved"}, headers=headers)
    assert resp.status == 201
    sid = (await resp.json())["id"]
    first, second = cfg.recordings_dir / f"{sid}.webm", cfg.recordings_dir / f"{sid}.2.webm"
    write_part(first, 2.0, 440)
    await go_live(pool, sid, first, 0.0)
    write_part(second, 1.5, 880)
    await go_live(pool, sid, second, 4.0)
    merged = cfg.recordings_dir / f"{sid}.full.webm"
    try:
        filler.fill(leave_mb=MIN_FREE_MB / 2)
        resp = await api.get(f"/api/sessions/{sid}/recording", headers=headers)
        body = await resp.json()
        assert resp.status == 507 and body["error"]["code"] == "insufficient_storage", body
        assert not merged.exists() and not list(cfg.recordings_dir.glob("*.tmp"))
        filler.clear()
        resp = await api.get(f"/api/sessions/{sid}/recording", headers=headers)
        assert resp.status == 200 and await resp.read() == merged.read_bytes()
    finally:
        filler.clear()
