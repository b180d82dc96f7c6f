"""What every handler needs, kept on the application under one typed key."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import asyncpg
import redis.asyncio as aioredis
from aiohttp import web

from interview_room.config import Config
from interview_room.service import TaskGroup


@dataclass
class Services:
    cfg: Config
    pool: asyncpg.Pool
    redis: aioredis.Redis
    secret: bytes
    internal_token: str  # sent on every call to a media node's /internal/* API
    web_root: Path | None
    docs_root: Path | None
    tasks: TaskGroup = field(default_factory=lambda: TaskGroup("signaling"))
    _http: aiohttp.ClientSession | None = None

    @property
    def http(self) -> aiohttp.ClientSession:
        """Client for the media nodes' internal API (created lazily inside the running loop)."""
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession()
        return self._http

    async def close(self) -> None:
        await self.tasks.close()
        if self._http is not None:
            await self._http.close()


SERVICES: web.AppKey[Services] = web.AppKey("services", Services)


def services(request: web.Request) -> Services:
    return request.app[SERVICES]
