from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from aicensus.assess import assess
from aicensus.cli.report import report_command
from aicensus.report.html import render_html
from aicensus.report.source import Assessed
from tests.support.assess_cases import (
    FAKE_KEY,
    SCRIPT_NAME,
    hostile_models,
    keyed_llamacpp,
    open_ollama,
)


def test_html_escapes_server_text_and_is_offline() -> None:
    obs = [open_ollama(), keyed_llamacpp(), hostile_models()]
    page = render_html(Assessed(scan=None, services=[(o, assess(o)) for o in obs]))
    assert SCRIPT_NAME not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script" not in page.lower()
    assert "http://" not in page.replace("http://1.2.3.4", "").replace(
        "http://192.168.1.20", ""
    ).replace("http://10.0.0.7", "").replace("http://www.w3.org/2000/svg", "").replace(
        '\\"http://x\\"', ""
    ).replace("&quot;http://x&quot;", "")
    assert "https://" not in page.split("<body>")[0]
    assert "<svg" in page and FAKE_KEY not in page


def test_report_cli_html(db: str, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    result = CliRunner().invoke(report_command, ["--db", db, "--format", "html", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "&lt;script&gt;" in out.read_text()
