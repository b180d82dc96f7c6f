"""Recorded interviews in a real browser (issue 8): the recruiter's pages and the candidate's link page.

Debian's Chromium (headless, driven by Playwright) registers a recruiter, creates the organisation and
an interview with two questions in recruit/, invites a candidate and reads the link from the page. A
second browser context with no login opens that link; its fake microphone plays a recorded answer
(each recording opens the microphone anew, so the file starts again), and the candidate consents,
answers both questions over WebRTC and sees the thank-you page. The recruiter then reviews: captions
from the answer's captions.vtt, a score per answer, the decision and the PDF report. Screenshots go to
test-artifacts/.

Network: the browser resolves no name (host-resolver-rules) and the stack offers 127.0.0.1 only.
The tests run in file order and share the two browser contexts, like the two people would.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from browser_helpers import PHONE, chromium, confirm_registration, page_a11y_problems, speech_wav, word_recall
from conftest import FIXTURES, ROOT, Stack
from playwright.sync_api import Browser, BrowserContext, Page
from pypdf import PdfReader

SPOKEN = "c_billing_migration.wav"
REFERENCE = json.loads((FIXTURES / "references.json").read_text())[SPOKEN]["text"]
LEAD_SILENCE_S = 10.0  # the file starts when the microphone opens; the offer may wait for ICE gathering
ARTIFACTS = ROOT / "test-artifacts"
DESKTOP = {"width": 1280, "height": 900}
CANDIDATE_NAME = "Dana Candidate"
QUESTIONS = ["Tell us about a migration you led.", "What did you learn from it?"]

# Whisper runs on two shared cores: generous but bounded waits (seconds).
CONNECT_S = 90
CAPTION_S = 300


@dataclass
class People:
    stack: Stack
    recruiter: Page
    candidate: Page
    errors: list[str] = field(default_factory=list)
    link: str = ""
    interview_id: str = ""
    candidate_id: str = ""

    def diagnose(self, page: Page, what: str) -> str:
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / f"failure-recruiting-{re.sub(r'[^a-z0-9]+', '-', what.lower())[:50]}.png"
        try:
            page.screenshot(path=str(shot), full_page=True)
            state = page.evaluate(
                """() => ({
                  url: location.href,
                  phase: document.querySelector('#question')?.dataset.phase,
                  status: document.querySelector('#status')?.textContent,
                  error: document.querySelector('#error')?.textContent,
                  heard: window.candidatePage?.captions,
                  errors: [...document.querySelectorAll('.form-error, .banner')].map((n) => n.textContent.trim()).filter(Boolean),
                })"""
            )
        except Exception as e:  # noqa: BLE001 - diagnostics must not hide the real failure
            state = {"page": repr(e)}
        logs = "\n".join(
            f"--- {name}.log (tail) ---\n" + "\n".join(self.stack.log_of(name).splitlines()[-25:])
            for name in ("signaling", "media", "stt", "llm")
        )
        return f"{what}\npage: {json.dumps(state, indent=1)}\nscreenshot: {shot}\npage errors: {self.errors}\n{logs}"

    def wait(self, page: Page, what: str, probe: Callable[[], Any], timeout_s: float, every_ms: int = 500) -> Any:
        for _ in range(int(timeout_s * 1000 / every_ms)):
            got = probe()
            if got:
                return got
            page.wait_for_timeout(every_ms)
        got = probe()
        assert got, self.diagnose(page, f"timed out after {timeout_s:.0f} s waiting for {what}")
        return got


def _shoot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.evaluate("() => window.scrollTo(0, 0)")
    page.wait_for_timeout(200)
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000, f"{path} looks empty"
    return path


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    mic = speech_wav(
        FIXTURES / SPOKEN, tmp_path_factory.mktemp("mic") / "answer.wav", lead_s=LEAD_SILENCE_S, trail_s=8.0
    )
    with chromium(mic) as b:
        yield b


@pytest.fixture(scope="module")
def people(stack: Stack, browser: Browser) -> Iterator[People]:
    contexts: list[BrowserContext] = [
        browser.new_context(viewport=DESKTOP, base_url=stack.base_url) for _ in ("recruiter", "candidate")
    ]
    rec, cand = (c.new_page() for c in contexts)
    ppl = People(stack, rec, cand)
    for page in (rec, cand):
        page.set_default_timeout(60_000)
        page.on("pageerror", lambda e, page=page: ppl.errors.append(f"{page.url}: {e}"))
    try:
        yield ppl
    finally:
        for c in contexts:
            c.close()
        logs = ARTIFACTS / "recruiting-browser-logs"
        logs.mkdir(parents=True, exist_ok=True)
        for name in ("signaling", "media", "stt", "llm"):
            (logs / f"{name}.log").write_text(stack.log_of(name))


# ------------------------------------------------------------------------------------------ recruiter


def test_recruiter_creates_interview_and_invites(people: People) -> None:
    page = people.recruiter
    page.goto("/index.html#register")
    page.fill("#reg-name", "Rita Recruiter")
    email = f"recruiter-{uuid.uuid4().hex[:10]}@example.com"
    page.fill("#reg-email", email)
    page.fill("#reg-password", "correct horse battery staple")
    page.click("[data-testid=register-submit]")
    confirm_registration(page, people.stack.email_code(email))
    page.wait_for_url("**/sessions.html*")

    page.click("#site-nav a[data-nav=recruiting]")  # the shared nav leads to the recruiter pages
    page.wait_for_url("**/recruit/index.html")
    page.wait_for_selector("#org-setup:not([hidden])")
    page.fill("#org-name", "Acme Hiring")
    page.click("#org-create")
    page.wait_for_selector("#dashboard:not([hidden])")
    assert page.text_content("#org-title") == "Acme Hiring"
    # the dashboard shows before its lists load: wait for the empty state rather than race the fetch
    page.wait_for_selector("#interviews-empty:not([hidden])")

    page.click("#new-interview")
    page.wait_for_url("**/recruit/interview.html")
    page.fill("#iv-title", "Platform engineer")
    page.fill("#iv-jd", "- Led database migrations\n- Moved billing systems without downtime")
    page.fill("#iv-company", "Acme Corp")
    page.fill("#iv-intro", "Two short questions about your work.")
    first = page.locator(".q-item").nth(0)
    first.locator(".q-text").fill(QUESTIONS[1])  # typed in the wrong order, then reordered
    page.click("#add-question")
    second = page.locator(".q-item").nth(1)
    second.locator(".q-text").fill(QUESTIONS[0])
    second.locator(".q-up").click()
    for item in (page.locator(".q-item").nth(0), page.locator(".q-item").nth(1)):
        item.locator(".q-think").fill("2")
        item.locator(".q-answer").fill("300")
        item.locator(".q-retakes").fill("1")
    page.click("#iv-save")
    page.wait_for_url("**/recruit/interview.html?id=*")
    page.wait_for_function("() => document.querySelector('#save-msg').textContent === 'Saved.'")
    people.interview_id = page.url.split("id=", 1)[1]
    texts = page.locator(".q-item .q-text").evaluate_all("(ns) => ns.map((n) => n.value)")
    assert texts == QUESTIONS

    page.click("#candidates-link")
    page.wait_for_selector("#view:not([hidden])")
    page.fill("#c-name", CANDIDATE_NAME)
    page.uncheck("#c-send")
    page.click("#invite-btn")
    page.wait_for_selector("#invite-result:not([hidden])")
    people.link = page.input_value("#invite-link")
    assert re.match(rf"^{re.escape(people.stack.base_url)}/c\.html#[\w-]{{20,}}$", people.link), people.link
    # the table reloads after the invitation: wait for the new row rather than race that fetch
    page.wait_for_selector("#candidate-table .candidate-row[data-status=invited]")
    row = page.locator("#candidate-table .candidate-row")
    assert row.count() == 1 and row.get_attribute("data-status") == "invited"
    people.candidate_id = row.get_attribute("data-id") or ""

    page.goto("/recruit/index.html")
    page.wait_for_selector(f"#interview-list .interview-item[data-id='{people.interview_id}']")
    _shoot(page, "recruiting-dashboard")
    assert not people.errors, people.errors


def test_revoked_link_shows_a_clear_page(people: People) -> None:
    rec = people.recruiter
    rec.goto(f"/recruit/candidates.html?id={people.interview_id}")
    rec.wait_for_selector("#view:not([hidden])")
    rec.fill("#c-name", "Withdrawn Person")
    rec.click("#invite-btn")
    rec.wait_for_selector("#invite-result:not([hidden])")
    link = rec.input_value("#invite-link")
    row = rec.locator("#candidate-table .candidate-row", has_text="Withdrawn Person")
    row.locator(".revoke-btn").click()
    rec.wait_for_selector("#candidate-table .candidate-row[data-status=revoked]")

    page = people.candidate
    page.goto(link)
    page.wait_for_selector("#gone:not([hidden])")
    assert page.get_attribute("#gone", "data-code") == "link_revoked"
    assert "withdrawn" in (page.text_content("#gone-text") or "")
    page.goto(f"{people.stack.base_url}/c.html#not-a-real-token")
    page.wait_for_selector("#gone:not([hidden])")
    assert "not valid" in (page.text_content("#gone-text") or "")


# ------------------------------------------------------------------------------------------ candidate


def _answer(people: People, index: int) -> None:
    page = people.candidate
    page.wait_for_selector(f"#question[data-index='{index}']")
    assert page.text_content("#q-text") == QUESTIONS[index]
    people.wait(
        page,
        f"recording of answer {index + 1}",
        lambda: page.get_attribute("#question", "data-phase") == "recording",
        CONNECT_S,
    )
    if index == 0:
        _shoot(page, "recruiting-candidate-recording")

    def heard() -> str:
        caps = page.evaluate("(i) => window.candidatePage.captions.filter((c) => c.question === i)", index)
        text = " ".join(c["text"] for c in caps)
        return text if word_recall(REFERENCE, text) >= 0.6 else ""

    people.wait(page, f"the captions of answer {index + 1}", heard, CAPTION_S)
    page.click("#stop-btn")
    page.wait_for_selector("#question[data-phase=saved]")
    assert page.get_attribute("#progress", "value") == str(index + 1)


def test_candidate_answers_both_questions(people: People) -> None:
    page = people.candidate
    page.goto(people.link)
    page.wait_for_selector("#intro:not([hidden])")
    assert page.text_content("#title") == "Platform engineer"
    assert "Acme Corp" in (page.text_content("#company") or "")
    assert page.is_disabled("#consent-btn")
    page.check("#consent-box")
    page.click("#consent-btn")
    page.wait_for_selector("#check:not([hidden])")
    page.wait_for_selector("#check-ok:not([disabled])")
    _shoot(page, "recruiting-candidate-check")
    page.click("#check-ok")

    _answer(people, 0)
    assert page.is_visible("#retake-btn")  # one retake allowed
    page.click("#next-btn")
    _answer(people, 1)
    assert page.text_content("#next-btn") == "Finish interview"
    page.click("#next-btn")
    page.wait_for_selector("#thanks:not([hidden])")
    _shoot(page, "recruiting-candidate-thanks")

    page.reload()  # the same link later: finished, nothing to answer again
    page.wait_for_selector("#thanks:not([hidden])")
    assert not people.errors, people.errors


# ------------------------------------------------------------------------------------------ review


def test_recruiter_reviews_answers(people: People) -> None:
    page = people.recruiter
    page.goto(f"/recruit/candidates.html?id={people.interview_id}")
    page.wait_for_selector(f"#candidate-table .candidate-row[data-id='{people.candidate_id}'][data-status=completed]")
    page.wait_for_selector(f"#compare tr[data-id='{people.candidate_id}'] .score-badge[data-score]")
    page.locator(f"#candidate-table .candidate-row[data-id='{people.candidate_id}'] .review-link").click()
    page.wait_for_url("**/recruit/review.html?id=*")
    page.wait_for_selector("#view:not([hidden])")
    assert page.text_content("#c-name") == CANDIDATE_NAME

    cards = page.locator(".answer-card")
    assert cards.count() == 2
    for i in range(2):
        card = cards.nth(i)
        people.wait(
            page, f"the captions track of answer {i + 1}", lambda card=card: card.get_attribute("data-cues"), 30
        )
        cues = " ".join(card.locator(".vtt-cue").all_text_contents())
        assert word_recall(REFERENCE, cues) >= 0.6, cues
        transcript = card.locator(".transcript-text").text_content() or ""
        assert word_recall(REFERENCE, transcript) >= 0.6, transcript
        score = card.locator("h3 .score-badge").get_attribute("data-score")
        assert score is not None and 0 <= int(score) <= 100
        assert card.locator(".rubric meter").count() == 5
        assert card.locator(".score-summary").text_content()
        # Chromium's fake camera was on for every answer (RECORD_VIDEO=answers): a <video> with the captions track
        assert card.get_attribute("data-media") == "video"
        assert card.locator("video.player track[kind=captions]").count() == 1
        provider = card.locator(".score-provider")
        assert provider.get_attribute("data-provider") in ("offline", "openai")
        assert "Scored by" in (provider.text_content() or "")
    # the recording plays from the HttpOnly cookie alone
    duration = page.evaluate(
        """() => new Promise((ok) => {
          const a = document.querySelector('.answer-card .player');
          if (a.readyState >= 1) ok(a.duration); else a.addEventListener('loadedmetadata', () => ok(a.duration));
          setTimeout(() => ok(null), 20000);
        })"""
    )
    assert duration, "the answer's recording did not load"

    assert page.evaluate("() => document.querySelector('.answer-card .player').tagName") == "VIDEO"
    size = page.evaluate(
        "() => { const v = document.querySelector('.answer-card video'); return [v.videoWidth, v.videoHeight]; }"
    )
    assert size[0] > 0 and size[1] > 0, f"the answer's video has no picture: {size}"

    page.set_viewport_size(PHONE)  # the review with its players, at phone width
    try:
        page.wait_for_timeout(300)
        problems = page_a11y_problems(page, "review with answers")
        assert not problems, "\n".join(problems)
    finally:
        page.set_viewport_size(DESKTOP)

    page.check("#d-pass")
    page.fill("#d-note", "Clear story about the billing migration.")
    page.click("#decision-save")
    page.wait_for_function("() => document.querySelector('#decision-msg').textContent === 'Saved.'")
    _shoot(page, "recruiting-review")

    res = page.request.get(page.get_attribute("#report-pdf", "href") or "")
    assert res.status == 200 and res.headers["content-type"].startswith("application/pdf")
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(res.body())).pages)
    assert CANDIDATE_NAME in text and "Decision: pass" in text
    scores = cards.locator("h3 .score-badge").evaluate_all("(ns) => ns.map((n) => n.dataset.score)")
    for s in scores:
        assert f"Score {s} / 100" in text, (s, text[:500])
    assert not people.errors, people.errors


def test_template_library_and_csv_upload(people: People, tmp_path: Path) -> None:
    page = people.recruiter
    page.goto(f"/recruit/interview.html?id={people.interview_id}")
    page.wait_for_function("() => document.querySelector('#iv-title').value === 'Platform engineer'")
    page.check("#iv-template")
    page.click("#iv-save")
    page.wait_for_function("() => document.querySelector('#save-msg').textContent === 'Saved.'")
    page.goto("/recruit/index.html")
    page.locator(f"#template-list .template-item[data-id='{people.interview_id}'] .clone-btn").click()
    page.wait_for_url("**/recruit/interview.html?id=*&cloned=1")
    page.wait_for_function("() => document.querySelectorAll('.q-item').length === 2")
    assert page.locator(".q-item .q-text").evaluate_all("(ns) => ns.map((n) => n.value)") == QUESTIONS
    assert not page.is_checked("#iv-template")  # the copy is an ordinary interview

    csv = tmp_path / "candidates.csv"
    csv.write_text("name,email\nAda,ada@example.com\nBad,not-an-address\n")
    page.click("#candidates-link")
    page.wait_for_selector("#view:not([hidden])")
    page.set_input_files("#csv-file", str(csv))
    page.click("#csv-btn")
    page.wait_for_function("() => document.querySelector('#csv-result').textContent.includes('invited')")
    assert page.text_content("#csv-result") == "1 invited, 1 skipped."
    assert page.locator("#candidate-table .candidate-row").count() == 1
    assert not people.errors, people.errors
