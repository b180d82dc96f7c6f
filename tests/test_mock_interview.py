"""Mock interviews end to end over real WebRTC: the interviewer speaks on the server's audio track,
questions advance on a pause, a follow-up, "repeat", "skip", a spoken "next question" and "end"
work, the report has every field with sane values, its PDF opens and renders, and the session
is in the history with its score and in the billing debits.

The first test runs the stack as started (no AI configured: questions from the question bank);
the second restarts the llm part against a local fake Chat Completions server and puts the
original back afterwards. The candidate's answers are the speech fixtures, played after each
question has been heard, as a person would.
"""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import time
import uuid
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from conftest import confirm_client
from pypdf import PdfReader

from ai_sidecar.llm.bank import default_bank
from ai_sidecar.mock import prompts as mock_prompts
from ai_sidecar.mock.commands import parse_command
from ai_sidecar.mock.extra_bank import MACHINE_CODING
from ai_sidecar.mock.planner import CATEGORIES, offline_plan
from ai_sidecar.mock.report import AnswerFacts, build_report
from ai_sidecar.mock.spec import MockSpec
from interview_room.messages import Caption
from interview_room.store.reports import MockState, PlannedQuestion
from loadtests.client import FIXTURES, ApiError, RoomClient, WavTrack
from media_server.tts import EspeakSynthesizer
from tests.fake_openai import FakeOpenAI, Reply, model_responder, user_data
from tests.test_llm_e2e import _wait_health

pytestmark = pytest.mark.whisper  # transcribes speech with the Whisper model (not in make test-fast)

TURN_TIMEOUT = 90.0
EMAIL = f"mock-{uuid.uuid4().hex[:8]}@example.com"
PASSWORD = "correct horse battery"
BREAKDOWN = ("technical_depth", "communication", "problem_solving", "structure", "time_management")


async def _user(base_url: str) -> RoomClient:
    """One user for the module: the second interview is compared with the first."""
    c = RoomClient(base_url)
    try:
        await c.register(EMAIL, PASSWORD, "Mock Candidate")
        await confirm_client(c)
    except ApiError:
        await c.login(EMAIL, PASSWORD)
    return c


async def _speech_wav(text: str, path: Path) -> Path:
    """The candidate saying ``text`` (espeak-ng), as a WAV file for the client's track."""
    synth = EspeakSynthesizer()
    try:
        pcm = await synth.synthesize(text, "en")
    finally:
        await synth.close()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(48000)
        w.writeframes(pcm.tobytes())
    return path


def _question(index: int, **match: Any) -> Any:
    def pred(e: dict[str, Any]) -> bool:
        return e["type"] == "mock.question" and e["index"] == index and all(e.get(k) == v for k, v in match.items())

    return pred


async def _next_turn(c: RoomClient, after: dict[str, Any]) -> dict[str, Any]:
    """The interviewer's next question event after ``after`` (a follow-up or a new question)."""
    return await c.wait_for(
        lambda e: e["type"] == "mock.question" and not e.get("repeat") and e["_rx"] > after["_rx"], TURN_TIMEOUT
    )


async def _heard(c: RoomClient, q: dict[str, Any]) -> int:
    """Wait until the interviewer has finished saying ``q``; returns the voiced frames heard so far."""
    await c.wait_remote_quiet(quiet=0.8, timeout=TURN_TIMEOUT, since=q["_rx"] - 0.5)
    return c.remote_voiced_frames


async def _report(c: RoomClient, sid: str, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            data: dict[str, Any] = await c.request("GET", f"/api/sessions/{sid}/report")
            return data
        except ApiError as e:
            if e.status != 409 or time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.5)


async def _pdf(c: RoomClient, sid: str, tmp_path: Path) -> str:
    """The PDF opens with pypdf and renders with pdftoppm; returns its text."""
    headers = {"Authorization": f"Bearer {c.token}"}
    async with c._session().get(f"{c.base_url}/api/sessions/{sid}/report.pdf", headers=headers) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("application/pdf")
        assert "attachment" in r.headers.get("Content-Disposition", "")
        body = await r.read()
    reader = PdfReader(io.BytesIO(body))
    assert len(reader.pages) >= 1
    text = "\n".join(p.extract_text() or "" for p in reader.pages)
    (tmp_path / "report.pdf").write_bytes(body)
    res = await asyncio.to_thread(
        subprocess.run,
        ["pdftoppm", "-r", "40", "-png", "-f", "1", "-l", "1", str(tmp_path / "report.pdf"), str(tmp_path / "page")],
        capture_output=True,
    )
    assert res.returncode == 0, res.stderr
    png = next(tmp_path.glob("page*.png"))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 1000
    return text


