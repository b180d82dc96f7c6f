"""The web client at / and the docs at /docs/: plain files, no listings, nothing outside the folder."""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import quote

from aiohttp import web

from .context import SERVICES
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


def _doc_title(path: Path) -> str:
    """A document's first "# " heading, else its file name."""
    try:
        with path.open(encoding="utf-8", errors="replace") as f:
            for _, line in zip(range(40), f, strict=False):
                if line.startswith("# "):
                    return line[2:].strip() or path.stem
    except OSError:
        pass
    return path.stem


def docs_index_html(root: Path) -> str:
    """/docs/: a page listing the documents (*.md) in ``root`` with their titles (no inline script or style)."""
    items = "\n".join(
        f'<li><a href="{quote(p.name)}">{html.escape(_doc_title(p))}</a> <span class="muted small">{html.escape(p.name)}</span></li>'
        for p in sorted(root.glob("*.md"))
        if not p.name.startswith(".") and p.is_file()
    )
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        "<title>Documentation · Interview Room</title>\n"
        '<link rel="stylesheet" href="/css/app.css">\n<link rel="icon" href="data:,">\n</head>\n<body>\n'
        '<header class="site-header"><a class="brand" href="/index.html">Interview Room</a></header>\n'
        '<main id="main">\n<h1>Documentation</h1>\n'
        '<section class="card" aria-labelledby="docs-h">\n<h2 id="docs-h">Documents</h2>\n'
        f'<ul class="docs-list">\n{items or "<li>No documents.</li>"}\n</ul>\n'
        '<p class="small muted">Plain text (Markdown). The README in the source code lists every setting.</p>\n'
        "</section>\n</main>\n</body>\n</html>\n"
    )


def _docs_index_handler(root: Path) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handler(request: web.Request) -> web.StreamResponse:
        if (root / "index.html").is_file():
            return web.FileResponse(root / "index.html", headers={"Cache-Control": "no-cache"})
        return web.Response(text=docs_index_html(root), content_type="text/html", headers={"Cache-Control": "no-cache"})

    return handler


async def _to_docs_index(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/docs/")


def setup(app: web.Application) -> None:
    """Register last: the web client's route takes every GET path outside /api."""
    svc = app[SERVICES]
    web_root, docs_root = svc.web_root, svc.docs_root
    if docs_root is not None:
        app.router.add_get("/docs", _to_docs_index)
        app.router.add_get("/docs/", _docs_index_handler(docs_root))
        app.router.add_get("/docs/index.html", _docs_index_handler(docs_root))
        app.router.add_get("/docs/{path:.*}", _file_handler(docs_root))
    if web_root is not None:
        app.router.add_get(r"/{path:(?!api(?:/|$)).*}", _file_handler(web_root))
