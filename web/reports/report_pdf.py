"""The mock interview report as a PDF (fpdf2, pure Python): scores, progress chart, per-question notes.

Why charts drawn with lines and rectangles: no plotting library, no images, a few kilobytes. The
text uses DejaVu Sans when the system has it (any language); otherwise the PDF core font with
the text folded to Latin-1, so a report never fails to render over one character.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Any

from fpdf import FPDF

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"), Path("/usr/local/share/fonts"))
DIMENSIONS = (
    ("technical_depth", "Technical depth"),
    ("communication", "Communication"),
    ("problem_solving", "Problem solving"),
    ("structure", "Structure"),
    ("time_management", "Time management"),
)
STATUS_NAMES = {
    "answered": "answered",
    "skipped": "skipped",
    "unanswered": "no answer",
    "ended_early": "cut short: the interview was ended before an answer",
}
_FOLD = {"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-", "…": "...", "•": "-", "→": "->", "≥": ">=", "≤": "<="}
INK = (33, 37, 41)
MUTED = (108, 117, 125)
ACCENT = (13, 110, 253)
TRACK = (226, 232, 240)


def score_colour(score: float) -> tuple[int, int, int]:
    """The fill colour of a 0–100 score: green from 75, amber from 50, else red."""
    if score >= 75:
        return (25, 135, 84)
    if score >= 50:
        return (214, 140, 0)
    return (200, 35, 51)


class ReportPDF(FPDF):
    def __init__(self) -> None:
        super().__init__(format="A4")
        self.set_margins(18, 16, 18)
        self.set_auto_page_break(True, margin=16)
        self.unicode = False
        for d in FONT_DIRS:
            regular, bold = d / "DejaVuSans.ttf", d / "DejaVuSans-Bold.ttf"
            if regular.is_file() and bold.is_file():
                self.add_font("Body", "", str(regular))
                self.add_font("Body", "B", str(bold))
                self.unicode = True
                break
        self.family = "Body" if self.unicode else "Helvetica"

    def t(self, text: Any) -> str:
        s = str(text if text is not None else "")
        if self.unicode:
            return s
        s = "".join(_FOLD.get(ch, ch) for ch in s)
        s = unicodedata.normalize("NFKD", s)
        return s.encode("latin-1", "replace").decode("latin-1")

    def font(self, size: float, bold: bool = False, color: tuple[int, int, int] = INK) -> None:
        self.set_font(self.family, "B" if bold else "", size)
        self.set_text_color(*color)

    def footer(self) -> None:
        self.set_y(-12)
        self.font(8, color=MUTED)
        self.cell(0, 6, self.t(f"Interview Room - mock interview report - page {self.page_no()}"), align="C")

    def heading(self, text: str) -> None:
        self.ln(3)
        self.font(13, bold=True)
        self.cell(0, 8, self.t(text), new_x="LMARGIN", new_y="NEXT")

    def para(self, text: str, size: float = 10, color: tuple[int, int, int] = INK, bold: bool = False) -> None:
        self.font(size, bold=bold, color=color)
        self.multi_cell(0, size * 0.5, self.t(text), new_x="LMARGIN", new_y="NEXT")

    def bullets(self, items: list[Any]) -> None:
        self.font(10)
        for item in items:
            self.set_x(self.l_margin + 2)
            self.multi_cell(0, 5, self.t(f"- {item}"), new_x="LMARGIN", new_y="NEXT")

    def bar(self, label: str, value: float, width: float = 100) -> None:
        y = self.get_y()
        self.font(10)
        self.cell(48, 6, self.t(label))
        x = self.get_x()
        self.set_fill_color(*TRACK)
        self.rect(x, y + 1.5, width, 3.5, style="F")
        self.set_fill_color(*score_colour(value))
        self.rect(x, y + 1.5, width * max(0.0, min(100.0, value)) / 100, 3.5, style="F")
        self.set_x(x + width + 3)
        self.cell(12, 6, str(int(round(value))), new_x="LMARGIN", new_y="NEXT")

    def progress_chart(self, points: list[dict[str, Any]], height: float = 42) -> None:
        """Overall scores of the user's mock interviews of this type, oldest to newest; this one marked."""
        x0, w = self.l_margin + 10, self.w - self.l_margin - self.r_margin - 14
        if self.get_y() + height + 14 > self.h - self.b_margin:
            self.add_page()
        y0 = self.get_y() + 2
        self.set_draw_color(*TRACK)
        self.font(7, color=MUTED)
        for v in (0, 25, 50, 75, 100):
            y = y0 + height - height * v / 100
            self.line(x0, y, x0 + w, y)
            self.set_xy(x0 - 9, y - 2)
            self.cell(8, 4, str(v), align="R")
        n = len(points)
        coords = []
        for i, p in enumerate(points):
            x = x0 + (w / 2 if n == 1 else w * i / (n - 1))
            y = y0 + height - height * max(0, min(100, float(p["overall_score"]))) / 100
            coords.append((x, y))
        self.set_draw_color(*ACCENT)
        self.set_line_width(0.6)
        for (xa, ya), (xb, yb) in zip(coords, coords[1:], strict=False):
            self.line(xa, ya, xb, yb)
        self.set_line_width(0.2)
        for (x, y), p in zip(coords, points, strict=True):
            current = bool(p.get("current"))
            self.set_fill_color(*(score_colour(float(p["overall_score"])) if current else ACCENT))
            r = 1.8 if current else 1.2
            self.rect(x - r, y - r, 2 * r, 2 * r, style="F")
            self.font(7, bold=current, color=INK if current else MUTED)
            self.set_xy(x - 10, y0 + height + 1)
            self.cell(20, 4, self.t(_short_date(p.get("date"))), align="C")
            self.set_xy(x - 6, y - 6)
            self.cell(12, 4, str(int(p["overall_score"])), align="C")
        self.set_draw_color(0, 0, 0)
        self.set_xy(self.l_margin, y0 + height + 7)