def _check_report(r: dict[str, Any], sid: str) -> None:
    """Every field, with values a person would accept."""
    assert r["session_id"] == sid
    assert isinstance(r["overall_score"], int) and 0 <= r["overall_score"] <= 100
    no_tech = {"technical_depth"} if r["interview"]["type"] == "behavioral" else set()  # nothing technical asked
    assert set(r["breakdown"]) == set(BREAKDOWN) - no_tech
    assert all(isinstance(v, int) and 0 <= v <= 100 for v in r["breakdown"].values())
    for key in ("strengths", "weaknesses", "recommendations"):
        assert r[key] and all(isinstance(x, str) and x.strip() for x in r[key]), key
    assert 5 <= r["questions_planned"] <= 7 and len(r["questions"]) == r["questions_planned"]
    for q in r["questions"]:
        assert {"index", "text", "status", "score", "went_well", "to_improve", "missing_key_points", "key_points", "delivery"} <= set(q)
        assert 0 <= q["score"] <= 100 and q["key_points"] and q["time_allocation_s"] > 0
        assert {"words", "talk_seconds", "words_per_minute", "filler_words"} <= set(q["delivery"])
    d = r["delivery"]
    assert {"words_per_minute", "filler_words", "fillers_per_100_words", "talk_seconds_total", "talk_time_per_answer"} <= set(d)
    assert isinstance(d["filler_words"], int) and d["filler_words"] >= 0
    answered = [q for q in r["questions"] if q["status"] == "answered"]
    assert len(d["talk_time_per_answer"]) == len(answered) >= 1
    assert all(a["seconds"] > 0 for a in d["talk_time_per_answer"])
    assert d["words_per_minute"] is not None and 60 <= d["words_per_minute"] <= 320
    prog = r["progress"]
    assert prog["history"] and prog["history"][-1]["current"] and prog["history"][-1]["overall_score"] == r["overall_score"]
    assert r["pdf_url"] == f"/api/sessions/{sid}/report.pdf"


async def _in_history(c: RoomClient, sid: str, report: dict[str, Any]) -> None:
    listing = await c.request("GET", "/api/sessions?limit=50")
    mine = next(s for s in listing["sessions"] if s["id"] == sid)
    assert mine["mode"] == "mock" and mine["status"] == "ended"
    assert mine["report_score"] == report["overall_score"] and mine["report_url"] == f"/api/sessions/{sid}/report"
    billing = await c.request("GET", "/api/billing")
    assert any(d["session_id"] == sid and d["seconds"] > 0 for d in billing["debits"])


@pytest.mark.parametrize(
    ("said", "action"),
    [
        ("Next question, please.", "next"),
        ("I'm done.", "next"),
        ("Okay, that's all.", "next"),
        ("Could you repeat the question?", "repeat"),
        ("Can we skip this one?", "skip"),
        ("Let's end the interview.", "end"),
        ("We skipped the cache and read from the database.", None),  # an answer that mentions skipping
        ("I don't know the next step here.", None),
    ],
)
def test_what_the_candidate_says_to_the_interviewer(said: str, action: str | None) -> None:
    assert parse_command(said) == (action, "" if action else said)
    # an answer that closes with "that's all" is kept as the answer and moves on
    long = "We moved the reads to a replica and the latency dropped by half. That's all."
    assert parse_command(long) == ("next", long)


@pytest.mark.parametrize("kind", ["behavioral", "frontend", "dsa", "system_design", "machine_coding", "custom"])
def test_offline_plan_fits_the_set_up(kind: str) -> None:
    spec = MockSpec.from_config({"type": kind, "difficulty": "hard", "duration_minutes": 30})
    plan = offline_plan(spec, "seed-1")
    assert len(plan) == spec.question_count == 6
    assert len({p.bank_id for p in plan}) == len(plan)
    assert all(p.key_points and p.follow_ups and p.time_allocation_s == 300 and p.source == "bank" for p in plan)
    if CATEGORIES[kind] is not None:
        assert {p.category for p in plan} <= set(CATEGORIES[kind])
    assert offline_plan(spec, "seed-1") == plan  # the same session gets the same plan after a restart
    others = offline_plan(spec, "seed-1", avoid=[p.bank_id for p in plan if p.bank_id])
    pool = [e for e in (*default_bank().entries, *MACHINE_CODING) if CATEGORIES[kind] is None or e.category in CATEGORIES[kind]]
    overlap = {p.bank_id for p in others} & {p.bank_id for p in plan}
    assert len(overlap) == max(0, 2 * len(plan) - len(pool))  # met recently: asked only when nothing else is left


