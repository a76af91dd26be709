"""Only the store speaks SQL (issue 13): no module outside aicensus/store imports duckdb, holds
SQL text, or reaches for a store's connection."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import aicensus

PACKAGE = Path(aicensus.__file__).parent
SQL = re.compile(
    r"\b(SELECT\s.+\sFROM\b|INSERT\s+(OR\s+\w+\s+)?INTO\b|CREATE\s+(OR\s+REPLACE\s+)?"
    r"(TEMP\s+)?(TABLE|VIEW)\b|UPDATE\s+\w+\s+SET\b|DELETE\s+FROM\b|ALTER\s+TABLE\b|COPY\s*\()",
    re.S,
)


def violations(source: str, name: str) -> list[str]:
    """What in this module's source breaks the rule, one line each."""
    found = []
    for node in ast.walk(ast.parse(source, name)):
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
            )
            if any(m == "duckdb" or m.startswith("duckdb.") for m in modules):
                found.append(f"{name}:{node.lineno}: imports duckdb")
        elif isinstance(node, ast.Attribute) and node.attr == "_con":
            found.append(f"{name}:{node.lineno}: uses a store's connection (._con)")
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and SQL.search(node.value)
        ):
            found.append(f"{name}:{node.lineno}: SQL text {node.value[:40]!r}")
    return found


def test_no_sql_outside_the_store() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] == "store":
            continue
        found += violations(path.read_text(encoding="utf-8"), str(relative))
    assert not found, "\n".join(found)


def test_the_check_sees_each_kind_of_violation() -> None:
    """The check must fail on what it forbids, else the test above proves nothing."""
    module = '''
import duckdb
from duckdb import connect
QUERY = """SELECT count(*)
           FROM observations"""
store._con.execute("CREATE OR REPLACE TEMP TABLE t AS SELECT 1")
con.execute("INSERT INTO t VALUES (1)")
'''
    found = violations(module, "bad.py")
    assert [v.split(": ", 1)[1][:20] for v in found].count("imports duckdb") == 2
    assert any("._con" in v for v in found)
    assert sum("SQL text" in v for v in found) == 3
    # Prose that merely names a table, and option help such as "--db aicensus.duckdb", pass.
    assert not violations(
        'HELP = "Store to read (default aicensus.duckdb); select a scan."', "ok.py"
    )


def test_the_store_itself_is_where_the_sql_is() -> None:
    store = PACKAGE / "store"
    # db, longitudinal, study, synthetic (at least): the scan looks in the right place
    hits = sum(bool(violations(p.read_text(encoding="utf-8"), p.name)) for p in store.glob("*.py"))
    assert hits >= 4
