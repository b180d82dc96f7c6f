"""A candidate's CV read for the reviewer: job ``cv_reading``.

The candidate uploads a CV on their page (the web process parses it to text in the résumé
sandbox and stores it, ``interview_room/store/candidate_cvs.py``) and the review asks for its
reading; this worker reads it with its provider and stores skills, experience, education, a
summary and the match against the interview's job description, each requirement with the CV
lines that are its evidence. With a model the offline reading is stored first (``pending``), the
model's replaces it; a model's evidence is kept only where it quotes the CV.

Offline: sections by their headings (Skills, Experience, Education, ...), lines with year ranges
as experience, degree words as education; the match is the overlap of each requirement line's
terms with the CV's lines.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

import asyncpg
import redis.asyncio as aioredis

from interview_room.messages import LlmJob
from interview_room.store import candidate_cvs as store

from .prompts import DATA_RULE, data_block
from .suggest import keywords, requirement_lines
from .text import terms

log = logging.getLogger("llm.cv")

MAX_TEXT = 30_000
MAX_ITEMS = 12
_HEADINGS = {
    "skills": ("skills", "technical skills", "core skills", "competencies", "technologies", "tools"),
    "experience": ("experience", "work experience", "employment", "work history", "professional experience", "career"),
    "education": ("education", "qualifications", "academic background", "degrees", "certifications"),
}
_YEARS = re.compile(r"\b((?:19|20)\d\d)\s*(?:-|–|—|to)\s*((?:19|20)\d\d|present|now|current)\b", re.I)
_DEGREE = re.compile(
    r"\b(b\.?sc|m\.?sc|bachelor|master|ph\.?d|mba|university|college|diploma|degree|b\.?a\.?|m\.?a\.?)\b", re.I
)


@dataclass
class CvRequest:
    cv: str
    job_description: str = ""


@dataclass
class Requirement:
    requirement: str
    met: bool
    evidence: list[str] = field(default_factory=list)


@dataclass
class CvReading:
    skills: list[str]
    experience: list[str]
    education: list[str]
    summary: str
    requirements: list[Requirement]
    match_score: int | None  # 0-100: share of the job's requirements with evidence; None without a job description
    provider: str = "offline"


def _lines(cv: str) -> list[str]:
    return [ln.strip(" -*•\t") for ln in cv.splitlines() if ln.strip(" -*•\t")]


def _heading(line: str) -> str | None:
    s = line.lower().strip(" :")
    if len(s.split()) > 4:
        return None
    for name, words in _HEADINGS.items():
        if s in words:
            return name
    return None


def _sections(lines: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {k: [] for k in _HEADINGS}
    current: str | None = None
    for ln in lines:
        h = _heading(ln)
        if h is not None:
            current = h
            continue
        if current is None and len(ln.split()) <= 4 and ln.rstrip(":") != ln:
            current = None  # some other heading ("Interests:")
        if current:
            out[current].append(ln)
    return out


def _dedupe(items: list[str], limit: int = MAX_ITEMS) -> list[str]:
    seen: dict[str, str] = {}
    for it in items:
        it = it.strip(" .;,")
        if it and it.lower() not in seen:
            seen[it.lower()] = it[:200]
    return list(seen.values())[:limit]


def _skills(section: list[str], lines: list[str], jd: str) -> list[str]:
    items = [p.strip() for ln in section for p in re.split(r"[,;|/•]", ln) if 0 < len(p.split()) <= 4]
    if not items:  # no skills section: the job's keywords the CV mentions
        cv_terms = set(terms(" ".join(lines)))
        items = [k for k in keywords(jd, limit=40) if terms(k) and set(terms(k)) <= cv_terms]
    return _dedupe(items)


def _years(lines: list[str]) -> int:
    spans = []
    for ln in lines:
        for a, b in _YEARS.findall(ln):
            end = 2026 if not b[0].isdigit() else int(b)
            if end >= int(a):
                spans.append((int(a), end))
    return max(0, max((b for _, b in spans), default=0) - min((a for a, _ in spans), default=0))


def _match(jd: str, lines: list[str]) -> tuple[list[Requirement], int | None]:
    reqs = requirement_lines(jd)
    if not reqs:
        return [], None
    line_terms = [(ln, set(terms(ln))) for ln in lines]
    out = []
    for req in reqs:
        want = set(terms(req))
        hits = sorted(((len(want & ts), ln) for ln, ts in line_terms if want & ts), key=lambda t: -t[0])
        need = 1 if len(want) <= 3 else 2
        evidence = [ln[:300] for n, ln in hits if n >= need][:3]
        out.append(Requirement(requirement=req, met=bool(evidence), evidence=evidence))
    return out, round(100 * sum(r.met for r in out) / len(out))


def offline_reading(req: CvRequest) -> CvReading:
    lines = _lines(req.cv[:MAX_TEXT])
    sec = _sections(lines)
    skills = _skills(sec["skills"], lines, req.job_description)
    experience = _dedupe(sec["experience"] or [ln for ln in lines if _YEARS.search(ln)])
    education = _dedupe(sec["education"] or [ln for ln in lines if _DEGREE.search(ln)])
    requirements, score = _match(req.job_description, lines)
    years = _years(sec["experience"] or lines)
    parts = []
    if years:
        parts.append(f"About {years} years of experience")
    if experience:
        parts.append(f"most recently: {experience[0]}")
    if skills:
        parts.append("skills: " + ", ".join(skills[:6]))
    if education:
        parts.append(f"education: {education[0]}")
    if score is not None:
        parts.append(f"evidence for {sum(r.met for r in requirements)} of {len(requirements)} job requirements")
    summary = ("; ".join(parts) + ".") if parts else "The CV has no recognisable skills, experience or education."
    return CvReading(skills, experience, education, summary[:1000], requirements, score, "offline")


CV_SYSTEM = (
    'You read a candidate\'s CV for a recruiter. Reply with JSON only: {"skills": [str], "experience": [str], '
    '"education": [str], "summary": str (3 sentences, factual, no judgement of the person), "requirements": '
    '[{"requirement": str, "met": bool, "evidence": [str]}]} with one requirement per requirement of the job '
    "description; evidence items are exact quotes of CV lines. " + DATA_RULE
)


def cv_messages(req: CvRequest) -> list[dict[str, str]]:
    data = {"cv": req.cv[:MAX_TEXT], "job_description": req.job_description[:MAX_TEXT]}
    return [{"role": "system", "content": CV_SYSTEM}, {"role": "user", "content": data_block(data)}]


def _strs(v: Any, limit: int = MAX_ITEMS) -> list[str] | None:
    if not isinstance(v, list):
        return None
    return [s.strip()[:200] for s in v if isinstance(s, str) and s.strip()][:limit]


def parse_reading(req: CvRequest, provider: str) -> Any:
    """A parser of the model's reply: missing parts from the offline reading, evidence only as CV quotes."""
    low = re.sub(r"\s+", " ", req.cv.lower())

    def quoted(s: str) -> bool:
        return re.sub(r"\s+", " ", s.lower()).strip(" .") in low

    def parse(obj: Any) -> CvReading:
        if not isinstance(obj, dict) or not isinstance(obj.get("summary"), str):
            raise ValueError("not a CV reading")
        base = offline_reading(req)
        reqs = []
        for r in obj.get("requirements") or []:
            if isinstance(r, dict) and isinstance(r.get("requirement"), str):
                ev = [e[:300] for e in _strs(r.get("evidence"), 3) or [] if quoted(e)]
                reqs.append(Requirement(r["requirement"][:300], bool(r.get("met")) and bool(ev), ev))
        if not reqs:
            reqs = base.requirements
        score = round(100 * sum(r.met for r in reqs) / len(reqs)) if reqs else None
        return CvReading(
            skills=_strs(obj.get("skills")) or base.skills,
            experience=_strs(obj.get("experience")) or base.experience,
            education=_strs(obj.get("education")) or base.education,
            summary=obj["summary"].strip()[:1000] or base.summary,
            requirements=reqs,
            match_score=score,
            provider=provider,
        )

    return parse


