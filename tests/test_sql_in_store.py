"""All SQL lives in interview_room/store/ (one module per domain, typed rows): a scan of the product's packages."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("interview_room", "signaling", "web", "media_server", "recorder", "ai_sidecar")
ALLOWED = {
    "interview_room/db.py": "the migration runner (schema_migrations, advisory lock)",
    "interview_room/service.py": "/health's database check (SELECT 1)",
}
SQL = re.compile(r"^\s*(?:WITH\s+\w+\s+AS|SELECT|INSERT\s+INTO|UPDATE\s+\w+|DELETE\s+FROM)\b")
QUERY_CALLS = {"fetch", "fetchrow", "fetchval", "executemany", "copy_records_to_table", "copy_to_table"}


def sql_in(path: Path) -> list[str]:
    """Where a module holds SQL text or runs a query (line: what)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.match(node.value):
            found.append(f"{node.lineno}: {node.value[:60]!r}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            name = node.func.attr
            if name in QUERY_CALLS or (name == "execute" and node.args):  # redis pipelines: execute() with no args
                found.append(f"{node.lineno}: .{name}(...)")
    return found


def test_the_scan_finds_sql(tmp_path: Path) -> None:
    f = tmp_path / "m.py"
    f.write_text('async def f(pool):\n    await pool.execute("UPDATE sessions SET x = 1")\n    await pipe.execute()\n')
    assert [line.split(":")[0] for line in sql_in(f)] == ["2", "2"]  # the text and the call; not the pipeline


def test_no_sql_outside_the_store() -> None:
    offenders = {}
    for pkg in PACKAGES:
        for f in (ROOT / pkg).rglob("*.py"):
            rel = f.relative_to(ROOT).as_posix()
            if rel.startswith("interview_room/store/") or rel in ALLOWED:
                continue
            if found := sql_in(f):
                offenders[rel] = found
    assert offenders == {}
