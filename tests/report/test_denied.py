"""`aicensus report --policy`: the models a policy denies, with their card summary and the top
alternatives, in the library, the json, table and html reports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from aicensus.assess import assess
from aicensus.assess.policy import check_model, load_policy, parse_policy
from aicensus.attribute import attribute_name
from aicensus.cli.report import report_command
from aicensus.records import ModelRecord, ServiceObservation
from aicensus.report.denied import denied_models, policy_alternatives, policy_report
from aicensus.report.exports import render
from aicensus.report.html import render_html
from aicensus.report.source import Assessed
from aicensus.store import Store
from tests.support.assess_cases import SCRIPT_NAME, hostile_models, open_ollama

EXAMPLE = Path(__file__).parents[2] / "examples" / "policies" / "no-cn-models-on-production.yaml"
HOSTILE = "qwen2.5:7b\x1b[2J<img src=x onerror=alert(1)>\u202e"


def production() -> ServiceObservation:
    """Open Ollama inside the example policy's scope serving qwen2.5:7b and llama3.1:8b."""
    obs = open_ollama("10.20.1.5")
    obs.models = [
        ModelRecord(name="qwen2.5:7b", capabilities=["completion", "tools"],
                    developer="Alibaba", country="CN", licence="Apache-2.0"),
        ModelRecord(name="llama3.1:8b", capabilities=["completion", "tools"],
                    developer="Meta", country="US", licence="llama3.1"),
    ]  # fmt: skip
    return obs


def _assessed(*obs: ServiceObservation) -> Assessed:
    return Assessed(scan=None, services=[(o, assess(o)) for o in obs])


def _not_from(alternatives: list, country: str) -> None:
    assert alternatives
    for alt in alternatives:
        assert alt.country != country, alt
        base = attribute_name(alt.name).base
        assert base is None or base.country != country, alt


# ---------------------------------------------------------------- library


def test_example_policy_denies_qwen_with_card_and_non_cn_alternatives() -> None:
    policy = load_policy(EXAMPLE)
    denied = denied_models(_assessed(production()), policy)
    assert [(d.ip, d.port, d.model, d.rule) for d in denied] == [
        ("10.20.1.5", 11434, "qwen2.5:7b", "countries.deny")
    ]
    (qwen,) = denied
    card = qwen.card
    assert card.status == "attributed"
    assert (card.developer, card.country) == ("Alibaba", "CN")
    assert card.legal_entity and "Alibaba" in card.legal_entity
    assert card.licence == "Apache-2.0" and card.licence_class == "permissive"
    assert card.restrictions and card.sources
    assert qwen.alternatives_excluding == ["CN"]
    assert 1 <= len(qwen.alternatives) <= 3
    _not_from(qwen.alternatives, "CN")
    for alt in qwen.alternatives:
        assert alt.reason and alt.developer and alt.name != "qwen2.5:7b"


def test_observations_outside_the_scope_are_not_judged() -> None:
    policy = load_policy(EXAMPLE)
    assert denied_models([production(), open_ollama("1.2.3.4")], policy) == denied_models(
        [production()], policy
    )
    assert denied_models([open_ollama("1.2.3.4")], policy) == []


def test_a_base_model_from_a_denied_country_denies_the_derivative() -> None:
    obs = production()
    base = attribute_name("deepseek-r1:14b").base
    obs.models = [
        ModelRecord(name="deepseek-r1:14b", developer="DeepSeek", country="CN", base=base)
    ]
    policy = parse_policy("t", "name: t\ncountries: {deny: [CN], include_base: true}\n")
    (d,) = denied_models([obs], policy)
    assert d.card.base is not None and d.card.base.country == "CN"
    _not_from(d.alternatives, "CN")


def test_alternatives_respect_the_other_model_rules() -> None:
    policy = parse_policy(
        "t",
        "name: t\ncountries: {deny: [CN]}\ndevelopers: {deny: [Mistral AI, Essential AI]}\n"
        "licences: {deny: [Llama 3.2 Community License]}\n",
    )
    alts, excluded, _ = policy_alternatives("qwen2.5:7b", policy)
    assert excluded == ["CN"] and len(alts) == 3
    for alt in alts:
        assert alt.developer not in ("Mistral AI", "Essential AI")
        assert check_model(policy, ModelRecord(name=alt.name, developer=alt.developer,
                                               country=alt.country, licence=alt.licence)) == []  # fmt: skip
    _not_from(alts, "CN")
    # A sanctioned list no catalog model is on leaves nothing to propose, and says so.
    strict = parse_policy("t", "name: t\ncountries: {deny: [CN]}\nsanctioned_models: [our-*]\n")
    alts, _, note = policy_alternatives("qwen2.5:7b", strict)
    assert alts == [] and note and "passes this policy" in note


