"""A Redis restart under a process's pooled connections (bus.connect, what every part uses).

What a user cares about: once Redis is back, requests work again; none gets a 500 because the
connection it was handed had been cut by the restart. The test starts its own ``redis-server``.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from interview_room import bus
from interview_room.embedded import EmbeddedRedis

POOLED = 8


@pytest.mark.parametrize("how", ["sigkill", "stop"])
async def test_every_pooled_connection_works_after_redis_is_back(tmp_path: Path, how: str) -> None:
    rd = EmbeddedRedis(tmp_path / "redis")
    url = rd.start()
    r = bus.connect(url)
    try:
        # POOLED connections open at once, then idle in the pool
        await asyncio.gather(*(r.blpop(f"nothing{i}", timeout=0.2) for i in range(POOLED)))
        assert len(r.connection_pool._available_connections) == POOLED
        if how == "sigkill":
            assert rd.proc is not None
            rd.proc.send_signal(signal.SIGKILL)
            rd.proc.wait(10)
        else:
            rd.stop()
        await asyncio.sleep(1.0)  # the process runs on while Redis is away (its loop sees the sockets close)
        assert rd.start() == url  # same port, as an orchestrator's restart
        results = await asyncio.gather(*(r.set(f"k{i}", "v") for i in range(POOLED)), return_exceptions=True)
        assert results == [True] * POOLED
        assert await r.mget([f"k{i}" for i in range(POOLED)]) == [b"v"] * POOLED
    finally:
        await r.aclose()
        rd.stop()
