"""Issue 21 (P2): suggested questions from the job, and candidates' CVs read for the reviewer.

The recruiter API on a real port (embedded Postgres and Redis) with an llm worker on the offline
provider: the drafting and the CV reading are ``llm:jobs`` the worker serves.
"""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest_asyncio
from conftest import Infra
from recruit_fixtures import Api, recruit_api, token_of

JD = (
    "Senior backend engineer.\n"
    "- Design and operate PostgreSQL databases at scale\n"
    "- Build Python services with asyncio and aiohttp\n"
    "- Run workloads on Kubernetes in production\n"
)
CV = (
    "Jane Doe\n"
    "Skills\n"
    "Python, asyncio, PostgreSQL, Docker\n"
    "Experience\n"
    "2019 - present: Backend engineer at Acme, built Python aiohttp services and tuned PostgreSQL databases\n"
    "2015 - 2019: Developer at Beta Ltd\n"
    "Education\n"
    "BSc Computer Science, University of Leeds\n"
)


@pytest_asyncio.fixture(scope="module")
async def api(infra: Infra) -> AsyncIterator[Api]:
    async with recruit_api(infra) as a:
        yield a


async def _suggest(api: Api, token: str, body: dict[str, Any]) -> tuple[int, Any]:
    for _ in range(30):
        st, out = await api.call("POST", "/api/org/interviews/suggest-questions", token, json=body)
        if st != 202:
            return st, out
        await asyncio.sleep(0.2)
    raise AssertionError("no suggestions")


async def test_suggested_questions_reflect_the_job_and_carry_key_points(api: Api) -> None:
    rec = await api.recruiter()
    st, out = await _suggest(api, rec, {"job_description": JD, "count": 6})
    assert st == 200, out
    qs = out["questions"]
    assert len(qs) == 6 and out["provider"] == "offline"
    assert all(q["text"] and len(q["key_points"]) >= 3 for q in qs), qs
    texts = " ".join(q["text"] for q in qs)
    assert "PostgreSQL" in texts and "Kubernetes" in texts, texts
    assert any("postgresql" in " ".join(q["key_points"]).lower() for q in qs)
    # another job, other questions; the same job again: the stored draft
    st, other = await _suggest(api, rec, {"job_description": "- Lead a team of nurses on night shifts in a busy ward"})
    assert st == 200 and "nurses" in " ".join(q["text"] for q in other["questions"])
    assert "PostgreSQL" not in " ".join(q["text"] for q in other["questions"])
    st, again = await _suggest(api, rec, {"job_description": JD, "count": 6})
    assert st == 200 and again["questions"] == qs
    # with a CV: one question is about it
    st, with_cv = await _suggest(api, rec, {"job_description": JD, "cv": CV, "count": 6})
    assert st == 200 and any(q["source"] == "cv" and "Acme" in q["text"] for q in with_cv["questions"])
    # nothing was saved: no interview exists
    st, ivs = await api.call("GET", "/api/org/interviews", rec)
    assert st == 200 and ivs["interviews"] == []


async def test_suggest_questions_refuses_bad_input_and_strangers(api: Api) -> None:
    rec = await api.recruiter()
    for body in ({}, {"job_description": "   "}, {"job_description": JD, "count": 99}, {"job_description": 5}):
        st, err = await api.call("POST", "/api/org/interviews/suggest-questions", rec, json=body)
        assert st == 400 and err["error"]["code"] == "validation_error", (body, err)
    st, err = await api.call("POST", "/api/org/interviews/suggest-questions", json={"job_description": JD})
    assert st == 401, err
    no_org = await api.recruiter(org_name=None)
    st, err = await api.call("POST", "/api/org/interviews/suggest-questions", no_org, json={"job_description": JD})
    assert st == 404 and err["error"]["code"] == "no_organisation"


# ---------------------------------------------------------------- CVs


def _docx(text: str, extra: tuple[str, int] | None = None) -> bytes:
    import docx

    d = docx.Document()
    for line in text.splitlines():
        d.add_paragraph(line)
    plain = io.BytesIO()
    d.save(plain)
    if extra is None:
        return plain.getvalue()
    out = io.BytesIO()
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for info in src.infolist():
            z.writestr(info, src.read(info.filename))
        name, size = extra
        with z.open(name, "w", force_zip64=True) as f:
            chunk = bytes(1 << 20)
            for _ in range(size >> 20):
                f.write(chunk)
    return out.getvalue()


def _pdf(text: str) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    for line in text.splitlines():
        pdf.cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


