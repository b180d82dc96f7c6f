"""The bias-audit export (issue 21.6) through the real HTTP API, with the llm worker scoring the answers:
one row per candidate and question, the AI's scores labelled as suggestions beside the human decision
and the candidate's extra time, pseudonymous (no name or e-mail), formula-safe, org-scoped."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator

import pytest_asyncio
from conftest import Infra
from recruit_fixtures import Api, recruit_api, token_of
from test_recruiting_links import _answer_with_captions

from web.recruiting.audit_export import HEADER


@pytest_asyncio.fixture(loop_scope="session")
async def api(infra: Infra) -> AsyncIterator[Api]:
    async with recruit_api(infra) as a:
        yield a


async def test_scores_audit_csv(api: Api) -> None:
    rec = await api.recruiter("Audit org")
    st, iv = await api.call(
        "POST", "/api/org/interviews", rec, json={"title": "Audit", "questions": ["=HYPERLINK(1) Why us?"]}
    )
    assert st == 201
    st, inv = await api.call(
        "POST", f"/api/org/interviews/{iv['id']}/candidates", rec,
        json={"name": "Private Person", "email": "private@example.com", "send_email": False},
    )
    cid, tok = inv["candidate"]["id"], token_of(inv["link"])
    st, _ = await api.call("PUT", f"/api/org/candidates/{cid}/accommodations", rec, json={"extra_time_percent": 25})
    assert st == 200
    await api.cand("POST", "/api/c/consent", tok)
    await _answer_with_captions(api, tok, ["I like the product and I have supported its users for three years."])
    await api.cand("POST", "/api/c/complete", tok)
    await api.call("POST", f"/api/org/candidates/{cid}/decision", rec, json={"decision": "pass"})
    st, review = await api.call("GET", f"/api/org/candidates/{cid}", rec)
    score = review["answers"][0]["score"]
    assert st == 200 and score["provider"] == "offline"
    st, text = await api.call("GET", f"/api/org/interviews/{iv['id']}/scores-audit.csv", rec)
    assert st == 200, text
    assert "Private Person" not in text and "private@example.com" not in text
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == HEADER and rows[0][6] == "ai_suggested_score"
    assert len(rows) == 2
    row = dict(zip(HEADER, rows[1], strict=True))
    assert row["candidate_id"] == cid and row["status"] == "completed" and row["decision"] == "pass"
    assert row["extra_time_percent"] == "25" and row["question"] == "1"
    assert row["question_text"] == "'=HYPERLINK(1) Why us?"  # not a formula in a spreadsheet
    assert row["ai_suggested_score"] == str(score["score"]) and row["ai_provider"] == "offline"
    assert [row[f"ai_{k}"] for k in ("relevance", "completeness", "structure", "clarity", "delivery")] == [
        str(score["rubric"][k]) for k in ("relevance", "completeness", "structure", "clarity", "delivery")
    ]
    other = await api.recruiter("Other org")
    st, err = await api.call("GET", f"/api/org/interviews/{iv['id']}/scores-audit.csv", other)
    assert st == 404 and err["error"]["code"] == "not_found"
