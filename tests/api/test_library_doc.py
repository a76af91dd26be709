"""docs/library.md runs: every python block is executed, in order, in one empty directory,
and what the blocks computed is checked here too (a block that silently did nothing fails)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "library.md"
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.S | re.M)


def blocks() -> list[str]:
    return BLOCK.findall(DOC.read_text(encoding="utf-8"))


def test_the_doc_has_an_example_per_area() -> None:
    text = "\n".join(blocks())
    for call in ("api.whois(", "api.card(", "api.alternatives(", "api.ingest_file(", "api.load_report(",
                 "api.render_report(", "api.check_policy(", "api.study(", "api.export_parquet(",
                 "api.ingest_parquet(", "api.plan_targets(", "api.scan(", "api.run_audit("):  # fmt: skip
        assert call in text, call


def test_every_block_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    spaces: list[dict[str, Any]] = []
    for i, source in enumerate(blocks()):
        namespace: dict[str, Any] = {"__name__": f"library_md_block_{i}"}
        exec(compile(source, f"{DOC}:block{i}", "exec"), namespace)
        spaces.append(namespace)

    def value(name: str) -> Any:
        found = [ns[name] for ns in spaces if name in ns]
        assert found, f"no block defines {name}"
        return found[-1]

    assert [w.attribution.developer for w in value("who")] == ["Alibaba", "Meta"]
    assert value("summary").identified == 1  # the live scan of the emulator
    assert value("summary").by_product == {"ollama": 1}
    assert 0 < value("port") < 65536
    assert {v.rule for v in value("check").violations} == {"require_auth", "countries.deny"}
    assert value("merged").observations == 1
    assert [f.id for f in value("critical")] == ["AIC-FILE-PICKLE-CODE-EXEC"]
    for written in ("census.duckdb", "report.html", "study.html", "dataset", "scans.duckdb"):
        assert (tmp_path / written).exists(), written
    assert "<html" in (tmp_path / "report.html").read_text(encoding="utf-8")[:200].lower()