async def _candidate(api: Api, rec: str, jd: str = JD) -> tuple[str, str]:
    st, iv = await api.call("POST", "/api/org/interviews", rec, json={"title": "Backend", "job_description": jd})
    assert st == 201, iv
    st, inv = await api.call("POST", f"/api/org/interviews/{iv['id']}/candidates", rec, json={"name": "Jane"})
    assert st == 201, inv
    return token_of(inv["link"]), str(inv["candidate"]["id"])


async def _upload(api: Api, tok: str, name: str, data: bytes) -> tuple[int, Any]:
    form = aiohttp.FormData()
    form.add_field("file", data, filename=name)
    return await api.cand("POST", "/api/c/cv", tok, data=form)


async def _reading(api: Api, rec: str, cid: str) -> dict[str, Any]:
    for _ in range(50):
        st, out = await api.call("GET", f"/api/org/candidates/{cid}/cv", rec)
        assert st == 200, out
        if not out.get("pending"):
            return dict(out)
        await asyncio.sleep(0.2)
    raise AssertionError("CV never read")


async def test_a_docx_cv_is_read_into_skills_experience_education_and_matched(api: Api) -> None:
    rec = await api.recruiter()
    tok, cid = await _candidate(api, rec)
    st, out = await api.call("GET", f"/api/org/candidates/{cid}/cv", rec)
    assert st == 200 and out == {"uploaded": False}
    st, up = await _upload(api, tok, "jane.docx", _docx(CV))
    assert st == 201 and up["filename"] == "jane.docx", up
    st, own = await api.cand("GET", "/api/c/cv", tok)
    assert st == 200 and own["uploaded"] and own["filename"] == "jane.docx"
    r = await _reading(api, rec, cid)
    assert {"Python", "PostgreSQL", "Docker"} <= set(r["skills"]), r
    assert any("Acme" in e for e in r["experience"]) and any("Leeds" in e for e in r["education"]), r
    assert r["provider"] == "offline" and "PostgreSQL" in r["summary"]
    reqs = {q["requirement"]: q for q in r["requirements"]}
    pg = reqs["Design and operate PostgreSQL databases at scale"]
    assert pg["met"] and any("tuned PostgreSQL" in e for e in pg["evidence"]), reqs
    assert not reqs["Run workloads on Kubernetes in production"]["met"]
    assert r["match_score"] == 67


async def test_a_pdf_cv_is_read_and_a_new_upload_replaces_it(api: Api) -> None:
    rec = await api.recruiter()
    tok, cid = await _candidate(api, rec)
    st, up = await _upload(api, tok, "jane.pdf", _pdf(CV))
    assert st == 201, up
    r = await _reading(api, rec, cid)
    assert "PostgreSQL" in r["skills"] and any("Leeds" in e for e in r["education"]), r
    st, up = await _upload(api, tok, "k8s.docx", _docx(CV + "Kubernetes: ran workloads in production for 3 years\n"))
    assert st == 201
    r = await _reading(api, rec, cid)
    assert r["filename"] == "k8s.docx" and r["match_score"] == 100, r


async def test_hostile_cvs_are_refused_with_clear_errors_and_change_nothing(api: Api) -> None:
    rec = await api.recruiter()
    tok, cid = await _candidate(api, rec)
    bomb = _docx("Decoy", ("word/media/image1.png", 1 << 30))  # ~1 MB that inflates to 1 GiB
    st, err = await _upload(api, tok, "cv.docx", bomb)
    assert st == 413 and err["error"]["code"] == "file_too_complex", err
    st, err = await _upload(api, tok, "cv.docx", bytes(api.cfg.max_body_bytes + 10))
    assert st == 413 and err["error"]["code"] == "body_too_large", err
    st, err = await _upload(api, tok, "cv.exe", b"MZ\x90\x00" * 100)
    assert st == 400 and err["error"]["code"] == "unsupported_file_type", err
    st, err = await _upload(api, tok, "cv.pdf", b"%PDF-1.4 garbage")
    assert st == 400 and err["error"]["code"] == "unreadable_file", err
    st, err = await api.cand("POST", "/api/c/cv", tok, json={"file": "x"})
    assert st == 400 and err["error"]["code"] == "validation_error", err
    st, err = await _upload(api, "not-a-token", "cv.docx", _docx(CV))
    assert st == 404, err
    st, out = await api.call("GET", f"/api/org/candidates/{cid}/cv", rec)
    assert st == 200 and out == {"uploaded": False}
    st, up = await _upload(api, tok, "cv.docx", _docx(CV))  # the next normal upload is served
    assert st == 201, up


