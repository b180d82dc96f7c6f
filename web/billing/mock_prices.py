"""GET /api/mock/prices: the per-interview price of a mock interview by difficulty (issue #20), per currency.

A catalogue only: charging at the interview's start, refunds of interviews that fail through our fault and the
mocks a monthly plan includes are not built yet (see the issue's notes)."""

from __future__ import annotations

import re

from aiohttp import web

from interview_room.store import mock_prices as store
from web.common.context import services
from web.common.errors import ApiError

routes = web.RouteTableDef()
_CURRENCY = re.compile(r"^[a-z]{3}$")


@routes.get("/api/mock/prices")
async def list_mock_prices(request: web.Request) -> web.Response:
    currency = request.query.get("currency")
    if currency is not None:
        currency = currency.strip().lower()
        if not _CURRENCY.match(currency):
            raise ApiError(400, "validation_error", "currency must be a three-letter ISO 4217 code", field="currency")
    prices = await store.list_prices(services(request).pool, currency)
    return web.json_response({"prices": [p.to_json() for p in prices]})
