"""A recorded interview end to end over real WebRTC: the recruiter creates it, a candidate answers two
questions by speaking recorded fixtures through the link, the recruiter reviews captions and scores.

Runs against the whole stack (signaling, media node, stt and llm workers as processes); the candidate
is an aiortc peer (loadtests/client.py) offering 127.0.0.1 only.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from browser_helpers import word_recall
from conftest import FIXTURES, Stack, confirm_client

from loadtests.client import RoomClient, WavTrack

pytestmark = pytest.mark.whisper  # transcribes speech with the Whisper model (not in make test-fast)

ANSWERS = ["c_billing_migration.wav", "c_cache_latency.wav"]
REFERENCES = json.loads((FIXTURES / "references.json").read_text())


class CandidateClient(RoomClient):
    """The room client speaking to /api/c/* with the link's token in its header: offers go to the answer
    of question ``n``."""

    def __init__(self, base_url: str, link_token: str) -> None:
        super().__init__(base_url)
        self.headers["X-Candidate-Token"] = link_token
        self.question = 0

    async def request(self, method: str, path: str, json_body: Any = None) -> Any:
        if path.startswith("/api/sessions/") and path.endswith("/offer"):
            path = f"/api/c/answers/{self.question}/offer"
        return await super().request(method, path, json_body)


async def test_candidate_answers_two_questions_and_recruiter_reviews(stack: Stack) -> None:
    rec = RoomClient(stack.base_url)
    await rec.register(f"rec-{uuid.uuid4().hex[:8]}@example.com", "correct horse battery", "Recruiter")
    await confirm_client(rec)
    await rec.request("POST", "/api/org", {"name": "E2E Org"})
    iv = await rec.request(
        "POST",
        "/api/org/interviews",
        {
            "title": "Platform engineer",
            "job_description": "- Led database migrations\n- Reduced page load time with caching",
            "questions": ["Tell us about a migration you led.", "How did you improve performance?"],
        },
    )
    inv = await rec.request("POST", f"/api/org/interviews/{iv['id']}/candidates", {"name": "Dana"})
    token = inv["link"].split("#", 1)[1]
    cand = CandidateClient(stack.base_url, token)
    try:
        await cand.request("POST", "/api/c/consent")
        for n, wav in enumerate(ANSWERS):
            started = await cand.request("POST", f"/api/c/answers/{n}/start")
            peer = CandidateClient(stack.base_url, token)
            peer.question = n
            try:
                await peer.connect(started["session_id"], [("interviewer", WavTrack([FIXTURES / wav]))])
                ev = await peer.wait_for(lambda e: e["type"] == "caption" and e["final"], timeout=180)
                assert ev["role"] == "candidate"  # whatever the client claims, the link speaks as the candidate
                await peer.wait_played(timeout=60)
            finally:
                await peer.close()
            await cand.request("POST", f"/api/c/answers/{n}/finish")
        done = await cand.request("POST", "/api/c/complete")
        assert done["candidate"]["status"] == "completed"

        review = await rec.request("GET", f"/api/org/candidates/{inv['candidate']['id']}")
        assert [a["answered"] for a in review["answers"]] == [True, True]
        for a, wav in zip(review["answers"], ANSWERS, strict=True):
            heard = " ".join(t["text"] for t in a["transcript"])
            assert word_recall(REFERENCES[wav]["text"], heard) >= 0.6, heard
            assert 0 <= a["score"]["score"] <= 100 and set(a["score"]["rubric"]) >= {"relevance", "delivery"}
            assert a["score"]["delivery"]["word_count"] > 5 and a["score"]["summary"]
            http = rec._session()
            headers = {"Authorization": f"Bearer {rec.token}"}
            async with http.get(stack.base_url + a["recording_url"], headers=headers) as r:
                assert r.status == 200 and len(await r.read()) > 1000
            async with http.get(stack.base_url + a["captions_url"], headers=headers) as r:
                vtt = await r.text()
                assert r.status == 200 and vtt.startswith("WEBVTT") and "-->" in vtt
        # the answers are billed to the owner but are not sessions of the owner's own history
        history = await rec.request("GET", "/api/sessions")
        assert all(x["mode"] != "recorded_answer" for x in history["sessions"])
        # the candidate's link never reads the review
        async with cand._session().get(f"{stack.base_url}/api/org/candidates/{inv['candidate']['id']}") as r:
            assert r.status == 401
    finally:
        await cand.close()
        await rec.close()
