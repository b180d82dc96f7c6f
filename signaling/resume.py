"""Plain text out of an uploaded résumé (.txt, .pdf, .docx), so it can prime the answers."""

from __future__ import annotations

import io
import re
import zipfile

MAX_CHARS = 100_000
MAX_PDF_PAGES = 50


class UnsupportedFile(Exception):
    """Not a file type we can read."""


class UnreadableFile(Exception):
    """The right type, but damaged, encrypted or empty."""


def _kind(filename: str, data: bytes) -> str:
    name = filename.lower()
    if data.startswith(b"%PDF") or name.endswith(".pdf"):
        return "pdf"
    if name.endswith(".docx") or (data.startswith(b"PK") and not name.endswith(".txt")):
        return "docx"
    if name.endswith((".txt", ".md", ".text")) or not name or "." not in name:
        return "txt"
    raise UnsupportedFile(filename)


def _pdf(data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnreadableFile("the PDF is password-protected")
        return "\n".join(page.extract_text() or "" for page in reader.pages[:MAX_PDF_PAGES])
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, NotImplementedError) as e:
        raise UnreadableFile(str(e)) from e


def _docx(data: bytes) -> str:
    import docx

    try:
        doc = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as e:
        raise UnreadableFile(str(e)) from e
    lines = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        for row in table.rows:
            lines.append(" | ".join(cell.text.strip() for cell in row.cells))
    return "\n".join(lines)


def _txt(data: bytes) -> str:
    if b"\x00" in data[:4096]:
        raise UnsupportedFile("binary file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def extract_text(filename: str, data: bytes) -> str:
    """Blocking (PDF parsing can take a moment): call it in a thread."""
    kind = _kind(filename, data)
    text = {"pdf": _pdf, "docx": _docx, "txt": _txt}[kind](data)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"[ \t\f\v]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    if not text:
        raise UnreadableFile("no text found (a scanned PDF holds only images)")
    return text[:MAX_CHARS]
