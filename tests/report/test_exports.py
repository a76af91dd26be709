from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from aicensus.assess import assess
from aicensus.cli.report import report_command
from aicensus.report.exports import csv_safe, render
from aicensus.report.source import Assessed, load_assessed
from tests.support.assess_cases import (
    FAKE_KEY,
    SCRIPT_NAME,
    hostile_models,
    keyed_llamacpp,
    open_ollama,
)

SCHEMA = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"


def _assessed() -> Assessed:
    obs = [open_ollama(), keyed_llamacpp(), hostile_models()]
    return Assessed(scan=None, services=[(o, assess(o)) for o in obs])


@pytest.mark.parametrize("fmt", ["table", "json", "csv", "sarif", "cyclonedx"])
def test_secret_never_in_any_output(fmt: str) -> None:
    text = render(_assessed(), fmt)
    assert FAKE_KEY not in text
    assert FAKE_KEY[8:30] not in text


def test_json_report_has_services_findings_and_redacted_prompt() -> None:
    doc = json.loads(render(_assessed(), "json"))
    assert doc["summary"]["services"] == 3
    hostile = doc["services"][2]
    helper = next(m for m in hostile["models"] if m["name"] == "helper:latest")
    assert "[REDACTED:openai-api-key]" in helper["system_prompt"]["head"]
    assert {f["id"] for f in hostile["findings"]} >= {"AIC-MODEL-SECRET-IN-PROMPT"}


def test_sarif_validates_against_official_schema() -> None:
    doc = json.loads(render(_assessed(), "sarif"))
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft4Validator.check_schema(schema)
    jsonschema.Draft4Validator(schema).validate(doc)
    run = doc["runs"][0]
    rule_ids = (
        [r["id"] for r in run["rules"]]
        if "rules" in run
        else [r["id"] for r in run["tool"]["driver"]["rules"]]
    )
    assert "AIC-OLLAMA-UNAUTH-MGMT" in rule_ids
    result = next(r for r in run["results"] if r["ruleId"] == "AIC-TEMPLATE-CODE-EXEC")
    assert result["level"] == "error"
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == (
        "http://192.168.1.20:11434/"
    )
    assert result["locations"][0]["logicalLocations"][0]["name"] == "evil:latest"
    assert len({r["partialFingerprints"]["aicensusFinding/v1"] for r in run["results"]}) == len(
        run["results"]
    )


def test_cyclonedx_ml_bom_is_valid_and_has_provenance() -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    text = render(_assessed(), "cyclonedx")
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    doc = json.loads(text)
    assert doc["specVersion"] == "1.6"
    models = {c["name"]: c for c in doc["components"]}
    qwen = models["qwen2.5:7b"]
    assert qwen["type"] == "machine-learning-model"
    assert qwen["manufacturer"]["name"] == "Alibaba"
    assert {"name": "aicensus:country", "value": "CN"} in qwen["properties"]
    assert qwen["licenses"]
    services = {s["bom-ref"]: s for s in doc["services"]}
    assert services["service:1.2.3.4:11434"]["authenticated"] is False
    assert services["service:10.0.0.7:8080"]["authenticated"] is True
    assert any(v["id"] == "CVE-2024-37032" for v in doc["vulnerabilities"])


@pytest.mark.parametrize(
    ("cell", "safe"),
    [("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"),
     ("\tx", "'\tx"), ("\rx", "'\rx"), ("plain", "plain"), ("", "")],
)  # fmt: skip
def test_csv_safe(cell: str, safe: str) -> None:
    assert csv_safe(cell) == safe


def test_csv_has_no_formula_cells() -> None:
    rows = list(csv.reader(io.StringIO(render(_assessed(), "csv"))))
    assert rows[0][:3] == ["severity", "id", "title"]
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))


def test_table_strips_terminal_escapes() -> None:
    obs = hostile_models()
    obs.models[0].name = "evil\x1b[31mRED\x1b[0m\x07"
    text = render(Assessed(scan=None, services=[(obs, assess(obs))]), "table")
    assert "\x1b" not in text and "\x07" not in text and "evilRED" in text


def test_load_assessed_defaults_to_latest_scan_identified_only(db: str) -> None:
    assessed = load_assessed(db)
    assert [o.port for o, _ in assessed.services] == [11434, 8080, 11434]
    assert assessed.scan is not None and assessed.scan.scan_id == 1


@pytest.mark.parametrize("fmt", ["json", "csv", "sarif", "cyclonedx"])
def test_report_cli_writes_file(db: str, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"report.{fmt}"
    result = CliRunner().invoke(report_command, ["--db", db, "--format", fmt, "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert FAKE_KEY not in text
    assert "1.2.3.4" in text


def test_report_cli_errors_exit_2(tmp_path: Path, db: str) -> None:
    result = CliRunner().invoke(report_command, ["--db", str(tmp_path / "missing.duckdb")])
    assert result.exit_code == 2
    assert "aicensus: error:" in result.output
    result = CliRunner().invoke(report_command, ["--db", db, "--scan", "99"])
    assert result.exit_code == 2 and "no scan 99" in result.output


def test_script_model_name_survives_as_data() -> None:
    doc = json.loads(render(_assessed(), "json"))
    names = [m["name"] for s in doc["services"] for m in s["models"]]
    assert SCRIPT_NAME in names
