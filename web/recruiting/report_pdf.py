"""One candidate's review as a PDF for the hiring team: overall score, decision, each answer's score,
rubric, summary, delivery facts and transcript.

Reuses the mock report's fpdf2 page (fonts, Latin-1 fallback, score bars) so both PDFs look alike;
only the footer differs, because a recruiter's report must not call itself a mock interview.
"""

from __future__ import annotations

from typing import Any

from web.reports.report_pdf import MUTED, ReportPDF, duration_text, score_colour

RUBRIC_NAMES = {
    "relevance": "Relevance",
    "completeness": "Completeness",
    "structure": "Structure",
    "clarity": "Clarity",
    "delivery": "Delivery",
}


class CandidatePDF(ReportPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.font(8, color=MUTED)
        self.cell(0, 6, self.t(f"Interview Room - candidate report - page {self.page_no()}"), align="C")


def _score_box(pdf: CandidatePDF, score: float | None, label: str) -> None:
    y = pdf.get_y()
    pdf.set_fill_color(*(score_colour(score) if score is not None else (160, 160, 160)))
    pdf.rect(pdf.l_margin, y, 34, 24, style="F")
    pdf.set_xy(pdf.l_margin, y + 2)
    pdf.font(26, bold=True, color=(255, 255, 255))
    pdf.cell(34, 12, "-" if score is None else str(int(round(score))), align="C")
    pdf.set_xy(pdf.l_margin, y + 14)
    pdf.font(8, color=(255, 255, 255))
    pdf.cell(34, 6, label, align="C")
    pdf.set_xy(pdf.l_margin + 40, y)


def render(review: dict[str, Any]) -> bytes:
    """``review`` is the JSON of GET /api/org/candidates/{id}."""
    c, iv = review["candidate"], review["interview"]
    who = c.get("name") or c.get("email") or "Candidate"
    pdf = CandidatePDF()
    pdf.set_title(pdf.t(f"{who} - {iv['title']}"))
    pdf.set_author("Interview Room")
    pdf.add_page()
    pdf.font(20, bold=True)
    pdf.multi_cell(0, 10, pdf.t(who), new_x="LMARGIN", new_y="NEXT")
    facts = [iv["title"], c.get("email") or "", f"status: {c.get('status', '')}"]
    if c.get("completed_at"):
        facts.append(f"completed {str(c['completed_at'])[:10]}")
    pdf.para(" | ".join(f for f in facts if f), size=10, color=MUTED)
    pdf.ln(3)
    y = pdf.get_y()
    _score_box(pdf, review.get("overall_score"), "overall / 100")
    answered = sum(1 for a in review["answers"] if a.get("answered"))
    decision = c.get("decision")
    pdf.font(10, color=MUTED)
    pdf.multi_cell(
        0,
        5,
        pdf.t(
            f"{answered} of {len(review['answers'])} questions answered.\n"
            f"Decision: {decision or 'not decided yet'}."
            + (f"\nNote: {c['decision_note']}" if c.get("decision_note") else "")
        ),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.set_y(max(pdf.get_y(), y + 28))

    for a in review["answers"]:
        pdf.heading(f"Q{a['index'] + 1}. {a['question']}")
        s = a.get("score")
        if not a.get("answered"):
            pdf.para("Not answered.", size=10, color=MUTED)
            continue
        if s is None:
            pdf.para("Nothing was said in this answer, so it has no score.", size=10, color=MUTED)
        elif s.get("score") is None:
            pdf.para("This answer is still being scored.", size=10, color=MUTED)
        else:
            pdf.para(f"Score {s['score']} / 100 (attempt {a.get('attempt', 1)})", size=10.5, bold=True)
            for key, value in (s.get("rubric") or {}).items():
                pdf.bar(RUBRIC_NAMES.get(key, key.replace("_", " ").title()), float(value))
            if s.get("summary"):
                pdf.para(s["summary"], size=9.5)
            d = s.get("delivery") or {}
            wpm = d.get("words_per_minute")
            pdf.bullets(
                [
                    f"Words: {d.get('word_count', 0)}; talk time {duration_text(d.get('talk_seconds', 0))}",
                    f"Pace: {wpm:.0f} words per minute"
                    if isinstance(wpm, int | float)
                    else "Pace: too short to measure",
                    f"Filler words: {d.get('filler_words', 0)}; long pauses: {d.get('long_pauses', 0)}",
                ]
            )
        text = " ".join(t["text"] for t in a.get("transcript") or [])
        if text:
            pdf.para("Transcript", size=9.5, bold=True)
            pdf.para(text, size=9.5, color=MUTED)
    return bytes(pdf.output())