def _short_date(value: Any) -> str:
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).strftime("%d %b")
        except ValueError:
            return value[:10]
    return ""


def duration_text(seconds: Any) -> str:
    """"4 min 05 s" or "42 s"; "-" for no number."""
    try:
        s = int(round(float(seconds)))
    except (TypeError, ValueError):
        return "-"
    return f"{s // 60} min {s % 60:02d} s" if s >= 60 else f"{s} s"


def render(report: dict[str, Any], *, title: str = "Mock interview") -> bytes:
    pdf = ReportPDF()
    pdf.set_title(pdf.t(f"{title} - report"))
    pdf.set_author("Interview Room")
    pdf.add_page()
    iv = report.get("interview") or {}
    session = report.get("session") or {}

    pdf.font(20, bold=True)
    pdf.cell(0, 10, pdf.t("Mock interview report"), new_x="LMARGIN", new_y="NEXT")
    facts = [
        title,
        f"{iv.get('type_name') or iv.get('type', '')} interview, {iv.get('difficulty', '')} difficulty",
        f"Held {_short_date(session.get('started_at') or session.get('created_at'))}, {duration_text(session.get('duration_seconds'))}",
    ]
    pdf.para(" | ".join(f for f in facts if f), size=10, color=MUTED)
    if iv.get("focus_areas"):
        pdf.para("Focus areas: " + ", ".join(iv["focus_areas"]), size=9, color=MUTED)

    score = float(report.get("overall_score") or 0)
    pdf.ln(3)
    y = pdf.get_y()
    pdf.set_fill_color(*score_colour(score))
    pdf.rect(pdf.l_margin, y, 34, 24, style="F")
    pdf.set_xy(pdf.l_margin, y + 2)
    pdf.font(26, bold=True, color=(255, 255, 255))
    pdf.cell(34, 12, str(int(round(score))), align="C")
    pdf.set_xy(pdf.l_margin, y + 14)
    pdf.font(8, color=(255, 255, 255))
    pdf.cell(34, 6, "score / 100", align="C")
    pdf.set_xy(pdf.l_margin + 40, y)
    pdf.font(10, color=MUTED)
    asked, answered = report.get("questions_asked", 0), report.get("questions_answered", 0)
    pdf.multi_cell(
        0,
        5,
        pdf.t(
            f"{answered} of {asked} questions answered ({report.get('questions_planned', asked)} planned). "
            f"Ended: {str(report.get('ended_reason', '')).replace('_', ' ')}."
        ),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    if report.get("score_definition"):
        pdf.para(f"Score: {report['score_definition']}", size=8.5, color=MUTED)
    pdf.set_y(max(pdf.get_y(), y + 28))

    pdf.heading("Breakdown")
    b = report.get("breakdown") or {}
    for key, label in DIMENSIONS:
        if key in b:  # a behavioural interview has no technical depth
            pdf.bar(label, float(b[key]))

    progress = (report.get("progress") or {}).get("history") or []
    if progress:
        pdf.heading("Progress (your mock interviews of this type)")
        change = (report.get("progress") or {}).get("change")
        if change is not None:
            pdf.para(f"Change since the previous one: {change:+d} points.", size=9, color=MUTED)
        pdf.progress_chart(progress)

    d = report.get("delivery") or {}
    pdf.heading("Delivery")
    wpm = d.get("words_per_minute")
    pdf.bullets(
        [
            f"Pace: {wpm:.0f} words per minute" if isinstance(wpm, (int, float)) else "Pace: not enough speech to measure",
            f"Filler words: {d.get('filler_words', 0)} ({d.get('fillers_per_100_words', 0)} per 100 words)",
            f"Talk time: {duration_text(d.get('talk_seconds_total', 0))} in total; per answer: "
            + (", ".join(f"Q{a['index']} {duration_text(a['seconds'])}" for a in d.get("talk_time_per_answer") or []) or "-"),
        ]
    )
    for name, key in (("Strengths", "strengths"), ("Weaknesses", "weaknesses"), ("Recommendations", "recommendations")):
        pdf.heading(name)
        pdf.bullets(list(report.get(key) or []) or ["-"])

    pdf.heading("Questions")
    for q in report.get("questions") or []:
        if q.get("status") == "pending":
            continue
        pdf.ln(1)
        pdf.para(f"Q{q.get('index')}. {q.get('text', '')}", size=10.5, bold=True)
        status = STATUS_NAMES.get(str(q.get("status", "")), str(q.get("status", "")).replace("_", " "))
        scored = "not scored" if q.get("status") == "ended_early" else f"Score {q.get('score', 0)} / 100"
        pdf.para(
            f"{scored} - {status} - talk time {duration_text((q.get('delivery') or {}).get('talk_seconds', 0))} "
            f"of {duration_text(q.get('time_allocation_s', 0))} allowed",
            size=9,
            color=MUTED,
        )
        if q.get("follow_up"):
            pdf.para(f"Follow-up: {q['follow_up']}", size=9, color=MUTED)
        for label, key in (("Went well", "went_well"), ("To improve", "to_improve"), ("Missing key points", "missing_key_points")):
            items = q.get(key) or []
            if items:
                pdf.para(label, size=9.5, bold=True)
                pdf.bullets(items)
    out = pdf.output()
    return bytes(out)
