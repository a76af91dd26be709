"""The text (table), HTML and JSON reports name the advisory bundle they were judged with: its
date and how many records for how many products, read here from the bundle's own manifest."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from aicensus.assess import assess
from aicensus.assess.advisories.bundle import ENV_DIR, builtin_dir, clear_cache
from aicensus.cli.app import _register, cli
from aicensus.report.exports import render
from aicensus.report.html import render_html
from aicensus.report.source import Assessed
from tests.support.assess_cases import open_ollama

_register()


@pytest.fixture(autouse=True)
def user_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "user-advisories"
    monkeypatch.setenv(ENV_DIR, str(folder))
    clear_cache()
    yield folder
    clear_cache()


def _assessed() -> Assessed:
    obs = open_ollama()
    return Assessed(scan=None, services=[(obs, assess(obs))])


def _manifest(folder: Path) -> dict[str, object]:
    return json.loads((folder / "manifest.json").read_text())


def test_table_html_and_json_name_the_shipped_bundle() -> None:
    m = _manifest(builtin_dir())
    line = f"bundle dated {m['date']}, {m['advisories']:,} records for {m['products']} products"
    assert int(str(m["advisories"])) >= 1000  # the shipped bundle, not an empty stand-in
    table = render(_assessed(), "table")
    assert f"Advisories: {line}\n" in table
    assert "installed at" not in table
    assert line in render_html(_assessed())
    doc = json.loads(render(_assessed(), "json"))
    assert doc["advisories"]["date"] == m["date"]
    assert doc["advisories"]["advisories"] == m["advisories"]


def test_reports_name_an_updated_bundle(tmp_path: Path, user_bundle: Path) -> None:
    src = tmp_path / "osv"
    src.mkdir()
    record = {
        "schema_version": "1.6.0", "id": "GHSA-test-date-0001", "modified": "2031-01-02T00:00:00Z",
        "aliases": [], "summary": "a record newer than the shipped bundle",
        "affected": [{"package": {"ecosystem": "PyPI", "name": "vllm"},
                      "ranges": [{"type": "ECOSYSTEM",
                                  "events": [{"introduced": "0"}, {"fixed": "0.1.1"}]}]}],
        "references": [],
    }  # fmt: skip
    (src / "GHSA-test-date-0001.json").write_text(json.dumps(record))
    result = CliRunner().invoke(cli, ["advisories", "update", "--from", str(src)])
    assert result.exit_code == 0, result.output
    clear_cache()
    shipped, updated = _manifest(builtin_dir()), _manifest(user_bundle)
    assert updated["date"] == "2031-01-02"
    assert updated["advisories"] == int(str(shipped["advisories"])) + 1
    table = render(_assessed(), "table")
    assert f"bundle dated 2031-01-02, {updated['advisories']:,} records" in table
    assert f"installed at {user_bundle}" in table
    assert "bundle dated 2031-01-02" in render_html(_assessed())
