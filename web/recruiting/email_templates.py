"""E-mails to candidates from the organisation's templates (issue 21), and their delivery log.

Each kind (invite, reminder, thank-you, pass and fail decisions) has a default text; an organisation
may save its own subject and body, plain text with ``{{variable}}`` placeholders from ``VARIABLES``
(an unknown one is refused when saved; the invite and reminder must carry ``{{link}}``). Every e-mail
to a candidate is logged with whether the SMTP server took it and why not, so failures are visible.

Routes (recruiters and owners; reviewers read only): ``GET /api/org/email-templates``,
``PUT/DELETE /api/org/email-templates/{kind}``, ``POST /api/org/email-templates/{kind}/preview``,
``POST /api/org/candidates/{id}/decision/email``, ``GET /api/org/email-deliveries``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from interview_room.store import email_templates as et_store
from interview_room.store import recruiting as store
from web.accounts.auth import current_user
from web.common.context import services
from web.common.errors import ApiError, not_found
from web.common.serialize import iso
from web.common.validation import parse, read_json, string

from . import recruiter_routes
from .candidate_mail import (
    DEFAULTS,
    KINDS,
    SAMPLE,
    VARIABLES,
    check_template,
    one_line,
    render,
    send,
    text_of,
    values_for,
)
from .fields import parse_uuid

routes = web.RouteTableDef()


def _kind(request: web.Request) -> str:
    kind = request.match_info["kind"]
    if kind not in KINDS:
        raise not_found(f"No such template; the templates are {', '.join(KINDS)}")
    return kind


# ---- routes ----


def _template_json(kind: str, subject: str, body: str, custom: bool) -> dict[str, Any]:
    return {"kind": kind, "subject": subject, "body": body, "custom": custom, "variables": list(VARIABLES[kind])}


@routes.get("/api/org/email-templates")
async def list_templates(request: web.Request) -> web.Response:
    org = await recruiter_routes.member_org(request)
    saved = await et_store.templates_of(services(request).pool, org["id"])
    out = []
    for kind in KINDS:
        t = saved.get(kind)
        out.append(_template_json(kind, t.subject, t.body, True) if t else _template_json(kind, *DEFAULTS[kind], False))
    return web.json_response({"templates": out})


TEMPLATE_SPEC = {"subject": string(max_len=300, min_len=1), "body": string(max_len=20000, min_len=1)}


@routes.put("/api/org/email-templates/{kind}")
async def save(request: web.Request) -> web.Response:
    org = await recruiter_routes.member_org(request)
    kind = _kind(request)
    body = parse(await read_json(request), TEMPLATE_SPEC, required=("subject", "body"))
    check_template(kind, body["subject"], body["body"])
    await et_store.save_template(
        services(request).pool, org["id"], kind, body["subject"], body["body"], current_user(request).id
    )
    return web.json_response(_template_json(kind, body["subject"], body["body"], True))


@routes.delete("/api/org/email-templates/{kind}")
async def reset(request: web.Request) -> web.Response:
    org = await recruiter_routes.member_org(request)
    kind = _kind(request)
    await et_store.delete_template(services(request).pool, org["id"], kind)
    return web.json_response(_template_json(kind, *DEFAULTS[kind], False))


@routes.post("/api/org/email-templates/{kind}/preview")
async def preview(request: web.Request) -> web.Response:
    """The template as a candidate would get it, with sample values: the one sent, or ``subject`` and
    ``body`` given here (not saved)."""
    org = await recruiter_routes.member_org(request, reviewer_ok=True)  # reads only
    kind = _kind(request)
    given = parse(await read_json(request), TEMPLATE_SPEC)
    subject, body, _ = await text_of(services(request), org["id"], kind)
    subject, body = given.get("subject", subject), given.get("body", body)
    check_template(kind, subject, body)
    return web.json_response({"kind": kind, "subject": one_line(render(subject, SAMPLE)), "body": render(body, SAMPLE)})


@routes.post("/api/org/candidates/{candidate_id}/decision/email")
async def tell_decision(request: web.Request) -> web.Response:
    """Tell the candidate the recorded decision with the organisation's pass or fail template."""
    svc = services(request)
    org = await recruiter_routes.member_org(request)
    c = await store.get_candidate(svc.pool, org["id"], parse_uuid(request.match_info["candidate_id"], "candidate"))
    if c is None:
        raise not_found("No such candidate")
    if not c["email"]:
        raise ApiError(409, "no_email", "This candidate was invited by link only: there is no address to write to")
    if c["decision"] not in ("pass", "fail"):
        raise ApiError(409, "no_decision", "Record a pass or fail decision first")
    iv = await store.get_interview(svc.pool, org["id"], c["interview_id"])
    assert iv is not None
    ok = await send(svc, org["id"], c, f"decision_{c['decision']}", values_for(c, iv))
    return web.json_response({"emailed": ok, "decision": c["decision"]})


def _delivery_json(d: et_store.Delivery) -> dict[str, Any]:
    return {
        "id": d.id,
        "candidate_id": str(d.candidate_id) if d.candidate_id else None,
        "kind": d.kind,
        "to": d.to_addr,
        "ok": d.ok,
        "error": d.error,
        "created_at": iso(d.created_at),
    }


@routes.get("/api/org/email-deliveries")
async def email_deliveries(request: web.Request) -> web.Response:
    org = await recruiter_routes.member_org(request, recruiter=True)
    failed = request.query.get("failed") in ("1", "true")
    rows = await et_store.deliveries(services(request).pool, org["id"], failed_only=failed)
    return web.json_response({"deliveries": [_delivery_json(d) for d in rows]})
