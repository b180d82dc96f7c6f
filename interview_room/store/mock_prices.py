"""The ``mock_prices`` table: what one mock interview costs, by difficulty and currency."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DIFFICULTIES = ("easy", "medium", "hard", "expert")

Conn = Any  # an asyncpg connection or pool


@dataclass(frozen=True)
class MockPrice:
    difficulty: str
    currency: str
    price_cents: int

    def to_json(self) -> dict[str, Any]:
        return {"difficulty": self.difficulty, "currency": self.currency, "price_cents": self.price_cents}


async def list_prices(conn: Conn, currency: str | None = None) -> list[MockPrice]:
    """Every price (of one currency when given), easy to expert."""
    rows = await conn.fetch(
        """SELECT difficulty, currency, price_cents FROM mock_prices
           WHERE $1::text IS NULL OR currency = $1
           ORDER BY currency, array_position($2::text[], difficulty)""",
        currency,
        list(DIFFICULTIES),
    )
    return [MockPrice(**dict(r)) for r in rows]


async def price(conn: Conn, difficulty: str, currency: str) -> MockPrice | None:
    r = await conn.fetchrow(
        "SELECT difficulty, currency, price_cents FROM mock_prices WHERE difficulty = $1 AND currency = $2",
        difficulty,
        currency,
    )
    return MockPrice(**dict(r)) if r else None
