"""What every part of one live session shares: its id, the settings, Redis, PostgreSQL, the
session's TaskGroup (which owns every task a part starts) and how to publish a session event."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
import redis.asyncio as aioredis

from interview_room import bus
from interview_room.config import Config
from interview_room.messages import Event
from interview_room.service import TaskGroup


@dataclass(frozen=True)
class SessionContext:
    id: str
    cfg: Config
    redis: aioredis.Redis
    pool: asyncpg.Pool
    tasks: TaskGroup

    async def publish(self, event: Event) -> object:
        """Events the node itself produces (credits, notices) go through the stream like any other."""
        return await bus.publish_event(self.redis, self.id, event)