def reading_json(r: CvReading, key: str) -> dict[str, Any]:
    return {**asdict(r), "key": key}


class CvReader:
    """The llm worker's part for ``cv_reading`` jobs."""

    def __init__(self, *, r: aioredis.Redis, pool: asyncpg.Pool, provider: Any, llm_sem: asyncio.Semaphore) -> None:
        self.r = r
        self.pool = pool
        self.provider = provider
        self.llm_sem = llm_sem

    async def run(self, job: LlmJob) -> None:
        key, jd = job.payload.get("key"), job.payload.get("job_description")
        if not isinstance(key, str) or not isinstance(jd, str):
            log.error("dropping malformed cv_reading job")
            return
        cid = uuid.UUID(job.session_id)
        row = await store.get_cv_for_worker(self.pool, cid)
        if row is None or store.reading_key(row.text, jd) != key:
            return  # erased, replaced or the job description changed since: a newer job reads it
        req = CvRequest(cv=row.text, job_description=jd)
        offline = await asyncio.to_thread(offline_reading, req)
        if self.provider.offline:
            await store.save_reading(self.pool, cid, key, "offline", reading_json(offline, key))
            return
        await store.save_reading(
            self.pool, cid, key, self.provider.name, {**reading_json(offline, key), "pending": True}
        )
        fell: list[Any] = []

        async def fell_back(fb: Any) -> None:
            fell.append(fb)

        async with self.llm_sem:
            res = await self.provider.bind(fell_back).read_cv(req)
        out = reading_json(res, key)
        if fell:
            out["model_error"] = fell[-1].error.message
            log.warning("model CV reading failed code=%s", fell[-1].error.code)
        await store.save_reading(self.pool, cid, key, res.provider, out)
