"""SQL of team review (migrations/019_team_review.sql): member roles and removals, answer ratings,
read-only review share links. Every function takes the organisation id and filters on it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

Db = asyncpg.Pool | asyncpg.Connection


@dataclass(frozen=True)
class Rating:
    candidate_id: uuid.UUID
    question_idx: int
    reviewer_id: uuid.UUID
    reviewer_name: str
    reviewer_email: str
    scores: dict[str, int]
    comment: str
    updated_at: datetime


@dataclass(frozen=True)
class ShareLink:
    id: uuid.UUID
    candidate_id: uuid.UUID
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class SharedCandidate:
    org_id: uuid.UUID
    candidate_id: uuid.UUID
    link_id: uuid.UUID
    expires_at: datetime


# ---- members ----


async def was_removed(db: Db, user_id: uuid.UUID) -> bool:
    return bool(await db.fetchval("SELECT 1 FROM org_removals WHERE user_id = $1 LIMIT 1", user_id))


async def member_role(db: Db, org_id: uuid.UUID, user_id: uuid.UUID) -> str | None:
    return await db.fetchval("SELECT role FROM org_members WHERE org_id = $1 AND user_id = $2", org_id, user_id)


async def set_role(db: Db, org_id: uuid.UUID, user_id: uuid.UUID, role: str) -> bool:
    """Never the organisation's founding owner (it pays for recordings and stays owner)."""
    res = await db.execute(
        "UPDATE org_members m SET role = $3 FROM organisations o WHERE o.id = m.org_id AND m.org_id = $1 "
        "AND m.user_id = $2 AND o.owner_id <> m.user_id",
        org_id,
        user_id,
        role,
    )
    return res.endswith(" 1")


async def remove_member(pool: asyncpg.Pool, org_id: uuid.UUID, user_id: uuid.UUID, by: uuid.UUID) -> bool:
    async with pool.acquire() as conn, conn.transaction():
        res = await conn.execute(
            "DELETE FROM org_members m USING organisations o WHERE o.id = m.org_id AND m.org_id = $1 "
            "AND m.user_id = $2 AND o.owner_id <> m.user_id",
            org_id,
            user_id,
        )
        if not res.endswith(" 1"):
            return False
        await conn.execute(
            "INSERT INTO org_removals (org_id, user_id, removed_by) VALUES ($1, $2, $3) "
            "ON CONFLICT (org_id, user_id) DO UPDATE SET removed_at = now(), removed_by = $3",
            org_id,
            user_id,
            by,
        )
        # the ratings they gave stay (the team's record); their share links stop working
        await conn.execute(
            "UPDATE review_share_links SET revoked_at = coalesce(revoked_at, now()) WHERE org_id = $1 AND created_by = $2",
            org_id,
            user_id,
        )
    return True


async def set_invite_role(db: Db, org_id: uuid.UUID, token_hash: str, role: str) -> None:
    await db.execute("UPDATE org_invites SET role = $3 WHERE org_id = $1 AND token_hash = $2", org_id, token_hash, role)


async def forget_removal(db: Db, user_id: uuid.UUID) -> None:
    await db.execute("DELETE FROM org_removals WHERE user_id = $1", user_id)


# ---- ratings ----


async def save_rating(
    db: Db,
    org_id: uuid.UUID,
    candidate_id: uuid.UUID,
    question_idx: int,
    reviewer_id: uuid.UUID,
    scores: dict[str, int],
    comment: str,
) -> bool:
    """False when the candidate is not of this organisation."""
    res = await db.execute(
        "INSERT INTO answer_ratings (org_id, candidate_id, question_idx, reviewer_id, scores, comment) "
        "SELECT $1, c.id, $3, $4, $5, $6 FROM candidates c WHERE c.id = $2 AND c.org_id = $1 "
        "ON CONFLICT (candidate_id, question_idx, reviewer_id) DO UPDATE SET scores = $5, comment = $6, "
        "updated_at = now()",
        org_id,
        candidate_id,
        question_idx,
        reviewer_id,
        scores,
        comment,
    )
    return res.endswith(" 1")


async def delete_rating(
    db: Db, org_id: uuid.UUID, candidate_id: uuid.UUID, question_idx: int, reviewer_id: uuid.UUID
) -> bool:
    res = await db.execute(
        "DELETE FROM answer_ratings WHERE org_id = $1 AND candidate_id = $2 AND question_idx = $3 AND reviewer_id = $4",
        org_id,
        candidate_id,
        question_idx,
        reviewer_id,
    )
    return res.endswith(" 1")


async def ratings_of(db: Db, org_id: uuid.UUID, candidate_id: uuid.UUID) -> list[Rating]:
    rows = await db.fetch(
        "SELECT r.candidate_id, r.question_idx, r.reviewer_id, u.name, u.email, r.scores, r.comment, r.updated_at "
        "FROM answer_ratings r JOIN users u ON u.id = r.reviewer_id "
        "WHERE r.org_id = $1 AND r.candidate_id = $2 ORDER BY r.question_idx, r.updated_at",
        org_id,
        candidate_id,
    )
    return [
        Rating(
            r["candidate_id"],
            r["question_idx"],
            r["reviewer_id"],
            r["name"],
            r["email"],
            dict(r["scores"]),
            r["comment"],
            r["updated_at"],
        )
        for r in rows
    ]


# ---- share links ----


def _link(r: asyncpg.Record) -> ShareLink:
    return ShareLink(r["id"], r["candidate_id"], r["created_at"], r["expires_at"], r["revoked_at"])


async def create_share_link(
    db: Db, org_id: uuid.UUID, candidate_id: uuid.UUID, token_hash: str, by: uuid.UUID, expires_at: datetime
) -> ShareLink | None:
    r = await db.fetchrow(
        "INSERT INTO review_share_links (id, org_id, candidate_id, token_hash, created_by, expires_at) "
        "SELECT $1, $2, c.id, $4, $5, $6 FROM candidates c WHERE c.id = $3 AND c.org_id = $2 "
        "RETURNING id, candidate_id, created_at, expires_at, revoked_at",
        uuid.uuid4(),
        org_id,
        candidate_id,
        token_hash,
        by,
        expires_at,
    )
    return _link(r) if r else None


async def share_links_of(db: Db, org_id: uuid.UUID, candidate_id: uuid.UUID) -> list[ShareLink]:
    rows = await db.fetch(
        "SELECT id, candidate_id, created_at, expires_at, revoked_at FROM review_share_links "
        "WHERE org_id = $1 AND candidate_id = $2 ORDER BY created_at DESC",
        org_id,
        candidate_id,
    )
    return [_link(r) for r in rows]


async def revoke_share_link(db: Db, org_id: uuid.UUID, link_id: uuid.UUID) -> bool:
    res = await db.execute(
        "UPDATE review_share_links SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 AND org_id = $2",
        link_id,
        org_id,
    )
    return res.endswith(" 1")


async def shared_candidate(db: Db, token_hash: str) -> SharedCandidate | None:
    """The candidate a live (unexpired, unrevoked) share link opens."""
    r = await db.fetchrow(
        "SELECT org_id, candidate_id, id, expires_at FROM review_share_links WHERE token_hash = $1 "
        "AND revoked_at IS NULL AND expires_at > now()",
        token_hash,
    )
    return SharedCandidate(r["org_id"], r["candidate_id"], r["id"], r["expires_at"]) if r else None
