"""Unit tests without network: the shared retry helper and the media node's outage buffer."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import OutOfMemoryError

from interview_room import retry
from interview_room.messages import Segment
from media_server.publisher import SegmentBuffer


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, d: float) -> None:
        self.delays.append(d)


def seg(seq: int, nbytes: int, final: bool = True) -> Segment:
    return Segment(
        session_id="s", role="candidate", seq=seq, t0=0.0, t1=1.0, pcm=b"\0" * nbytes, lang="en", end_wall=0.0,
        speech_end=1.0, final=final,
    )  # fmt: skip


def test_backoff_grows_to_its_cap_and_resets() -> None:
    b = retry.Backoff(initial=0.5, cap=4.0, factor=2.0, jitter=0.0)
    assert [b.next_delay() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    b.reset()
    assert b.next_delay() == 0.5


def test_transient_errors_are_the_outages_of_redis_and_postgres() -> None:
    assert retry.is_transient(RedisConnectionError("Connection refused"))
    assert retry.is_transient(ConnectionRefusedError())
    assert retry.is_transient(OutOfMemoryError("OOM command not allowed when used memory > 'maxmemory'"))
    assert retry.is_transient(asyncpg.CannotConnectNowError("the database system is starting up"))
    assert retry.is_transient(asyncpg.ConnectionDoesNotExistError("connection was closed"))
    assert not retry.is_transient(ValueError("bad data"))
    assert not retry.is_transient(asyncpg.UniqueViolationError("duplicate"))


async def test_retry_waits_out_an_outage_with_backoff() -> None:
    sleeps = Sleeps()
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 4:
            raise RedisConnectionError("Connection refused")
        return "ok"

    b = retry.Backoff(initial=0.1, cap=0.3, jitter=0.0)
    assert await retry.retry(flaky, "flaky", backoff=b, sleep=sleeps) == "ok"
    assert calls == 4
    assert sleeps.delays == [0.1, 0.2, 0.3]


async def test_retry_does_not_retry_a_bug_and_stops_after_attempts() -> None:
    sleeps = Sleeps()

    async def bug() -> None:
        raise KeyError("x")

    with pytest.raises(KeyError):
        await retry.retry(bug, "bug", sleep=sleeps)
    assert sleeps.delays == []

    async def down() -> None:
        raise ConnectionResetError()

    with pytest.raises(ConnectionResetError):
        await retry.retry(down, "down", sleep=sleeps, attempts=3)
    assert len(sleeps.delays) == 2


async def test_every_survives_failed_passes() -> None:
    sleeps = Sleeps()
    outcomes: list[BaseException | None] = [RedisConnectionError("down"), ValueError("bug"), None, None]
    ran = 0

    async def sweep() -> None:
        nonlocal ran
        ran += 1
        e = outcomes.pop(0)
        if e is not None:
            raise e

    b = retry.Backoff(initial=0.5, cap=10.0, jitter=0.0)
    await retry.every(10.0, sweep, "sweep", sleep=sleeps, backoff=b, passes=4)
    assert ran == 4
    # an outage is retried sooner than the interval; a bug waits for the next pass
    assert sleeps.delays == [0.5, 10.0, 10.0, 10.0]


def test_outage_buffer_keeps_the_oldest_speech_within_its_bytes() -> None:
    buf = SegmentBuffer(max_bytes=1000)
    assert buf.offer(seg(1, 400)) and buf.offer(seg(2, 400))
    assert not buf.offer(seg(3, 400))  # would pass 1000 bytes: the newest is refused
    assert buf.offer(seg(4, 200))  # a smaller one still fits exactly
    assert buf.nbytes == 1000 and [s.seq for s in buf.items] == [1, 2, 4]
    assert buf.pop().seq == 1 and buf.nbytes == 600
    assert buf.peek() is not None and buf.peek().seq == 2  # type: ignore[union-attr]


async def test_stream_consumer_health_says_what_is_wrong() -> None:
    from interview_room.bus import StreamConsumer

    async def handler(_: bytes, __: dict[bytes, bytes]) -> None:
        return None

    c = StreamConsumer(None, "s", "g", "c", handler)  # type: ignore[arg-type]
    assert c.health() == "consumer loop not running"
    c._running.set()
    c.error = "ConnectionError('refused')"
    assert "refused" in (c.health() or "")
    c._read_ok()
    assert c.health() is None
    await asyncio.sleep(0)