def test_offline_plan_follows_the_focus_areas() -> None:
    spec = MockSpec.from_config({"type": "custom", "focus_areas": ["React", "CSS"], "requirements": "frontend role at a design agency", "duration_minutes": 10})
    plan = offline_plan(spec, "seed-2")
    assert len(plan) == 5
    text = " ".join(p.text for p in plan).lower()
    assert "react" in text and "css" in text


def test_report_numbers_follow_the_answers() -> None:
    def q(idx: int, status: str) -> PlannedQuestion:
        return PlannedQuestion(
            idx=idx, question_id=f"q{idx}", text=f"Question {idx}?", category="system_design",
            key_points=["use a cache", "set a time to live"], follow_ups=[], time_allocation_s=60, source="bank", status=status,
        )  # fmt: skip

    caps = [Caption(id="c1", role="candidate", t0=10.0, t1=40.0, text="I would use a cache and set a time to live. " * 8, lang="en")]
    rubric = {"relevance": 80, "completeness": 90, "structure": 70, "clarity": 60, "delivery": 100}
    facts = [
        AnswerFacts(q(1, "answered"), caps, {"score": 82, "rubric": rubric, "feedback": "Good."}),
        AnswerFacts(q(2, "skipped")),
        AnswerFacts(q(3, "pending")),
    ]
    state = MockState(session_id="s", user_id="u", mock_type="system_design", difficulty="medium", provider="offline", total=3, done_reason="ended_early")
    r = build_report(session_id="s", spec=MockSpec(type="system_design"), state=state, facts=facts, provider="offline")
    # averaged over the two questions asked; the skipped one counts zero
    assert r["breakdown"] == {"technical_depth": 43, "communication": 40, "problem_solving": 40, "structure": 35, "time_management": 50}
    # the one session score: the mean of the asked questions' scores (docs/scores.md)
    assert r["overall_score"] == round((82 + 0) / 2) == 41
    one, two, three = r["questions"]
    assert (one["status"], one["score"], one["missing_key_points"]) == ("answered", 82, [])
    assert (two["status"], two["score"], two["missing_key_points"]) == ("skipped", 0, two["key_points"])
    assert three["status"] == "pending" and (r["questions_asked"], r["questions_answered"]) == (2, 1)
    assert r["delivery"]["talk_time_per_answer"] == [{"index": 1, "seconds": 30.0, "words": 88}]
    assert r["delivery"]["words_per_minute"] == 176.0
    assert any("without an answer" in w for w in r["weaknesses"])


