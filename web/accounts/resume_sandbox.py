"""Reading a résumé in a child process with a memory and CPU limit and a wall-clock timeout.

The signaling process holds everyone's requests; a hostile PDF or .docx must not take its memory
(a zip bomb once grew it to 23 GB until the kernel killed it) nor its threads (argon2 hashing runs
in the default thread pool). So the parsing runs in ``python -m web.accounts.resume_sandbox``: the file
on stdin, ``{"text"}`` or ``{"error", "message"}`` JSON on stdout; the child limits its own address
space and CPU time before it reads a byte, and the parent kills it at the timeout. At most
``CONCURRENCY`` children run at once per signaling process; more uploads wait their turn.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import resource
import sys
from pathlib import Path

from . import resume

log = logging.getLogger("signaling.resume")

TIMEOUT_S = 20.0
MEMORY_BYTES = 768 * 1024 * 1024
CPU_SECONDS = 20
CONCURRENCY = 2
_ROOT = Path(__file__).resolve().parents[2]
_slots: asyncio.Semaphore | None = None


def _slot() -> asyncio.Semaphore:
    global _slots
    if _slots is None:
        _slots = asyncio.Semaphore(CONCURRENCY)
    return _slots


async def extract(filename: str, data: bytes) -> str:
    """The résumé's text; raises resume.UnsupportedFile / UnreadableFile / TooComplex."""
    kind = resume.kind_of(filename, data)
    if kind == "txt":
        return resume.tidy(resume.txt_text(data))
    if kind == "docx":
        resume.check_docx(data)  # a zip bomb is refused here, before any child starts
    async with _slot():
        out = await _run_child(kind, data)
    if "text" in out:
        return str(out["text"])
    err, message = out.get("error"), str(out.get("message", ""))
    if err == "too_complex":
        raise resume.TooComplex(message)
    raise resume.UnreadableFile(message or "the file could not be read")


async def _run_child(kind: str, data: bytes) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(_ROOT), os.environ.get("PYTHONPATH")]))}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "web.accounts.resume_sandbox",
        kind,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env=env,
    )
    try:
        stdout, _ = await asyncio.wait_for(proc.communicate(data), TIMEOUT_S)
    except TimeoutError:
        log.warning("résumé parsing timed out kind=%s bytes=%d", kind, len(data))
        return {"error": "too_complex", "message": f"reading the file took longer than {TIMEOUT_S:.0f} s"}
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    try:
        out = json.loads(stdout) if stdout else None
    except ValueError:
        out = None
    if not isinstance(out, dict):  # killed by its memory or CPU limit
        log.warning("résumé parsing failed kind=%s bytes=%d exit=%s", kind, len(data), proc.returncode)
        return {"error": "too_complex", "message": "the file needs too much memory or time to read"}
    return out


def _child(kind: str) -> dict[str, object]:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))
    data = sys.stdin.buffer.read()
    try:
        parse = {"pdf": resume.pdf_text, "docx": resume.docx_text}[kind]
        return {"text": resume.tidy(parse(data))}
    except resume.TooComplex as e:
        return {"error": "too_complex", "message": str(e)}
    except resume.UnreadableFile as e:
        return {"error": "unreadable", "message": str(e)}
    except MemoryError:
        return {"error": "too_complex", "message": "the file needs too much memory to read"}
    except Exception as e:  # noqa: BLE001 - any parser failure on a hostile file is "unreadable"
        return {"error": "unreadable", "message": f"{type(e).__name__}"}


if __name__ == "__main__":
    sys.stdout.write(json.dumps(_child(sys.argv[1])))
