"""Every failure leaves as docs/protocol.md's error JSON, never an HTML page or a stack trace."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from interview_room import db
from interview_room.metrics import HTTP_REQUESTS

log = logging.getLogger("signaling.http")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """A failure the client can act on: HTTP status, snake_case code, human message."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


def not_found(what: str = "Not found") -> ApiError:
    return ApiError(404, "not_found", what)


def error_response(status: int, code: str, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message, **extra}}, status=status)


_HTTP_CODES: dict[int, tuple[str, str]] = {
    400: ("bad_request", "The request is malformed"),
    401: ("unauthorized", "Sign in first"),
    403: ("forbidden", "Not allowed"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "This method is not allowed on this path"),
    413: ("body_too_large", "The request body is too large"),
    415: ("unsupported_media_type", "Unsupported content type"),
    416: ("range_not_satisfiable", "The requested range is not satisfiable"),
}


def _from_http_exception(e: web.HTTPException) -> web.Response:
    code, message = _HTTP_CODES.get(e.status, ("http_error", e.reason or "Request failed"))
    resp = error_response(e.status, code, message)
    for h in ("Allow", "Content-Range", "WWW-Authenticate"):
        if h in e.headers:
            resp.headers[h] = e.headers[h]
    return resp


DB_RETRY_AFTER_S = 2


def database_unavailable(request: web.Request, e: BaseException) -> web.Response:
    """The database is restarting, unreachable or too slow: 503 the client may retry, no traceback."""
    log.warning(
        "database unavailable method=%s path=%s error=%s: %s", request.method, request.path, type(e).__name__, e
    )
    resp = error_response(503, "database_unavailable", "The database is not answering right now; please try again shortly")
    resp.headers["Retry-After"] = str(DB_RETRY_AFTER_S)
    return resp


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    status = 500
    try:
        resp = await handler(request)
        status = resp.status
        return resp
    finally:
        HTTP_REQUESTS.labels(request.method, str(status)).inc()


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as e:
        return error_response(e.status, e.code, e.message, **e.extra)
    except web.HTTPException as e:
        if e.status < 400:
            raise
        return _from_http_exception(e)
    except Exception as e:
        if db.unavailable(e):
            return database_unavailable(request, e)
        log.exception("unhandled error method=%s path=%s", request.method, request.path)
        return error_response(500, "internal_error", "Something went wrong on our side; please try again")
