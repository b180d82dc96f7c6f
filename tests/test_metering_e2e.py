"""Credits over a real WebRTC session: debited by the second of media received; zero balance ends it gracefully."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from conftest import confirm_client

from interview_room.store import credits
from loadtests.client import FIXTURES, RoomClient, WavTrack

pytestmark = pytest.mark.whisper  # transcribes speech with the Whisper model (not in make test-fast)


async def _user(stack) -> RoomClient:
    c = RoomClient(stack.base_url)
    await c.register(f"meter-{uuid.uuid4().hex[:8]}@example.com", "correct horse battery", "Meter")
    await confirm_client(c)
    return c


async def test_debit_matches_audio_sent(stack) -> None:
    c = await _user(stack)
    try:
        me0 = await c.request("GET", "/api/me")
        s = await c.create_session(title="metered")
        track = WavTrack([FIXTURES / "q_conflict.wav", FIXTURES / "jfk.wav"], gap=1.0)
        await c.connect(s["id"], [("interviewer", track)])
        credit_events = []
        await c.wait_played(timeout=60)
        await c.end()
        sent = c.sent_seconds
        credit_events = [e for e in c.received if e.get("type") == "credits"]
        billing = await c.request("GET", "/api/billing")
        me1 = await c.request("GET", "/api/me")
    finally:
        await c.close()
    debited = sum(d["seconds"] for d in billing["debits"] if d["session_id"] == s["id"])
    assert abs(debited - sent) <= 2.0, (debited, sent)
    assert abs((me0["credits_seconds"] - me1["credits_seconds"]) - debited) < 0.01
    # the client was told its balance while the session ran
    assert credit_events and credit_events[-1]["remaining_seconds"] <= me0["credits_seconds"]


async def test_zero_balance_ends_session_and_keeps_data(stack, pool: asyncpg.Pool) -> None:
    c = await _user(stack)
    try:
        user_id = uuid.UUID(c.user["id"])
        s = await c.create_session(title="almost out")
        # spend all but 8 seconds of the free grant
        async with pool.acquire() as conn:
            left = await credits.balance(conn, user_id)
            await credits.debit(conn, user_id, uuid.UUID(s["id"]), left - 8.0)
        track = WavTrack([FIXTURES / "q_why_company.wav", FIXTURES / "jfk.wav"], gap=1.0)
        await c.connect(s["id"], [("interviewer", track)])
        ended = await c.wait_for(lambda e: e["type"] == "session.ended", timeout=60)
        assert ended["reason"] == "credits_exhausted"
        notices = [e for e in c.received if e.get("type") == "notice"]
        assert any(n["code"] == "credits_low" for n in notices)
        caption = next((e for e in c.received if e.get("type") == "caption" and e.get("final")), None)
        if caption is None:
            caption = await c.wait_for(lambda e: e["type"] == "caption" and e["final"], timeout=60)
        for _ in range(50):  # the node closes the peer, flushes the recording, then marks it ended
            detail = await c.get_session(s["id"])
            if detail["status"] == "ended":
                break
            await asyncio.sleep(0.2)
        assert detail["status"] == "ended"
        me = await c.request("GET", "/api/me")
        assert me["credits_seconds"] == 0
        # what was recorded and transcribed is kept
        assert any(t["id"] == caption["id"] for t in detail["transcript"])
        assert detail["recording_url"]
        status, _ = await _get(c, detail["recording_url"])
        assert status == 200
        # a new offer is refused: no credits
        from loadtests.client import ApiError

        s2 = await c.create_session(title="no credits left")
        c2 = RoomClient(stack.base_url, token=c.token)
        try:
            await c2.connect(s2["id"], [("interviewer", None)])
            raise AssertionError("offer accepted with zero credits")
        except ApiError as e:
            assert e.status == 402 and e.code == "no_credits"
        finally:
            await c2.close()
    finally:
        await c.close()


async def _get(c: RoomClient, path: str) -> tuple[int, bytes]:
    async with c._session().get(c.base_url + path, headers={"Authorization": f"Bearer {c.token}"}) as r:
        return r.status, await r.read()
