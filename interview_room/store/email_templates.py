"""SQL of candidate e-mail templates and the e-mail delivery log (migrations/020_email_templates.sql).
Every function takes the organisation id and filters on it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

Db = asyncpg.Pool | asyncpg.Connection


@dataclass(frozen=True)
class Template:
    kind: str
    subject: str
    body: str
    updated_at: datetime


@dataclass(frozen=True)
class Delivery:
    id: int
    candidate_id: uuid.UUID | None
    kind: str
    to_addr: str
    ok: bool
    error: str
    created_at: datetime


async def templates_of(db: Db, org_id: uuid.UUID) -> dict[str, Template]:
    rows = await db.fetch("SELECT kind, subject, body, updated_at FROM email_templates WHERE org_id = $1", org_id)
    return {r["kind"]: Template(r["kind"], r["subject"], r["body"], r["updated_at"]) for r in rows}


async def template(db: Db, org_id: uuid.UUID, kind: str) -> Template | None:
    r = await db.fetchrow(
        "SELECT kind, subject, body, updated_at FROM email_templates WHERE org_id = $1 AND kind = $2", org_id, kind
    )
    return Template(r["kind"], r["subject"], r["body"], r["updated_at"]) if r else None


async def save_template(db: Db, org_id: uuid.UUID, kind: str, subject: str, body: str, by: uuid.UUID) -> None:
    await db.execute(
        "INSERT INTO email_templates (org_id, kind, subject, body, updated_by) VALUES ($1, $2, $3, $4, $5) "
        "ON CONFLICT (org_id, kind) DO UPDATE SET subject = $3, body = $4, updated_by = $5, updated_at = now()",
        org_id,
        kind,
        subject,
        body,
        by,
    )


async def delete_template(db: Db, org_id: uuid.UUID, kind: str) -> bool:
    res = await db.execute("DELETE FROM email_templates WHERE org_id = $1 AND kind = $2", org_id, kind)
    return res.endswith(" 1")


async def log_delivery(
    db: Db, org_id: uuid.UUID, candidate_id: uuid.UUID | None, kind: str, to_addr: str, ok: bool, error: str
) -> None:
    await db.execute(
        "INSERT INTO email_deliveries (org_id, candidate_id, kind, to_addr, ok, error) VALUES ($1, $2, $3, $4, $5, $6)",
        org_id,
        candidate_id,
        kind,
        to_addr,
        ok,
        error,
    )


async def deliveries(db: Db, org_id: uuid.UUID, failed_only: bool = False, limit: int = 100) -> list[Delivery]:
    rows = await db.fetch(
        "SELECT id, candidate_id, kind, to_addr, ok, error, created_at FROM email_deliveries "
        "WHERE org_id = $1 AND (NOT $2 OR NOT ok) ORDER BY id DESC LIMIT $3",
        org_id,
        failed_only,
        limit,
    )
    return [
        Delivery(r["id"], r["candidate_id"], r["kind"], r["to_addr"], r["ok"], r["error"], r["created_at"])
        for r in rows
    ]