async def test_offline_mock_interview(stack: Any, tmp_path: Path) -> None:
    c = await _user(stack.base_url)
    try:
        s = await c.create_session(
            title="Offline mock",
            mode="mock",
            listen_language="en",
            answer_language="en",
            mock={"type": "behavioral", "difficulty": "medium", "focus_areas": [], "requirements": "", "duration_minutes": 10},
        )
        sid = s["id"]
        with pytest.raises(ApiError) as early:
            await c.request("GET", f"/api/sessions/{sid}/report")
        assert (early.value.status, early.value.code) == (409, "session_not_ended")

        track = WavTrack(None, lead_silence=0.2)
        await c.connect(sid, [("candidate", track)])
        q1 = await c.wait_for(_question(1), TURN_TIMEOUT)
        assert q1["total"] == 5 and not q1["follow_up"] and q1["text"] and q1["text"] in q1["speech"]
        assert q1["time_allocation_s"] == 120
        # the question is heard: the server's audio track carries speech, then goes quiet
        assert await _heard(c, q1) > 50  # over a second of non-silent 20 ms frames
        assert any(e["type"] == "notice" and e["code"] == "mock_offline" for e in c.received + c.seen)

        # an answer that names none of the key points (JFK's inaugural line covers no bank question's), then
        # silence: the interviewer follows up, once
        track.enqueue(FIXTURES / "jfk.wav", gap=0.3)
        follow = await _next_turn(c, q1)
        assert follow["index"] == 1 and follow["follow_up"] and follow["text"] != q1["text"], follow
        await _heard(c, follow)
        # the follow-up answered, then silence: the next question (no second follow-up)
        track.enqueue(FIXTURES / "c_billing_migration.wav", gap=0.3)
        track.enqueue(FIXTURES / "c_cache_latency.wav", gap=0.6)
        q2 = await _next_turn(c, follow)
        assert q2["index"] == 2 and not q2["follow_up"] and q2["question_id"] != q1["question_id"]
        score1 = await c.wait_for(lambda e: e["type"] == "score" and e["question_id"] == q1["question_id"], TURN_TIMEOUT)
        assert 0 <= score1["score"] <= 100
        await _heard(c, q2)

        # repeat: the same question again, said again
        voiced = c.remote_voiced_frames
        await c.send({"type": "mock", "action": "repeat"})
        again = await c.wait_for(_question(2, repeat=True), TURN_TIMEOUT)
        assert again["text"] == q2["text"]
        assert await _heard(c, again) > voiced + 25

        # skip by button; a bad action is refused and changes nothing
        await c.send({"type": "mock", "action": "dance"})
        err = await c.wait_for(lambda e: e["type"] == "error", TURN_TIMEOUT)
        assert err["code"] == "bad_message"
        await c.send({"type": "mock", "action": "skip"})
        q3 = await c.wait_for(_question(3), TURN_TIMEOUT)
        await _heard(c, q3)

        # "next question" said aloud moves on without an answer
        track.enqueue(await _speech_wav("Next question, please.", tmp_path / "next.wav"), gap=0.2)
        q4 = await c.wait_for(_question(4), TURN_TIMEOUT)
        await _heard(c, q4)

        # an answer, then "end": the interviewer says goodbye and the server ends the session
        track.enqueue(FIXTURES / "c_cache_latency.wav", gap=0.2)
        answer4 = await c.wait_for(
            lambda e: e["type"] == "caption" and e["role"] == "candidate" and e.get("final") and e["_rx"] > q4["_rx"], TURN_TIMEOUT
        )
        await c.send({"type": "mock", "action": "end"})
        done = await c.wait_for(lambda e: e["type"] == "mock.done", TURN_TIMEOUT)
        assert done["reason"] == "ended_early" and done["speech"]
        ended = await c.wait_for(lambda e: e["type"] == "session.ended", TURN_TIMEOUT)
        assert ended["reason"] == "mock_complete"

        r = await _report(c, sid)
        _check_report(r, sid)
        qs = {q["index"]: q for q in r["questions"]}
        assert [qs[i]["status"] for i in range(1, 6)] == ["answered", "skipped", "unanswered", "answered", "pending"]
        assert qs[1]["text"] == q1["text"] and qs[1]["score"] > 0 and qs[1]["answer"]
        assert qs[2]["score"] == 0 and qs[2]["missing_key_points"] == qs[2]["key_points"]
        assert qs[2]["repeats"] == 1
        assert answer4["text"] in qs[4]["answer"] and qs[4]["score"] > 0
        assert r["questions_asked"] == 4 and r["questions_answered"] == 2 and r["ended_reason"] == "ended_early"
        assert r["interview"]["type"] == "behavioral" and r["interview"]["questions_by"] == "offline"
        assert r["wording_by"] == "rules"

        text = await _pdf(c, sid, tmp_path)
        assert "Mock interview report" in text and q1["text"].split()[0] in text

        await _in_history(c, sid, r)
        detail = await c.get_session(sid)
        spoken = [t for t in detail["transcript"] if t["role"] == "interviewer"]
        assert any(q1["text"] in t["text"] for t in spoken)  # the interviewer's questions are in the transcript
        assert {q["id"] for q in detail["questions"]} >= {q1["question_id"], q2["question_id"]}
    finally:
        await c.close()


def _plan_reply(body: dict[str, Any]) -> Reply:
    data = user_data(body)
    focus = data["focus_areas"][0] if data["focus_areas"] else "caching"
    questions = [
        {
            "text": f"Question {i} about {focus}: how would you handle a cache that serves stale data?",
            "category": "system_design",
            "key_points": ["invalidate the cache on writes", "set a time to live", "measure the hit rate"],
            "time_allocation_seconds": 90,
            "follow_ups": ["What would you monitor to find stale reads?"],
        }
        for i in range(1, 6)
    ]
    return Reply(json.dumps({"questions": questions}))


def _report_reply(body: dict[str, Any]) -> Reply:
    data = user_data(body)
    notes = [
        {"index": q["index"], "went_well": ["You named the cache."], "to_improve": ["Say how you would invalidate it."], "missing_key_points": ["set a time to live"]}
        for q in data["questions"]
    ]
    return Reply(
        json.dumps(
            {
                "questions": notes,
                "strengths": ["You stayed calm and concrete."],
                "weaknesses": ["You rarely quantified results."],
                "recommendations": ["Practise explaining cache invalidation in two minutes.", "Quote one number per answer."],
            }
        )
    )


