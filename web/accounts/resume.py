"""Plain text out of an uploaded résumé (.txt, .pdf, .docx), so it can prime the answers.

A résumé is hostile input: a 1 MB .docx can inflate to gigabytes, a PDF can hold decompression
bombs. So a .docx's zip directory is checked (entry count, total uncompressed size, compression
ratio) before anything is inflated, and PDF and .docx parsing run in a child process with a memory
and CPU limit and a wall-clock timeout (``web.accounts.resume_sandbox``), never in the signaling
process that serves everyone else.
"""

from __future__ import annotations

import io
import re
import zipfile

MAX_CHARS = 100_000
MAX_PDF_PAGES = 50
# a real résumé .docx: a few dozen parts, a few MB of XML and pictures once inflated
DOCX_MAX_ENTRIES = 500
DOCX_MAX_UNCOMPRESSED = 40 * 1024 * 1024
DOCX_MAX_RATIO = 200  # inflated / compressed, for entries larger than 1 MB inflated
_RATIO_FLOOR = 1024 * 1024


class UnsupportedFile(Exception):
    """Not a file type we can read."""


class UnreadableFile(Exception):
    """The right type, but damaged, encrypted or empty."""


class TooComplex(Exception):
    """A file that would take too much memory or time to read (a zip bomb, a huge PDF)."""


def kind_of(filename: str, data: bytes) -> str:
    name = filename.lower()
    if data.startswith(b"%PDF") or name.endswith(".pdf"):
        return "pdf"
    if name.endswith(".docx") or (data.startswith(b"PK") and not name.endswith(".txt")):
        return "docx"
    if name.endswith((".txt", ".md", ".text")) or not name or "." not in name:
        return "txt"
    raise UnsupportedFile(filename)


def check_docx(data: bytes) -> None:
    """Refuse a .docx whose zip directory promises too much before a byte is inflated.

    Python's zipfile never inflates more than an entry's declared size, so the declared sizes bound
    what parsing can allocate."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as e:
        raise UnreadableFile(f"not a valid .docx ({e})") from e
    if len(infos) > DOCX_MAX_ENTRIES:
        raise TooComplex(f"the .docx holds {len(infos)} parts (at most {DOCX_MAX_ENTRIES})")
    total = sum(i.file_size for i in infos)
    if total > DOCX_MAX_UNCOMPRESSED:
        raise TooComplex(f"the .docx inflates to {total} bytes (at most {DOCX_MAX_UNCOMPRESSED})")
    for i in infos:
        if i.file_size > _RATIO_FLOOR and i.file_size > DOCX_MAX_RATIO * max(1, i.compress_size):
            raise TooComplex(f"the .docx part {i.filename[:80]!r} is compressed suspiciously well")


def pdf_text(data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnreadableFile("the PDF is password-protected")
        out: list[str] = []
        size = 0
        for page in reader.pages[:MAX_PDF_PAGES]:
            text = page.extract_text() or ""
            out.append(text)
            size += len(text)
            if size > MAX_CHARS:  # the rest would be cut anyway
                break
        return "\n".join(out)
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, NotImplementedError, RecursionError) as e:
        raise UnreadableFile(str(e)) from e


def docx_text(data: bytes) -> str:
    import docx

    check_docx(data)
    try:
        doc = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as e:
        raise UnreadableFile(str(e)) from e
    lines = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        for row in table.rows:
            lines.append(" | ".join(cell.text.strip() for cell in row.cells))
    return "\n".join(lines)


def txt_text(data: bytes) -> str:
    if b"\x00" in data[:4096]:
        raise UnsupportedFile("binary file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def tidy(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"[ \t\f\v]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    if not text:
        raise UnreadableFile("no text found (a scanned PDF holds only images)")
    return text[:MAX_CHARS]


def extract_text(filename: str, data: bytes) -> str:
    """Blocking, and unbounded for hostile files: the signaling process calls
    ``resume_sandbox.extract`` instead, which runs this in a limited child process."""
    kind = kind_of(filename, data)
    return tidy({"pdf": pdf_text, "docx": docx_text, "txt": txt_text}[kind](data))
