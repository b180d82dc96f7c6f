"""How long the recruiter's candidate list, comparison and CSV export take as an interview fills up.

    .venv/bin/python -m loadtests.recruiter_review [--candidates 50,200] [--questions 5] [--repeat 10]

Starts embedded Postgres + Redis and the signaling app in this process on 127.0.0.1, creates one
organisation and interview per size, and N candidates who each answered every question (a session
per answer with six final captions, written with the stores the pipeline uses; no media). Then it
times GET /compare (cold: every answer scored for the first time; warm: scores stored) and GET
/export.csv, and prints p50/p95 in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from interview_room import bus, config, db  # noqa: E402
from interview_room.embedded import EmbeddedPostgres, EmbeddedRedis, free_port  # noqa: E402
from interview_room.messages import Caption  # noqa: E402
from interview_room.store import captions as captions_store  # noqa: E402
from interview_room.store import sessions as sessions_store  # noqa: E402
from interview_room.store import users  # noqa: E402
from web.app import create_app  # noqa: E402

ANSWER = [
    "In my last role I owned the billing pipeline.",
    "We moved the events onto Kafka streams so the reports were no longer a nightly batch.",
    "I tuned the PostgreSQL indexes behind the slowest reports first.",
    "Then we added a replay tool so support could fix a customer's invoice themselves.",
    "The nightly job went from three hours to twenty minutes.",
    "I learned to measure before changing anything.",
]


async def _call(http: aiohttp.ClientSession, base: str, token: str, method: str, path: str, **kw: Any) -> Any:
    async with http.request(method, base + path, headers={"Authorization": f"Bearer {token}"}, **kw) as r:
        body = await r.read()
        if r.status >= 400:
            raise RuntimeError(f"{method} {path}: {r.status} {body[:200]!r}")
        return r


async def _fill(pool: Any, base: str, http: aiohttp.ClientSession, n: int, questions: int) -> tuple[str, str]:
    addr = f"bench-{uuid.uuid4().hex[:8]}@example.com"
    async with http.post(base + "/api/auth/register", json={"email": addr, "password": "bench password"}) as r:
        reg = await r.json()
    token, user_id = reg["token"], uuid.UUID(reg["user"]["id"])
    await users.mark_email_verified(pool, user_id)  # what entering the e-mailed code does
    await _call(http, base, token, "POST", "/api/org", json={"name": "Bench"})
    iv_body = {
        "title": "Data engineer",
        "job_description": "- Streaming pipelines with Kafka\n- Tuning PostgreSQL queries and indexes",
        "questions": [f"Question {i + 1}: tell us about a pipeline you built." for i in range(questions)],
    }
    async with http.post(base + "/api/org/interviews", json=iv_body, headers={"Authorization": f"Bearer {token}"}) as r:
        iv = await r.json()
    org_id = await pool.fetchval("SELECT org_id FROM org_members WHERE user_id = $1", user_id)
    for c in range(n):
        cid = uuid.uuid4()
        await pool.execute(
            "INSERT INTO candidates (id, org_id, interview_id, email, name, token_hash, expires_at, status, "
            "completed_at, link_nonce) VALUES ($1, $2, $3, $4, $5, $6, now() + interval '7 days', 'completed', now(), 'x')",
            cid,
            org_id,
            uuid.UUID(iv["id"]),
            f"c{c}@example.com",
            f"Candidate {c}",
            uuid.uuid4().hex,
        )
        for q in range(questions):
            s = await sessions_store.create_session(
                pool,
                user_id,
                {
                    "title": f"c{c} q{q}",
                    "mode": "recorded_answer",
                    "listen_language": "en",
                    "answer_language": "en",
                    "hints": "",
                    "instructions": "",
                    "resume_text": "",
                    "hangover": "balanced",
                    "mock": None,
                },
            )
            await pool.execute(
                "INSERT INTO candidate_answers (candidate_id, question_idx, attempt, session_id, status, finished_at) "
                "VALUES ($1, $2, 1, $3, 'done', now())",
                cid,
                q,
                s.id,
            )
            for i, text in enumerate(ANSWER[: 3 + (c + q) % 4]):
                cap = Caption(id=f"{s.id}-{i}", role="candidate", t0=4.0 * i, t1=4.0 * i + 3.5, text=text, lang="en")
                await captions_store.insert_caption(pool, cap, str(s.id), i)
    return token, iv["id"]


async def _timed(http: aiohttp.ClientSession, base: str, token: str, path: str) -> float:
    t = time.perf_counter()
    await _call(http, base, token, "GET", path)
    return (time.perf_counter() - t) * 1000


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p * (len(xs) - 1))))]


async def run(sizes: list[int], questions: int, repeat: int, database_url: str, redis_url: str, data: Path) -> None:
    await db.migrate(database_url)
    pool = await db.create_pool(database_url)
    redis = bus.connect(redis_url)
    cfg = replace(
        config.load(),
        data_dir=data,
        database_url=database_url,
        redis_url=redis_url,
        secret_key="bench",
        llm_provider="offline",
        register_per_ip_hour=0,
        smtp_host="",
    )
    runner = web.AppRunner(create_app(cfg, pool, redis, web_root=None, docs_root=None), access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    base = f"http://127.0.0.1:{port}"
    print(
        f"{'candidates':>10} {'answers':>8} | {'compare cold':>12} | {'compare p50/p95':>16} | {'list p50/p95':>13} | {'csv p50/p95':>13}"
    )
    try:
        async with aiohttp.ClientSession() as http:
            for n in sizes:
                token, iv = await _fill(pool, base, http, n, questions)
                cold = await _timed(http, base, token, f"/api/org/interviews/{iv}/compare")
                cmp = [await _timed(http, base, token, f"/api/org/interviews/{iv}/compare") for _ in range(repeat)]
                lst = [await _timed(http, base, token, f"/api/org/interviews/{iv}/candidates") for _ in range(repeat)]
                csv = [await _timed(http, base, token, f"/api/org/interviews/{iv}/export.csv") for _ in range(repeat)]
                print(
                    f"{n:>10} {n * questions:>8} | {cold:>10.0f}ms | {statistics.median(cmp):>6.0f}/{_pct(cmp, 0.95):<6.0f}ms |"
                    f" {statistics.median(lst):>5.0f}/{_pct(lst, 0.95):<5.0f}ms | {statistics.median(csv):>5.0f}/{_pct(csv, 0.95):<5.0f}ms",
                    flush=True,
                )
    finally:
        await runner.cleanup()
        await pool.close()
        await redis.aclose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--candidates", default="50,200")
    ap.add_argument("--questions", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=10)
    args = ap.parse_args()
    sizes = [int(x) for x in args.candidates.split(",")]
    os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")
    tmp = Path(tempfile.mkdtemp(prefix="ir-review-bench-"))
    pg, rd = EmbeddedPostgres(tmp / "postgres"), EmbeddedRedis(tmp / "redis")
    try:
        url, rurl = pg.start(), rd.start()
        asyncio.run(run(sizes, args.questions, args.repeat, url, rurl, tmp))
    finally:
        rd.stop()
        pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
