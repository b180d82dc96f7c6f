"""Validators and JSON shapes for the recruiter side (same error JSON as the rest of the API)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from web.common.errors import ApiError
from web.common.serialize import iso
from web.common.validation import Invalid, integer, parse, string, string_list

from . import webhook_guard

QUESTION_SPEC = {
    "text": string(max_len=2000, min_len=1),
    "think_seconds": integer(0, 600),
    "answer_seconds": integer(10, 1800),
    "retakes": integer(0, 10),
    "key_points": string_list(max_items=20, max_len=300),
}
QUESTION_DEFAULTS: dict[str, Any] = {"think_seconds": 30, "answer_seconds": 120, "retakes": 1, "key_points": []}


def questions(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or len(value) > 50:
        raise Invalid("must be a list of at most 50 questions")
    out = []
    for i, q in enumerate(value):
        if isinstance(q, str):
            q = {"text": q}
        if not isinstance(q, dict):
            raise Invalid(f"item {i} must be an object with text")
        out.append({**QUESTION_DEFAULTS, **parse(q, QUESTION_SPEC, required=("text",), prefix=f"questions[{i}].")})
    return out


def timestamp(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid("must be an ISO 8601 time such as 2030-01-31T17:00:00Z")
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as e:
        raise Invalid("must be an ISO 8601 time such as 2030-01-31T17:00:00Z") from e
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid("must be true or false")
    return value


def webhook_url(value: Any, *, allow_private: bool = True) -> str:
    """An http(s) URL or ''; unless ``allow_private``, not one naming a local/private address (SSRF)."""
    s = string(max_len=2000)(value)
    if not s:
        return s
    host = webhook_guard.url_host(s)
    if not s.startswith(("https://", "http://")) or not host:
        raise Invalid("must be an http(s) URL or empty")
    if not allow_private and webhook_guard.host_forbidden(host):
        raise Invalid("must not point to a loopback, private, link-local or otherwise non-public address")
    return s


INTERVIEW_SPEC = {
    "title": string(max_len=200, min_len=1),
    "job_description": string(max_len=20_000),
    "questions": questions,
    "deadline": timestamp,
    "company_name": string(max_len=200),
    "intro_text": string(max_len=5000),
    "is_template": boolean,
    "practice_question": string(max_len=2000),
}


def parse_uuid(raw: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise ApiError(404, "not_found", f"No such {what}") from None


def jsonable(d: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if k in ("token_hash", "webhook_secret", "owner_id", "link_nonce"):
            continue
        if isinstance(v, datetime):
            out[k] = iso(v)
        elif isinstance(v, uuid.UUID):
            out[k] = str(v)
        else:
            out[k] = v
    return out


def candidate_status(c: dict[str, Any], now: datetime | None = None) -> str:
    """invited / started / completed, or expired once the link's time is up before completion."""
    now = now or datetime.now(UTC)
    if c["status"] != "completed" and c["expires_at"] <= now:
        return "expired"
    return str(c["status"])


def candidate_json(c: dict[str, Any]) -> dict[str, Any]:
    out = jsonable(c)
    out["status"] = candidate_status(c)
    out["revoked"] = c.get("revoked_at") is not None
    return out
