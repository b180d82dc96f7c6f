"""The scaffolding the fakes of paid remote APIs share (tests/fake_stripe.py, tests/fake_paypal.py): an aiohttp
application on a free port of 127.0.0.1, started and stopped by the test, its base URL for the app's settings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest_asyncio
from aiohttp import web

from interview_room.embedded import free_port


@dataclass
class LocalApi:
    """A fake remote API served over 127.0.0.1; a subclass adds its routes in ``routes``."""

    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def start(self) -> None:
        app = web.Application()
        self.routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        self.port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def served_fixture(factory: Callable[[], LocalApi], name: str) -> Any:
    """A module-scoped fixture ``name``: a fake made by ``factory``, serving for the module's tests."""

    @pytest_asyncio.fixture(scope="module", name=name)
    async def served() -> AsyncIterator[LocalApi]:
        api = factory()
        await api.start()
        yield api
        await api.stop()

    return served
