"""The credit ledger and the media meter on a real Postgres (and Redis for the published events)."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from conftest import Infra

from interview_room import bus
from interview_room.messages import Credits, Event, Notice, SessionEnded, parse_event
from interview_room.store import credits, users
from media_server.metering import CreditMeter, has_credits


async def _user_with(pool: asyncpg.Pool, seconds: float) -> uuid.UUID:
    """A new user (who got the sign-up credits) brought down to ``seconds``."""
    user = await users.create_user(pool, f"c{uuid.uuid4().hex[:10]}@example.com", "", None)
    async with pool.acquire() as conn:
        have = await credits.balance(conn, user.id)
        if have > seconds:
            await credits.debit(conn, user.id, uuid.uuid4(), have - seconds)
    return user.id


async def _running_min(pool: asyncpg.Pool, user_id: uuid.UUID) -> float:
    """The lowest the balance ever was, replaying the ledger in commit order."""
    v = await pool.fetchval(
        """SELECT min(run) FROM (SELECT sum(seconds) OVER (ORDER BY id) AS run FROM credit_ledger WHERE user_id = $1) t""",
        user_id,
    )
    return float(v)


class Inbox:
    """What a meter published, in order."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    async def __call__(self, ev: Event) -> None:
        self.events.append(ev)

    def of(self, cls: type[Event]) -> list[Event]:
        return [e for e in self.events if isinstance(e, cls)]


# ------------------------------------------------------------------ ledger


async def test_concurrent_debits_of_two_sessions_never_go_below_zero(pool: asyncpg.Pool) -> None:
    user_id = await _user_with(pool, 100.0)
    sessions = (uuid.uuid4(), uuid.uuid4())

    async def session(conn: asyncpg.Connection, session_id: uuid.UUID) -> list[credits.DebitResult]:
        return [await credits.debit(conn, user_id, session_id, 3.0) for _ in range(30)]

    async with pool.acquire() as c1, pool.acquire() as c2:
        r1, r2 = await asyncio.gather(session(c1, sessions[0]), session(c2, sessions[1]))

    results = r1 + r2  # 180 s asked of 100 s
    assert sum(r.debited for r in results) == pytest.approx(100.0)
    assert all(r.remaining >= 0 for r in results)
    async with pool.acquire() as conn:
        assert await credits.balance(conn, user_id) == 0.0
        assert not await credits.has_credits(conn, user_id)
        per_session = {d.session_id: d.seconds for d in await credits.debits_by_session(conn, user_id)}
    assert per_session[sessions[0]] + per_session[sessions[1]] == pytest.approx(100.0)
    assert await _running_min(pool, user_id) >= 0


async def test_many_concurrent_debits_on_many_connections(pool: asyncpg.Pool) -> None:
    user_id = await _user_with(pool, 50.0)

    async def one(i: int) -> credits.DebitResult:
        async with pool.acquire() as conn:
            return await credits.debit(conn, user_id, uuid.uuid4(), 1.0 + (i % 3))

    results = await asyncio.gather(*(one(i) for i in range(60)))
    assert sum(r.debited for r in results) == pytest.approx(50.0)
    assert await _running_min(pool, user_id) >= 0


async def test_debit_returns_what_was_taken_and_what_is_left(pool: asyncpg.Pool) -> None:
    user_id = await _user_with(pool, 10.0)
    sid = uuid.uuid4()
    async with pool.acquire() as conn:
        first = await credits.debit(conn, user_id, sid, 4.0)
        second = await credits.debit(conn, user_id, sid, 8.0)
        third = await credits.debit(conn, user_id, sid, 1.0)
        assert await credits.session_debited(conn, sid) == pytest.approx(10.0)
    assert (first.debited, first.remaining) == (pytest.approx(4.0), pytest.approx(6.0))
    assert (second.debited, second.remaining) == (pytest.approx(6.0), 0.0)
    assert (third.debited, third.remaining) == (0.0, 0.0)


async def test_signup_grant_comes_from_the_free_package_once(pool: asyncpg.Pool) -> None:
    user = await users.create_user(pool, f"g{uuid.uuid4().hex[:10]}@example.com", "", None)  # writes the grant
    async with pool.acquire() as conn:
        free = await conn.fetchval("SELECT seconds FROM packages WHERE id = 'free'")
        assert await credits.grant_signup(conn, user.id) == float(free)  # already granted: no second grant
        assert await credits.has_credits(conn, user.id)


# ------------------------------------------------------------------ the meter


