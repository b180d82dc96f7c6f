"""GET /api/org/interviews/{interview_id}/scores-audit.csv (issue 21.6): every AI score per question for a
bias audit, one row per candidate and question.

Pseudonymous: the candidate's id, not their name or e-mail (an auditor joins it with what the
organisation holds about its candidates); the scores are labelled as the AI's suggestions and the
human decision sits beside them, with the candidate's extra time. Members of the organisation only.
"""

from __future__ import annotations

import csv
import io

from aiohttp import web

from interview_room.store import recruiting as store
from web.common.context import services
from web.common.errors import not_found

from .csv_cells import safe_row
from .fields import candidate_status, parse_uuid
from .recruiter_routes import interview_scores, member_org

routes = web.RouteTableDef()

CRITERIA = ("relevance", "completeness", "structure", "clarity", "delivery")
HEADER = [
    "candidate_id",
    "status",
    "decision",
    "extra_time_percent",
    "question",
    "question_text",
    "ai_suggested_score",
    *(f"ai_{c}" for c in CRITERIA),
    "ai_provider",
]


@routes.get("/api/org/interviews/{interview_id}/scores-audit.csv")
async def scores_audit(request: web.Request) -> web.Response:
    org = await member_org(request)
    iid = parse_uuid(request.match_info["interview_id"], "interview")
    pool = services(request).pool
    iv = await store.get_interview(pool, org["id"], iid)
    if iv is None:
        raise not_found("No such interview")
    rows = await store.list_candidates(pool, org["id"], iv["id"])
    scores = await interview_scores(request, org, iv)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(HEADER)
    for c in rows:
        mine = scores.get(c["id"])
        if mine is None:
            continue
        for i, s in enumerate(mine):
            rubric = (s or {}).get("rubric") or {}
            w.writerow(
                safe_row(
                    [
                        str(c["id"]),
                        candidate_status(c),
                        c["decision"] or "",
                        c.get("extra_time_pct") or 0,
                        i + 1,
                        iv["questions"][i]["text"],
                        s["score"] if s and s.get("score") is not None else "",
                        *(rubric.get(k, "") for k in CRITERIA),
                        (s or {}).get("provider", ""),
                    ]
                )
            )
    return web.Response(
        text=buf.getvalue(),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="scores-audit-{iv["id"]}.csv"'},
    )
