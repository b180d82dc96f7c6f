"""Rewrite imports of the modules issue 18 moved out of ``signaling/`` (a one-off for merging branches).

After merging a branch written against the old layout, run ``python scripts/rewrite_moved_imports.py`` from the
repository root: every ``from signaling.x import …`` / ``from .x import …`` (relative imports resolved from the
file's place) that names a moved module is rewritten to its new place; then ``ruff check --fix .`` sorts them.
It only edits import statements. New files a branch added under ``signaling/`` keep their place: move them
with ``git mv`` first if they belong to an area of ``web/`` and add them to ``EXTRA`` below.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path.cwd()
FILES = {  # old path -> new path
 "signaling/app.py": "web/app.py",
 "signaling/errors.py": "web/common/errors.py",
 "signaling/validation.py": "web/common/validation.py",
 "signaling/serialize.py": "web/common/serialize.py",
 "signaling/context.py": "web/common/context.py",
 "signaling/http_guard.py": "web/common/http_guard.py",
 "signaling/static.py": "web/common/static.py",
 "signaling/mailer.py": "web/common/mailer.py",
 "signaling/tokens.py": "web/common/tokens.py",
 "signaling/auth.py": "web/accounts/auth.py",
 "signaling/auth_routes.py": "web/accounts/auth_routes.py",
 "signaling/account_routes.py": "web/accounts/account_routes.py",
 "signaling/passwords.py": "web/accounts/passwords.py",
 "signaling/ratelimit.py": "web/accounts/ratelimit.py",
 "signaling/resume.py": "web/accounts/resume.py",
 "signaling/resume_sandbox.py": "web/accounts/resume_sandbox.py",
 "signaling/recordings.py": "web/sessions/recordings.py",
 "signaling/webvtt.py": "web/sessions/webvtt.py",
 "signaling/summary_routes.py": "web/sessions/summary_routes.py",
 "signaling/screen_routes.py": "web/sessions/screen_routes.py",
 "signaling/pruning.py": "web/sessions/pruning.py",
 "signaling/report_pdf.py": "web/reports/report_pdf.py",
 "signaling/report_routes.py": "web/reports/report_routes.py",
 "signaling/billing.py": "web/billing/routes.py",
 "signaling/gateways/__init__.py": "web/billing/gateways/__init__.py",
 "signaling/gateways/base.py": "web/billing/gateways/base.py",
 "signaling/gateways/manual.py": "web/billing/gateways/manual.py",
 "signaling/gateways/stripe_gateway.py": "web/billing/gateways/stripe_gateway.py",
 "signaling/recruiting/store.py": "interview_room/store/recruiting.py",
}
for name in ("__init__", "answer_limits", "answer_sessions", "candidate_routes", "csv_cells", "erase", "fields",
             "links", "mail", "practice", "recruiter_routes", "reminders", "report_pdf", "scoring", "webhook_guard",
             "webhooks"):
    FILES.setdefault(f"signaling/recruiting/{name}.py", f"web/recruiting/{name}.py")
# names that moved between modules after the file moves
NAMES = {
    ("signaling.session_routes", "OFFER_SPEC"): "signaling.offers",
    ("signaling.session_routes", "forward_offer"): "signaling.offers",
    ("signaling.session_routes", "owned_session"): "web.sessions.owned",
    ("web.reports.report_pdf", "_band"): "web.reports.report_pdf",
}
EXTRA: dict[str, str] = {
    "signaling/recruiting/candidate_mail.py": "web/recruiting/candidate_mail.py",
    "signaling/recruiting/email_templates.py": "web/recruiting/email_templates.py",
    "signaling/recruiting/review_links.py": "web/recruiting/review_links.py",
    "signaling/recruiting/review_stats.py": "web/recruiting/review_stats.py",
    "signaling/recruiting/team_review.py": "web/recruiting/team_review.py",
    "signaling/mock_prices.py": "web/billing/mock_prices.py",
    "signaling/receipts.py": "web/billing/receipts.py",
    "signaling/subscriptions.py": "web/billing/subscriptions.py",
    "signaling/recruiting/accommodation_routes.py": "web/recruiting/accommodation_routes.py",
    "signaling/recruiting/accommodations.py": "web/recruiting/accommodations.py",
    "signaling/recruiting/ats_events.py": "web/recruiting/ats_events.py",
    "signaling/recruiting/audit_export.py": "web/recruiting/audit_export.py",
    "signaling/recruiting/funnel_routes.py": "web/recruiting/funnel_routes.py",
    "signaling/recruiting/webhook_event_routes.py": "web/recruiting/webhook_event_routes.py",
    "signaling/analytics_routes.py": "web/sessions/analytics_routes.py",
    "signaling/account_data.py": "web/accounts/account_data.py",
    "signaling/billing_return.py": "web/billing/billing_return.py",
    "signaling/webpage_check.py": "web/sessions/webpage_check.py",
    "signaling/webpage_routes.py": "web/sessions/webpage_routes.py",
    "signaling/gateways/paypal.py": "web/billing/gateways/paypal.py",
}  # old path -> new path of files a merged branch added (after you git mv them)
FILES.update(EXTRA)



def modname(path: str) -> str:
    p = path[:-3].replace("/", ".")
    return p[: -len(".__init__")] if p.endswith(".__init__") else p


MOD = {modname(o): modname(n) for o, n in FILES.items()}
MOD["signaling.gateways"] = "web.billing.gateways"
STAYED = {"signaling", "signaling.companion_routes", "signaling.pairing", "signaling.session_routes", "signaling.media_nodes", "signaling.ice", "signaling.offers",
          "signaling.troubleshoot_limits", "signaling.reaper", "signaling.recruiting"}


def resolve(cur_mod: str, cur_is_pkg: bool, level: int, module: str | None) -> str:
    if level == 0:
        return module or ""
    parts = cur_mod.split(".")
    base = parts if cur_is_pkg else parts[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def exists(m: str) -> bool:
    """A module or package of the tree as it is now."""
    path = ROOT / m.replace(".", "/")
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def is_module(m: str) -> bool:
    return m in MOD or m in STAYED or (ROOT / (m.replace(".", "/") + ".py")).exists()


def rewrite(path: Path) -> bool:
    rel = path.relative_to(ROOT).as_posix()
    new_to_old = {n: o for o, n in FILES.items()}
    old_path = new_to_old.get(rel, rel)
    old_mod, new_mod = modname(old_path), modname(rel)
    old_pkg = old_path.endswith("__init__.py")
    my_pkg = new_mod if rel.endswith("__init__.py") else new_mod.rpartition(".")[0]
    src = path.read_text()
    lines = src.splitlines(keepends=True)
    edits = []
    for node in ast.walk(ast.parse(src)):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level and old_mod != new_mod:  # a moved file: a relative import that works from here stays
            here = resolve(new_mod, rel.endswith("__init__.py"), node.level, node.module)
            if exists(here):
                continue
        target = resolve(old_mod, old_pkg, node.level, node.module)
        if not (target == "signaling" or target.startswith("signaling.")):
            continue
        groups: dict[tuple[str, str], list[str]] = {}
        changed = False
        for a in node.names:
            sub = f"{target}.{a.name}"
            if is_module(sub) and sub != target:
                nsub = MOD.get(sub, sub)
                parent, _, leaf = nsub.rpartition(".")
                alias = a.asname or (a.name if leaf != a.name else None)
                groups.setdefault(("pkg", parent), []).append(leaf if alias in (None, leaf) else f"{leaf} as {alias}")
                changed |= nsub != sub
            else:
                src_mod = NAMES.get((target, a.name), MOD.get(target, target))
                groups.setdefault(("mod", src_mod), []).append(a.name if a.asname is None else f"{a.name} as {a.asname}")
                changed |= src_mod != target
        if not changed and resolve(new_mod, rel.endswith("__init__.py"), node.level, node.module) == target:
            continue
        indent = lines[node.lineno - 1][: node.col_offset]
        out = []
        for (kind, tgt), names in groups.items():
            if tgt == my_pkg:
                frm = "."
            elif kind == "mod" and tgt.rpartition(".")[0] == my_pkg:
                frm = "." + tgt.rpartition(".")[2]
            else:
                frm = tgt
            out.append(f"{indent}from {frm} import {', '.join(names)}\n")
        edits.append((node.lineno - 1, node.end_lineno, "".join(out)))
    for s, e, t in sorted(edits, reverse=True):
        lines[s:e] = [t]
    if edits:
        path.write_text("".join(lines))
    return bool(edits)


def main() -> None:
    for p in sorted(ROOT.rglob("*.py")):
        rel = p.relative_to(ROOT).as_posix()
        if rel.startswith((".venv", "data/")) or "/." in rel:
            continue
        if rewrite(p):
            print("rewrote", rel, file=sys.stderr)


if __name__ == "__main__":
    main()