async def test_meter_bills_the_longest_track_and_reports_credits(pool: asyncpg.Pool) -> None:
    user_id = await _user_with(pool, 1000.0)
    inbox = Inbox()
    meter = CreditMeter(pool, user_id, uuid.uuid4(), inbox)
    for _ in range(500):  # 10 s on the interviewer track, 8 s on the candidate's, 20 ms frames
        meter.add(0.02, "0")
    for _ in range(400):
        meter.add(0.02, "1")
    assert await meter.tick()
    assert meter.debited_seconds == pytest.approx(10.0)
    [c] = inbox.of(Credits)
    assert c.remaining_seconds == pytest.approx(990.0)
    assert not inbox.of(Notice)
    assert await meter.tick()  # nothing new: nothing billed, balance re-reported
    async with pool.acquire() as conn:
        assert await credits.balance(conn, user_id) == pytest.approx(990.0)


async def test_meter_warns_once_when_five_minutes_are_left(pool: asyncpg.Pool) -> None:
    user_id = await _user_with(pool, 320.0)
    inbox = Inbox()
    meter = CreditMeter(pool, user_id, uuid.uuid4(), inbox)
    meter.add(15.0)
    assert await meter.tick()  # 305 left: no warning yet
    assert not inbox.of(Notice)
    meter.add(15.0)
    assert await meter.tick()  # 290 left
    meter.add(15.0)
    assert await meter.tick()  # 275 left: still only the one warning
    [notice] = inbox.of(Notice)
    assert (notice.level, notice.code) == ("warning", "credits_low")
    assert [c.remaining_seconds for c in inbox.of(Credits)] == [305.0, 290.0, 275.0]


async def test_meter_reports_exhaustion_and_never_overdraws(pool: asyncpg.Pool, infra: Infra) -> None:
    user_id = await _user_with(pool, 20.0)
    session_id = uuid.uuid4()
    r = bus.connect(infra.redis_url)
    try:
        meter = CreditMeter(pool, user_id, session_id, lambda ev: bus.publish_event(r, str(session_id), ev))
        meter.add(12.0)
        assert await meter.tick()
        meter.add(12.0)  # 24 s of media against 20 s of credits
        assert not await meter.tick()
        assert meter.exhausted
        meter.add(5.0)
        assert not await meter.tick()  # stays ended, says nothing more
        entries = await r.xrange(bus.events_stream(str(session_id)))
    finally:
        await r.aclose()
    events = [parse_event(fields[b"data"]) for _, fields in entries]
    assert [type(e) for e in events] == [Credits, Notice, Credits, Notice, SessionEnded]
    assert events[2] == Credits(remaining_seconds=0.0)
    assert events[3].code == "credits_exhausted"  # type: ignore[attr-defined]
    assert events[4] == SessionEnded(reason="credits_exhausted")
    async with pool.acquire() as conn:
        assert await credits.balance(conn, user_id) == 0.0
        assert not await has_credits(conn, user_id)
    assert await _running_min(pool, user_id) >= 0


async def test_meter_close_bills_the_rest_once(pool: asyncpg.Pool) -> None:
    user_id = await _user_with(pool, 500.0)
    session_id = uuid.uuid4()
    meter = CreditMeter(pool, user_id, session_id, Inbox())
    meter.add(7.5)
    assert await meter.tick()
    meter.add(2.25)
    assert await meter.close() == pytest.approx(490.25)
    assert await meter.close() == pytest.approx(490.25)
    async with pool.acquire() as conn:
        assert await credits.session_debited(conn, session_id) == pytest.approx(9.75)


async def test_two_metered_sessions_of_one_user_share_the_balance(pool: asyncpg.Pool) -> None:
    user_id = await _user_with(pool, 60.0)
    meters = [CreditMeter(pool, user_id, uuid.uuid4(), Inbox()) for _ in range(2)]
    ended: list[bool] = []

    async def run(meter: CreditMeter) -> None:
        for _ in range(20):
            meter.add(2.5)
            if not await meter.tick():
                ended.append(True)
                return

    await asyncio.gather(*(run(m) for m in meters))
    assert ended == [True, True]  # both sessions learn the credits are gone
    assert sum(m.debited_seconds for m in meters) == pytest.approx(60.0)
    assert await _running_min(pool, user_id) >= 0


async def test_meter_lets_the_user_spend_the_last_fraction_of_a_second(pool: asyncpg.Pool) -> None:
    """0.4 s left is still the user's: the session goes on until the balance is spent, then ends at 0."""
    user_id = await _user_with(pool, 8.0)
    meter = CreditMeter(pool, user_id, uuid.uuid4(), Inbox())
    meter.add(7.6)
    assert await meter.tick() and not meter.exhausted
    async with pool.acquire() as conn:
        assert abs(await credits.balance(conn, user_id) - 0.4) < 1e-6
    meter.add(1.0)
    assert not await meter.tick() and meter.exhausted
    async with pool.acquire() as conn:
        assert await credits.balance(conn, user_id) == 0.0
