"""POST /api/sessions/{id}/screen-question: "Read my screen" (issue 19).

The room captures one downscaled frame of a shared window or tab and sends it here with an
optional question. The web process makes no model call: the frame waits in Redis for at most
``FRAME_TTL_S`` under a random key, the llm worker reads and deletes it (GETDEL) and streams the
answer into the session like any other answer. The frame is never written to disk or Postgres;
the user keeps a copy only by saving it in the page. Without a vision-capable model the worker
says so plainly (notice ``vision_unavailable``).
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import secrets
from typing import Any

from aiohttp import web

from interview_room.bus import LLM_JOBS
from interview_room.messages import LlmJob
from web.common.context import services
from web.common.errors import ApiError
from web.common.validation import Invalid, parse, read_json, string
from web.sessions.owned import owned_session

log = logging.getLogger("signaling.screen")

FRAME_TTL_S = 120
MAX_FRAME_BYTES = 1_500_000  # a 1280 px JPEG is far below; the body limit (MAX_BODY_BYTES) applies first
MAX_QUESTION_CHARS = 500
FRAME_KEY = "screen:frame:{}"
_DATA_URL = re.compile(r"data:image/(jpeg|png|webp);base64,([A-Za-z0-9+/=]+)\Z")


def _frame(value: Any) -> str:
    if not isinstance(value, str):
        raise Invalid("must be a data URL of a JPEG, PNG or WebP image")
    m = _DATA_URL.match(value)
    if m is None:
        raise Invalid("must be a data URL of a JPEG, PNG or WebP image")
    try:
        raw = base64.b64decode(m.group(2), validate=True)
    except (binascii.Error, ValueError):
        raise Invalid("is not valid base64") from None
    if not raw or len(raw) > MAX_FRAME_BYTES:
        raise Invalid(f"must be an image of at most {MAX_FRAME_BYTES} bytes")
    magic = {"jpeg": b"\xff\xd8\xff", "png": b"\x89PNG", "webp": b"RIFF"}[m.group(1)]
    if not raw.startswith(magic):
        raise Invalid("is not the image its type says")
    return value


SPEC = {"image": _frame, "question": string(max_len=MAX_QUESTION_CHARS)}


async def screen_question(request: web.Request) -> web.Response:
    svc = services(request)
    s = await owned_session(request)
    body = parse(await read_json(request), SPEC, required=("image",))
    if s.status == "ended":
        raise ApiError(409, "session_ended", "This session has ended")
    key = FRAME_KEY.format(secrets.token_urlsafe(16))
    await svc.redis.set(key, body["image"], ex=FRAME_TTL_S)
    job = LlmJob(kind="screen", session_id=str(s.id), payload={"image_key": key, "question": body.get("question", "")})
    await svc.redis.xadd(LLM_JOBS, job.to_fields())  # type: ignore[arg-type]
    log.info("screen question queued session=%s bytes=%d", s.id, len(body["image"]))
    return web.json_response({"queued": True}, status=202)


def setup(app: web.Application) -> None:
    app.router.add_post("/api/sessions/{id}/screen-question", screen_question)