async def test_another_organisation_or_candidate_cannot_read_a_cv(api: Api) -> None:
    rec = await api.recruiter()
    tok, cid = await _candidate(api, rec)
    st, _ = await _upload(api, tok, "jane.docx", _docx(CV))
    assert st == 201
    other = await api.recruiter("Other Org")
    st, err = await api.call("GET", f"/api/org/candidates/{cid}/cv", other)
    assert st == 404 and err["error"]["code"] == "not_found", err
    st, err = await api.call(
        "POST", "/api/org/interviews/suggest-questions", other, json={"job_description": JD, "candidate_id": cid}
    )
    assert st == 404, err
    tok2, cid2 = await _candidate(api, rec)
    st, own = await api.cand("GET", "/api/c/cv", tok2)
    assert st == 200 and own == {"uploaded": False}
    st, out = await api.call("GET", f"/api/org/candidates/{cid2}/cv", rec)
    assert out == {"uploaded": False}
    # the owner's recruiter may draft questions from the candidate's stored CV
    st, out = await _suggest(api, rec, {"job_description": JD, "candidate_id": cid})
    assert st == 200 and any(q["source"] == "cv" for q in out["questions"]), out


# ---------------------------------------------------------------- with a model (fake OpenAI)


def _model(body: dict[str, Any]) -> Any:
    from tests.fake_openai import Reply

    system = body["messages"][0]["content"]
    if system.startswith("You draft interview questions"):
        q = {"text": "How did you scale PostgreSQL at Acme?", "key_points": ["Replicas", "Indexes", "Measured gain"]}
        return Reply(json.dumps({"questions": [q]}))
    if system.startswith("You read a candidate's CV"):
        reading = {
            "skills": ["Python", "PostgreSQL"],
            "experience": ["Backend engineer at Acme since 2019"],
            "education": ["BSc Computer Science, Leeds"],
            "summary": "A backend engineer with PostgreSQL and Python experience.",
            "requirements": [
                {
                    "requirement": "Design and operate PostgreSQL databases at scale",
                    "met": True,
                    "evidence": ["tuned PostgreSQL databases"],
                },
                {
                    "requirement": "Run workloads on Kubernetes in production",
                    "met": True,
                    "evidence": ["Ran Kubernetes"],
                },
            ],
        }
        return Reply(json.dumps(reading))
    return Reply("{}")


async def test_with_a_model_suggestions_and_cv_reading_come_from_it(infra: Infra) -> None:
    from tests.fake_openai import FakeOpenAI

    async with FakeOpenAI(responder=_model) as fake:
        async with recruit_api(infra, llm_provider="openai", openai_base_url=fake.base_url, llm_model="m") as api:
            rec = await api.recruiter()
            st, out = await _suggest(api, rec, {"job_description": JD})
            assert st == 200 and out["provider"] == "openai", out
            assert out["questions"] == [
                {
                    "text": "How did you scale PostgreSQL at Acme?",
                    "key_points": ["Replicas", "Indexes", "Measured gain"],
                    "source": "model",
                }
            ]
            tok, cid = await _candidate(api, rec)
            st, _ = await _upload(api, tok, "jane.docx", _docx(CV))
            assert st == 201
            r = await _reading(api, rec, cid)
            assert r["provider"] == "openai" and r["summary"].startswith("A backend engineer"), r
            reqs = {q["requirement"]: q for q in r["requirements"]}
            assert reqs["Design and operate PostgreSQL databases at scale"]["met"]
            k8s = reqs["Run workloads on Kubernetes in production"]
            assert not k8s["met"] and k8s["evidence"] == []  # a "quote" that is not in the CV is dropped
            assert r["match_score"] == 50


async def test_a_broken_model_falls_back_to_offline_suggestions(infra: Infra) -> None:
    from tests.fake_openai import FakeOpenAI, Reply

    async with FakeOpenAI(responder=lambda body: Reply("not json at all")) as fake:
        async with recruit_api(infra, llm_provider="openai", openai_base_url=fake.base_url, llm_max_retries=0) as api:
            rec = await api.recruiter()
            st, out = await _suggest(api, rec, {"job_description": JD})
            assert st == 200 and out["provider"] == "offline" and out["model_error"], out
            assert any("PostgreSQL" in q["text"] for q in out["questions"])
            assert len(fake.requests) == 2  # one retry of the malformed reply, then the offline draft
