"""Candidate e-mail templates per organisation (issue 21) on the real API with a local SMTP inbox:
custom texts with variables and a preview, the decision told to the candidate, and every e-mail to a
candidate logged, failures (an SMTP server that is not there) visible with their reason."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest_asyncio
from conftest import Infra, verified
from recruit_fixtures import INTERVIEW, Api, recruit_api

from interview_room.embedded import free_port


@pytest_asyncio.fixture(scope="module")
async def api(infra: Infra) -> AsyncIterator[Api]:
    async with recruit_api(infra, llm_worker=False) as a:
        yield a


def _text(msg: object) -> str:
    return msg.get_payload(decode=True).decode().replace("\r\n", "\n")  # type: ignore[attr-defined]


async def _interview(api: Api, rec: str) -> str:
    st, iv = await api.call("POST", "/api/org/interviews", rec, json=INTERVIEW)
    assert st == 201, iv
    return str(iv["id"])


async def test_custom_invite_template_with_variables_and_preview(api: Api) -> None:
    rec = await api.recruiter("Templates org")
    st, lst = await api.call("GET", "/api/org/email-templates", rec)
    assert st == 200
    assert [t["kind"] for t in lst["templates"]] == [
        "invite",
        "reminder",
        "thank_you",
        "decision_pass",
        "decision_fail",
    ]
    assert not any(t["custom"] for t in lst["templates"])
    invite = lst["templates"][0]
    assert "link" in invite["variables"] and "{{link}}" in invite["body"]

    body = "Hi {{ candidate_name }}!\n{{company}} wants to hear from you about {{interview_title}}:\n{{link}}\n{{candidate_name}} {{x}}"
    st, err = await api.call("PUT", "/api/org/email-templates/invite", rec, json={"subject": "S", "body": body})
    assert st == 400 and err["error"]["field"] == "body" and "{{x}}" in err["error"]["message"]
    st, err = await api.call("PUT", "/api/org/email-templates/invite", rec, json={"subject": "S", "body": "No link"})
    assert st == 400 and "{{link}}" in err["error"]["message"]
    assert (await api.call("PUT", "/api/org/email-templates/nope", rec, json={"subject": "S", "body": "b"}))[0] == 404
    st, lst2 = await api.call("GET", "/api/org/email-templates", rec)
    assert lst2 == lst  # refused saves changed nothing

    body = body.replace(" {{x}}", "")
    subject = "{{company}} - {{candidate_name}}\nBcc: spy@example.com"
    st, saved = await api.call("PUT", "/api/org/email-templates/invite", rec, json={"subject": subject, "body": body})
    assert st == 200 and saved["custom"] is True
    st, pv = await api.call("POST", "/api/org/email-templates/invite/preview", rec, json={})
    assert st == 200 and pv["subject"] == "Acme Corp - Alex Example Bcc: spy@example.com"
    assert pv["body"].startswith("Hi Alex Example!\nAcme Corp wants to hear from you about Backend engineer:\nhttps://")
    st, pv = await api.call(
        "POST", "/api/org/email-templates/thank_you/preview", rec, json={"body": "Thanks {{candidate_name}}"}
    )
    assert st == 200 and pv["body"] == "Thanks Alex Example"
    st, saved_again = await api.call("GET", "/api/org/email-templates", rec)
    assert saved_again["templates"][2]["custom"] is False  # a preview saves nothing

    iv = await _interview(api, rec)
    addr = f"cand-{uuid.uuid4().hex[:8]}@example.com"
    st, inv = await api.call(
        "POST",
        f"/api/org/interviews/{iv}/candidates",
        rec,
        json={"email": addr, "name": "Ada {{link}}", "send_email": True},
    )
    assert st == 201 and inv["emailed"] is True, inv
    (msg,) = api.inbox.to(addr)
    assert msg["Subject"] == "Acme Corp - Ada {{link}} Bcc: spy@example.com" and msg["Bcc"] is None
    text = _text(msg)
    assert text.startswith("Hi Ada {{link}}!\nAcme Corp wants to hear from you about Backend engineer:\n")
    assert inv["link"] in text
    st, log = await api.call("GET", "/api/org/email-deliveries", rec)
    assert [(d["kind"], d["to"], d["ok"]) for d in log["deliveries"]] == [("invite", addr, True)]

    # back to the default text
    st, reset = await api.call("DELETE", "/api/org/email-templates/invite", rec)
    assert st == 200 and reset["custom"] is False and reset["subject"] == "Video interview: {{interview_title}}"


async def test_decision_is_told_to_the_candidate(api: Api) -> None:
    rec = await api.recruiter("Decisions org")
    iv = await _interview(api, rec)
    await api.call(
        "PUT",
        "/api/org/email-templates/decision_fail",
        rec,
        json={"subject": "About {{interview_title}}", "body": "Dear {{candidate_name}}, not this time. {{company}}"},
    )
    addr = f"dec-{uuid.uuid4().hex[:8]}@example.com"
    st, inv = await api.call(
        "POST", f"/api/org/interviews/{iv}/candidates", rec, json={"email": addr, "name": "Bo", "send_email": False}
    )
    cid = inv["candidate"]["id"]
    st, body = await api.call("POST", f"/api/org/candidates/{cid}/decision/email", rec)
    assert st == 409 and body["error"]["code"] == "no_decision"
    assert api.inbox.to(addr) == []

    await api.call("POST", f"/api/org/candidates/{cid}/decision", rec, json={"decision": "fail"})
    st, body = await api.call("POST", f"/api/org/candidates/{cid}/decision/email", rec)
    assert st == 200 and body == {"emailed": True, "decision": "fail"}
    (msg,) = api.inbox.to(addr)
    assert msg["Subject"] == "About Backend engineer" and _text(msg).strip() == "Dear Bo, not this time. Acme Corp"

    await api.call("POST", f"/api/org/candidates/{cid}/decision", rec, json={"decision": "pass"})
    st, body = await api.call("POST", f"/api/org/candidates/{cid}/decision/email", rec)
    assert st == 200
    assert "would like to move forward" in _text(api.inbox.to(addr)[-1])  # the default pass text

    st, link_only = await api.call("POST", f"/api/org/interviews/{iv}/candidates", rec, json={"email": None})
    lid = link_only["candidate"]["id"]
    await api.call("POST", f"/api/org/candidates/{lid}/decision", rec, json={"decision": "pass"})
    st, body = await api.call("POST", f"/api/org/candidates/{lid}/decision/email", rec)
    assert st == 409 and body["error"]["code"] == "no_email"

    # another organisation: nothing of this one
    other = await api.recruiter("Other org")
    assert (await api.call("POST", f"/api/org/candidates/{cid}/decision/email", other))[0] == 404
    st, theirs = await api.call("GET", "/api/org/email-deliveries", other)
    assert theirs["deliveries"] == []
    st, tpl = await api.call("GET", "/api/org/email-templates", other)
    assert not any(t["custom"] for t in tpl["templates"])
    st, ours = await api.call("GET", "/api/org/email-deliveries", rec)
    assert [d["kind"] for d in ours["deliveries"]] == ["decision_pass", "decision_fail"]


async def test_reviewer_cannot_change_templates(api: Api) -> None:
    owner = await api.recruiter("Reviewer tpl org")
    addr = f"rv-{uuid.uuid4().hex[:8]}@example.com"
    st, inv = await api.call("POST", "/api/org/invites", owner, json={"email": addr, "role": "reviewer"})
    st, reg = await api.call("POST", "/api/auth/register", json={"email": addr, "password": "password123", "name": "R"})
    await api.confirm_email(reg["token"], addr)
    rv = reg["token"]
    assert (await api.call("POST", "/api/org/join", rv, json={"token": inv["link"].split("#", 1)[1]}))[0] == 200
    st, body = await api.call("PUT", "/api/org/email-templates/thank_you", rv, json={"subject": "x", "body": "y"})
    assert st == 403 and body["error"]["code"] == "reviewer_read_only"
    assert (await api.call("GET", "/api/org/email-deliveries", rv))[0] == 403
    assert (await api.call("POST", "/api/org/email-templates/thank_you/preview", rv, json={}))[0] == 200


async def test_delivery_failures_are_visible(infra: Infra) -> None:
    async with recruit_api(infra, llm_worker=False, smtp_port=free_port()) as broken:  # nothing listens there
        st, reg = await broken.call(
            "POST",
            "/api/auth/register",
            json={"email": f"b-{uuid.uuid4().hex[:8]}@example.com", "password": "password123", "name": "B"},
        )
        assert st == 201, reg
        await verified(broken.pool, reg["user"]["id"])  # the code e-mail could not go either
        rec = reg["token"]
        assert (await broken.call("POST", "/api/org", rec, json={"name": "Broken mail org"}))[0] == 201
        iv = await _interview(broken, rec)
        st, inv = await broken.call(
            "POST", f"/api/org/interviews/{iv}/candidates", rec, json={"email": "lost@example.com", "send_email": True}
        )
        assert st == 201 and inv["emailed"] is False
        st, log = await broken.call("GET", "/api/org/email-deliveries?failed=1", rec)
        assert st == 200
        (d,) = log["deliveries"]
        assert d["kind"] == "invite" and d["to"] == "lost@example.com" and d["ok"] is False
        assert "Connection" in d["error"] or "refused" in d["error"].lower(), d
        assert d["candidate_id"] == inv["candidate"]["id"]