def test_unknown_and_hostile_names_get_an_unknown_card_and_no_alternatives() -> None:
    policy = parse_policy("t", "name: t\ncountries: {deny: [CN]}\n")
    report = policy_report([hostile_models()], policy)
    (d,) = report.denied_models
    assert d.model == SCRIPT_NAME and d.card.status == "unknown"
    assert d.alternatives == [] and d.alternatives_note
    assert not report.compliant and len(report.violations) == 1


def test_service_rules_are_violations_but_deny_no_model() -> None:
    policy = parse_policy("t", "name: t\nrequire_auth: true\nmax_severity: low\n")
    report = policy_report(_assessed(production()), policy)
    assert report.violations and report.denied_models == []


# ---------------------------------------------------------------- renderers


def test_json_report_has_policy_object() -> None:
    assessed = _assessed(production()).with_policy(load_policy(EXAMPLE), str(EXAMPLE))
    doc = json.loads(render(assessed, "json"))
    policy = doc["policy"]
    assert policy["name"] == "no-cn-models-on-production" and policy["compliant"] is False
    assert [v["model"] for v in policy["violations"]] == ["qwen2.5:7b"]
    (d,) = policy["denied_models"]
    assert {k: d[k] for k in ("ip", "port", "model", "rule")} == {
        "ip": "10.20.1.5", "port": 11434, "model": "qwen2.5:7b", "rule": "countries.deny"
    }  # fmt: skip
    assert d["card"]["developer"] == "Alibaba" and d["card"]["country"] == "CN"
    assert 1 <= len(d["alternatives"]) <= 3
    assert all(a["country"] != "CN" and a["reason"] for a in d["alternatives"])
    assert "llama3.1:8b" not in json.dumps(policy["denied_models"])


@pytest.mark.parametrize("fmt", ["json", "table"])
def test_no_policy_no_section(fmt: str) -> None:
    text = render(_assessed(production()), fmt)
    assert "Models your policy denies" not in text
    if fmt == "json":
        assert "policy" not in json.loads(text)
    assert "Models your policy denies" not in render_html(_assessed(production()))


def test_table_block_after_the_findings_is_terminal_safe() -> None:
    obs = production()
    obs.models.append(ModelRecord(name=HOSTILE, developer="Alibaba", country="CN"))
    assessed = _assessed(obs).with_policy(load_policy(EXAMPLE))
    text = render(assessed, "table")
    findings, _, block = text.partition("\nModels your policy denies")
    assert "AIC-" in findings and block
    assert "(policy no-cn-models-on-production: 2 models, 2 violations)" in block
    assert "10.20.1.5:11434  qwen2.5:7b\n" in block
    assert "Alibaba (CN)" in block and "alternatives (excluding CN)" in block
    assert "llama3.1:8b" not in block
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e]", text)


def test_html_section_is_escaped() -> None:
    obs = production()
    obs.models.append(ModelRecord(name=HOSTILE, developer="Alibaba", country="CN"))
    page = render_html(_assessed(obs).with_policy(load_policy(EXAMPLE)))
    section = page.split('<h2 id="denied">Models your policy denies</h2>')[1].split("<h2>")[0]
    assert section.count('<section class="denied">') == 2
    assert "Alibaba" in section and "llama3.1:8b" not in section
    assert "&lt;img src=x onerror=alert(1)&gt;" in section and "<img" not in page
    assert '<span class="ctl">\\x1b</span>' in section
    assert "<script" not in page.lower()


# ---------------------------------------------------------------- CLI


@pytest.fixture
def production_db(tmp_path: Path) -> str:
    db = str(tmp_path / "prod.duckdb")
    with Store.open(db) as store:
        scan = store.begin_scan("scan", {"targets": ["10.20.1.5"]})
        store.add_observations(scan, [production()])
        store.finish_scan(scan)
    return db


def test_cli_report_policy_json_table_html(production_db: str, tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["--db", production_db, "--policy", str(EXAMPLE)]
    result = runner.invoke(report_command, [*base, "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [d["model"] for d in doc["policy"]["denied_models"]] == ["qwen2.5:7b"]
    assert "1 models denied" in result.stderr
    table = runner.invoke(report_command, base)
    assert table.exit_code == 0 and "Models your policy denies" in table.stdout
    out = tmp_path / "r.html"
    html = runner.invoke(report_command, [*base, "--format", "html", "-o", str(out)])
    assert html.exit_code == 0, html.output
    assert "Models your policy denies" in out.read_text()
    plain = runner.invoke(report_command, ["--db", production_db, "--format", "json"])
    assert "policy" not in json.loads(plain.stdout)


def test_cli_report_policy_errors(production_db: str, tmp_path: Path) -> None:
    runner = CliRunner()
    wrong = runner.invoke(report_command, ["--db", production_db, "--policy", str(EXAMPLE),
                                           "--format", "csv"])  # fmt: skip
    assert wrong.exit_code == 2 and "--policy works with" in wrong.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ncountries: {deny: CN, bogus: 1}\n")
    result = runner.invoke(report_command, ["--db", production_db, "--policy", str(bad)])
    assert result.exit_code == 2 and "bad.yaml" in result.stderr
    assert "Traceback" not in result.output