@pytest_asyncio.fixture
async def llm_on_fake_model(stack: Any) -> AsyncIterator[FakeOpenAI]:
    """The stack's llm part against a fake model that also answers the interviewer's prompts."""
    inner = model_responder()
    plan_prefix = mock_prompts.PLAN_SYSTEM.template.split("$", 1)[0][:40]
    report_prefix = mock_prompts.REPORT_SYSTEM.template.split("$", 1)[0][:40]

    def responder(body: dict[str, Any]) -> Reply:
        system = body["messages"][0]["content"]
        if system.startswith(plan_prefix):
            return _plan_reply(body)
        if system.startswith(report_prefix):
            return _report_reply(body)
        return inner(body)

    fake = FakeOpenAI(responder)
    await fake.start()
    port = stack.env["LLM_METRICS_PORT"]
    await asyncio.to_thread(stack.stop_part, "llm")
    try:
        stack.start_part("llm", OPENAI_API_KEY="test-key", OPENAI_BASE_URL=fake.base_url, LLM_MODEL="fake-mock")
        await _wait_health(port)
        yield fake
    finally:
        await asyncio.to_thread(stack.stop_part, "llm")
        stack.start_part("llm")
        await _wait_health(port)
        await fake.close()


async def test_mock_interview_with_a_model(stack: Any, llm_on_fake_model: FakeOpenAI, tmp_path: Path) -> None:
    fake = llm_on_fake_model
    c = await _user(stack.base_url)
    try:
        earlier = [s for s in (await c.request("GET", "/api/sessions?limit=50"))["sessions"] if s["report_score"] is not None]
        s = await c.create_session(
            title="Model mock",
            mode="mock",
            listen_language="en",
            answer_language="en",
            mock={"type": "behavioral", "difficulty": "hard", "focus_areas": ["caching"], "requirements": "Acme Corp, weak at ops", "duration_minutes": 25},
        )
        sid = s["id"]
        track = WavTrack(None, lead_silence=0.2)
        await c.connect(sid, [("candidate", track)])
        q1 = await c.wait_for(_question(1), TURN_TIMEOUT)
        assert q1["text"].startswith("Question 1 about caching") and q1["total"] == 5 and q1["time_allocation_s"] == 90
        assert await _heard(c, q1) > 50
        plan_req = next(r for r in fake.requests if r["messages"][0]["content"].startswith("You are an experienced interviewer"))
        assert "hard difficulty" in plan_req["messages"][0]["content"]
        assert user_data(plan_req)["requirements"] == "Acme Corp, weak at ops"

        # an answer that names none of the plan's key points: the model's follow-up; "I'm done" by button moves on
        track.enqueue(FIXTURES / "jfk.wav", gap=0.3)
        turn = await _next_turn(c, q1)
        assert turn["index"] == 1 and turn["follow_up"], turn
        assert turn["text"] == "What would you monitor to find stale reads?"
        await _heard(c, turn)
        await c.send({"type": "mock", "action": "next"})
        turn = await c.wait_for(_question(2), TURN_TIMEOUT)
        assert turn["index"] == 2 and not turn["follow_up"]
        await c.wait_for(lambda e: e["type"] == "score" and e["question_id"] == q1["question_id"], TURN_TIMEOUT)

        await c.send({"type": "mock", "action": "end"})
        await c.wait_for(lambda e: e["type"] == "session.ended", TURN_TIMEOUT)
        r = await _report(c, sid)
        _check_report(r, sid)
        assert r["interview"]["questions_by"] == "openai" and r["wording_by"] == "openai"
        assert r["strengths"] == ["You stayed calm and concrete."]
        assert r["questions"][0]["went_well"] == ["You named the cache."]
        assert r["questions"][0]["rubric"]["relevance"] == 81  # the model's score
        # question 2 was cut short by "end" before any answer: reported as such, and not in the score
        assert r["questions"][0]["status"] == "answered" and r["questions"][1]["status"] == "ended_early"
        assert r["overall_score"] == r["questions"][0]["score"]
        # compared with this user's earlier mock interviews of the same type
        assert r["progress"]["count"] == len(earlier) + 1
        if earlier:
            assert r["progress"]["previous_score"] == earlier[0]["report_score"]
        text = await _pdf(c, sid, tmp_path)
        assert "Progress" in text if earlier else "Mock interview report" in text
        await _in_history(c, sid, r)
    finally:
        await c.close()
