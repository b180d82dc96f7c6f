"""Time to first answer token and to answer.done, per question, through the real llm worker process.

    .venv/bin/python -m loadtests.llm_bench [--provider fake|offline|openai] [--sessions 1,5,20] [--questions 5]

Starts embedded Postgres + Redis (or uses DATABASE_URL / REDIS_URL), the llm worker as its own
process (``interview-room llm``), and for ``fake`` a local Chat Completions server that streams
every answer with a fixed first-token delay and per-token delay. Each simulated session pushes
final interviewer captions to ``llm:jobs`` exactly as the stt worker does (the caption's ``ts`` is
its publish time) and reads ``session:{id}:events``. A question's clock starts at that publish:
first token = the first ``answer.delta``, done = ``answer.done``. Sessions run concurrently;
each asks its questions one after another. ``openai`` uses OPENAI_API_KEY / OPENAI_BASE_URL /
LLM_MODEL from the environment (the only mode that leaves 127.0.0.1).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from interview_room import bus, db  # noqa: E402
from interview_room.embedded import EmbeddedPostgres, EmbeddedRedis, free_port  # noqa: E402
from interview_room.messages import Caption, LlmJob, parse_event  # noqa: E402
from tests.fake_openai import FakeOpenAI, model_responder  # noqa: E402

QUESTIONS = [
    "What is the difference between a process and a thread?",
    "Can you tell me about a time you had a conflict with a coworker and how you resolved it?",
    "How would you design a URL shortener?",
    "How does a hash map handle collisions?",
    "Why do you want to work at our company?",
    "What would you say is your greatest weakness as an engineer?",
]


# no question mark, so the worker waits for the pause (LLM_QUESTION_PAUSE_MS) and then asks the model
PAUSE_QUESTIONS = [
    "tell me about a time you had a conflict with a coworker",
    "walk me through how you would design a url shortener",
    "tell me how a hash map handles collisions",
    "walk me through the difference between a process and a thread",
]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))]


async def new_session(pool: asyncpg.Pool) -> str:
    uid, sid = uuid.uuid4(), uuid.uuid4()
    await pool.execute("INSERT INTO users (id, email) VALUES ($1, $2)", uid, f"bench-{uid}@example.test")
    await pool.execute(
        "INSERT INTO sessions (id, user_id, status, resume_text, hints) VALUES ($1, $2, 'live', $3, $4)",
        sid,
        uid,
        "Backend engineer, 6 years. Led the billing migration to Postgres. Python, Go, Redis.",
        "Senior backend role, payments team.",
    )
    return str(sid)


async def run_session(
    r: object, pool: asyncpg.Pool, n_questions: int, out: list[tuple[float, float]], questions: list[str] = QUESTIONS
) -> None:
    sid = await new_session(pool)
    stream = bus.events_stream(sid)
    last = "0"
    t = 0.0
    for i in range(n_questions):
        text = questions[i % len(questions)]
        cap = Caption(id=f"{sid}:interviewer:{i}", role="interviewer", t0=t, t1=t + 3.0, text=text, lang="en")
        t += 20.0
        wire = cap.to_wire()
        sent = wire["ts"]
        await r.xadd(bus.LLM_JOBS, LlmJob("caption", sid, wire).to_fields())  # type: ignore[attr-defined]
        first: float | None = None
        qid = f"q:{cap.id}"
        while True:
            res = await r.xread({stream: last}, block=1000, count=200)  # type: ignore[attr-defined]
            now = time.time()
            done = False
            for _, entries in res or []:
                for eid, fields in entries:
                    last = eid.decode()
                    ev = parse_event(fields[b"data"])
                    if ev.type == "answer.delta" and ev.question_id == qid and first is None:  # type: ignore[attr-defined]
                        first = now
                    elif ev.type == "answer.done" and ev.question_id == qid:  # type: ignore[attr-defined]
                        done = True
            if done:
                out.append(((first or now) - sent, now - sent))
                break


async def bench(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="llm-bench-"))
    pg = rd = None
    fake: FakeOpenAI | None = None
    proc: subprocess.Popen[bytes] | None = None
    try:
        db_url, redis_url = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
        if not db_url:
            pg = EmbeddedPostgres(tmp / "postgres")
            db_url = pg.start()
        if not redis_url:
            rd = EmbeddedRedis(tmp / "redis")
            redis_url = rd.start()
        await db.migrate(db_url)
        env = {**os.environ, "DATABASE_URL": db_url, "REDIS_URL": redis_url, "DATA_DIR": str(tmp)}
        env["LLM_METRICS_PORT"] = str(free_port())
        if args.provider == "fake":
            fake = FakeOpenAI(
                model_responder(
                    first_token_delay=args.first_token_delay,
                    token_delay=args.token_delay,
                    answer_tokens=args.answer_tokens,
                ),
            )
            await fake.start()
            env.update(OPENAI_API_KEY="bench", OPENAI_BASE_URL=fake.base_url, LLM_PROVIDER="openai", LLM_MODEL="fake")
        elif args.provider == "offline":
            env.update(OPENAI_API_KEY="", OPENAI_BASE_URL="", LLM_PROVIDER="offline")
        else:
            if not env.get("OPENAI_API_KEY"):
                sys.exit("--provider openai needs OPENAI_API_KEY")
            env["LLM_PROVIDER"] = "openai"
        log = open(tmp / "llm.log", "wb")  # noqa: SIM115 - kept for the process' life
        proc = subprocess.Popen([sys.executable, "-m", "interview_room.cli", "llm"], env=env, stdout=log, stderr=log)
        pool = await db.create_pool(db_url, max_size=20)
        r = bus.connect(redis_url)
        await bus.ensure_group(r, bus.LLM_JOBS, bus.LLM_GROUP)
        model = "" if args.provider == "offline" else f" model={env.get('LLM_MODEL', 'gpt-4o-mini')}"
        print(
            f"provider={args.provider}{model} style={args.style} llm_concurrency={env.get('LLM_CONCURRENCY', '64')}",
            end="",
        )
        if fake:
            print(
                f" first_token_delay={args.first_token_delay}s token_delay={args.token_delay}s answer_tokens={args.answer_tokens}",
                end="",
            )
        print(f" questions/session={args.questions}")
        print(
            f"{'sessions':>8} {'answers':>7} {'ttft_p50':>9} {'ttft_p95':>9} {'done_p50':>9} {'done_p95':>9} {'worker_cpu%':>11}"
        )
        warm: list[tuple[float, float]] = []
        await run_session(r, pool, 1, warm)  # worker start-up, connections, bank load
        for n in (int(x) for x in args.sessions.split(",")):
            res: list[tuple[float, float]] = []
            cpu0, wall0 = cpu_seconds(proc.pid), time.monotonic()
            qs = PAUSE_QUESTIONS if args.style == "pause" else QUESTIONS
            await asyncio.gather(*(run_session(r, pool, args.questions, res, qs) for _ in range(n)))
            cpu = 100 * (cpu_seconds(proc.pid) - cpu0) / (time.monotonic() - wall0)
            ttft = [a for a, _ in res]
            done = [b for _, b in res]
            print(
                f"{n:>8} {len(res):>7} {pct(ttft, 50):>9.3f} {pct(ttft, 95):>9.3f} {pct(done, 50):>9.3f} {pct(done, 95):>9.3f}"
                f" {cpu:>11.0f}   (mean ttft {statistics.fmean(ttft):.3f})"
            )
        await r.aclose()
        await pool.close()
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        if fake:
            await fake.close()
        if rd:
            rd.stop()
        if pg:
            pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--provider", choices=("fake", "offline", "openai"), default="fake")
    ap.add_argument("--sessions", default="1,5,20", help="concurrent sessions per round, comma-separated")
    ap.add_argument("--questions", type=int, default=5, help="questions per session, asked one after another")
    ap.add_argument(
        "--style",
        choices=("clear", "pause"),
        default="clear",
        help="clear: questions end with '?' (answered at once); pause: no punctuation (pause + model detection first)",
    )
    ap.add_argument("--first-token-delay", type=float, default=0.3, help="fake server: seconds before the first token")
    ap.add_argument("--token-delay", type=float, default=0.02, help="fake server: seconds between tokens")
    ap.add_argument("--answer-tokens", type=int, default=80, help="fake server: words per answer")
    asyncio.run(bench(ap.parse_args()))


if __name__ == "__main__":
    main()
