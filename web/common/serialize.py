"""The JSON shapes the API answers with (one place, so every endpoint agrees)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from interview_room.store.sessions import Session, SessionDetail
from interview_room.store.users import User


def iso(dt: datetime | None) -> str | None:
    """UTC ISO 8601 with a Z, to the millisecond."""
    if dt is None:
        return None
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def user_json(u: User) -> dict[str, Any]:
    return {
        "id": str(u.id),
        "email": u.email,
        "name": u.name,
        "plan": u.plan,
        "default_listen_language": u.default_listen_language,
        "default_answer_language": u.default_answer_language,
        "default_instructions": u.default_instructions,
        "has_password": u.password_hash is not None,
        "email_verified": u.email_verified,
        "created_at": iso(u.created_at),
    }


def session_summary_json(s: Session) -> dict[str, Any]:
    return {
        "id": str(s.id),
        "title": s.title,
        "mode": s.mode,
        "listen_language": s.listen_language,
        "answer_language": s.answer_language,
        "status": s.status,
        "created_at": iso(s.created_at),
        "started_at": iso(s.started_at),
        "ended_at": iso(s.ended_at),
        "duration_seconds": round(float(s.media_seconds), 3),
        "credits_seconds": round(float(s.credits_seconds), 3),
        # the one session score (docs/scores.md): list badge, session facts, report, PDF and chart agree
        "score": int(round(s.average_score)) if s.average_score is not None else None,
        "average_score": round(s.average_score, 1) if s.average_score is not None else None,
        # mock interviews: the report's overall score and where to read it, once it is built
        "report_score": s.report_score,
        "report_url": f"/api/sessions/{s.id}/report" if s.report_score is not None else None,
    }


def session_detail_json(d: SessionDetail, *, has_recording: bool, has_video: bool) -> dict[str, Any]:
    s = d.session
    sid = str(s.id)
    by_ref: dict[str, list[dict[str, str]]] = {}
    for t in d.translations:
        by_ref.setdefault(t.ref, []).append({"lang": t.lang, "text": t.text})
    return {
        **session_summary_json(s),
        "hints": s.hints,
        "instructions": s.instructions,
        "resume_text": s.resume_text,
        "hangover": s.hangover,
        "mock": s.mock,
        "transcript": [
            {
                "id": c.id,
                "role": c.role,
                "t0": c.t0,
                "t1": c.t1,
                "text": c.text,
                "lang": c.lang,
                "translations": by_ref.get(c.id, []),
            }
            for c in d.transcript
        ],
        "questions": [
            {
                "id": q.id,
                "text": q.text,
                "lang": q.lang,
                "caption_ids": q.caption_ids,
                "t0": q.t0,
                "source": q.source,
                "answer": q.answer,
                "translations": by_ref.get(q.id, []),
                "score": q.score,
            }
            for q in d.questions
        ],
        "translations": [{"ref": t.ref, "lang": t.lang, "text": t.text} for t in d.translations],
        "recording_url": f"/api/sessions/{sid}/recording" if has_recording else None,
        "captions_url": f"/api/sessions/{sid}/captions.vtt",
        "has_video": has_video,
    }
