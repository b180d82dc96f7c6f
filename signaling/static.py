"""The web client at / and the docs at /docs/: plain files, no listings, nothing outside the folder."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from .errors import not_found

_TYPES = {".md": "text/markdown; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8"}


def safe_file(root: Path, rel: str) -> Path | None:
    """The file ``rel`` names under ``root``; None for anything outside it, hidden, or a folder."""
    if "\x00" in rel or "\\" in rel:
        return None
    if rel == "" or rel.endswith("/"):
        rel += "index.html"
    parts = [p for p in rel.split("/") if p]
    if any(p.startswith(".") for p in parts):
        return None
    base = root.resolve()
    for candidate in (base.joinpath(*parts), base.joinpath(*parts[:-1], parts[-1] + ".html") if parts else None):
        if candidate is None:
            continue
        path = candidate.resolve()
        if path.is_relative_to(base) and path.is_file():
            return path
    return None


def _file_handler(root: Path) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handler(request: web.Request) -> web.StreamResponse:
        path = safe_file(root, request.match_info.get("path", ""))
        if path is None:
            raise not_found()
        headers = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
        if path.suffix in _TYPES:
            headers["Content-Type"] = _TYPES[path.suffix]
        return web.FileResponse(path, headers=headers)

    return handler


def add_routes(app: web.Application, web_root: Path | None, docs_root: Path | None) -> None:
    """Register last: the web client's route takes every GET path outside /api."""
    if docs_root is not None:
        app.router.add_get("/docs/{path:.*}", _file_handler(docs_root))
    if web_root is not None:
        app.router.add_get(r"/{path:(?!api(?:/|$)).*}", _file_handler(web_root))
