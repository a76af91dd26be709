from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from aicensus.assess import assess
from aicensus.assess.policy import PolicyError, check_observation, load_policy, parse_policy
from aicensus.cli.policy import policy_group
from tests.support.assess_cases import keyed_llamacpp, open_ollama

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "policies"


def _check(policy_text: str, obs):  # type: ignore[no-untyped-def]
    return check_observation(parse_policy("p.yaml", policy_text), obs, assess(obs))


def test_deny_cn_names_host_and_model() -> None:
    violations = _check("name: t\ncountries: {deny: [cn]}", open_ollama())
    assert [(v.rule, v.ip, v.port, v.model) for v in violations] == [
        ("countries.deny", "1.2.3.4", 11434, "qwen2.5:7b")
    ]
    assert "Alibaba (CN)" in violations[0].evidence[0]


def test_scope_excludes_hosts_outside() -> None:
    assert _check("name: t\nscope: [10.0.0.0/8]\ncountries: {deny: [CN]}", open_ollama()) == []


def test_require_auth_and_max_severity() -> None:
    v = _check("name: t\nrequire_auth: true", open_ollama())
    assert [x.rule for x in v] == ["require_auth"]
    assert any("GET /api/tags" in e for e in v[0].evidence)
    assert _check("name: t\nrequire_auth: true\nmax_severity: medium", keyed_llamacpp()) == []
    sev = _check("name: t\nmax_severity: high", open_ollama())
    assert {x.rule for x in sev} == {"max_severity"}
    assert any("AIC-OLLAMA-UNAUTH-MGMT" in x.message for x in sev)


def test_allow_lists_sanctioned_hosts_models_and_capabilities() -> None:
    obs = open_ollama()
    v = _check("name: t\nsanctioned_hosts: [10.0.0.0/8]", obs)
    assert [x.rule for x in v] == ["sanctioned_hosts"]
    v = _check("name: t\nsanctioned_models: ['qwen2.5:*']", obs)
    assert [(x.rule, x.model) for x in v] == [("sanctioned_models", "llama3.2-vision:11b")]
    v = _check("name: t\ncapabilities: {deny: [vision]}", obs)
    assert [(x.rule, x.model) for x in v] == [("capabilities.deny", "llama3.2-vision:11b")]
    v = _check("name: t\ndevelopers: {allow: [meta]}", obs)
    assert [(x.rule, x.model) for x in v] == [("developers.allow", "qwen2.5:7b")]
    v = _check("name: t\nlicences: {deny: [Apache-2.0]}", obs)
    assert [x.model for x in v] == ["qwen2.5:7b"]
    v = _check("name: t\ncountries: {allow: [US], unknown: deny}", keyed_llamacpp())
    assert [x.rule for x in v] == ["countries.unknown"]


@pytest.mark.parametrize(
    ("text", "field"),
    [("name: t\ncountries: {deny: CN}", "countries.deny"),
     ("name: t\nscope: [10.0.0.0/33]", "scope[0]"),
     ("name: t\nmax_severity: extreme", "max_severity"),
     ("name: t\nrequire_authentication: true", "require_authentication"),
     ("description: no name", "name"),
     ("name: [", "not valid YAML")],
)  # fmt: skip
def test_bad_policy_names_file_and_field(text: str, field: str) -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy("bad.yaml", text)
    assert "bad.yaml" in str(info.value) and field in str(info.value)
    assert "\n" not in str(info.value)


def test_example_policies_are_valid() -> None:
    names = sorted(p.name for p in EXAMPLES.glob("*.yaml"))
    assert names == ["no-cn-models-on-production.yaml", "require-auth.yaml"]
    for p in EXAMPLES.glob("*.yaml"):
        load_policy(p)


def test_cli_example_no_cn_on_production(db: str) -> None:
    # the test services sit outside the example's production ranges → compliant
    result = CliRunner().invoke(
        policy_group,
        ["check", "--policy", str(EXAMPLES / "no-cn-models-on-production.yaml"), "--db", db],
    )
    assert result.exit_code == 0, result.output


def test_cli_deny_cn_exits_1_and_names_host_and_model(db: str, tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text("name: no-cn\ncountries: {deny: [CN]}\n")
    result = CliRunner().invoke(policy_group, ["check", "--policy", str(policy), "--db", db])
    assert result.exit_code == 1
    assert "1.2.3.4:11434" in result.output and "qwen2.5:7b" in result.output
    assert "countries.deny" in result.output
    assert "<script>alert(1)</script>" in result.output  # CN model on 192.168.1.20, as text
    result = CliRunner().invoke(
        policy_group, ["check", "--policy", str(policy), "--db", db, "--format", "json"]
    )
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["compliant"] is False
    assert {(v["ip"], v["model"]) for v in doc["violations"]} == {
        ("1.2.3.4", "qwen2.5:7b"),
        ("192.168.1.20", "<script>alert(1)</script>"),
    }


def test_cli_require_auth_example(db: str) -> None:
    result = CliRunner().invoke(
        policy_group,
        ["check", "--policy", str(EXAMPLES / "require-auth.yaml"), "--db", db, "--format", "json"],
    )
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    unauth = {v["ip"] for v in doc["violations"] if v["rule"] == "require_auth"}
    assert unauth == {"1.2.3.4", "192.168.1.20"}  # the keyed llama.cpp (10.0.0.7) complies
    assert "10.0.0.7" not in {v["ip"] for v in doc["violations"]}


def test_cli_bad_policy_exits_2_one_line(db: str, tmp_path: Path) -> None:
    policy = tmp_path / "bad.yaml"
    policy.write_text("name: x\ncountries: {deny: CN}\n")
    result = CliRunner().invoke(policy_group, ["check", "--policy", str(policy), "--db", db])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line]
    assert len(lines) == 1 and "bad.yaml" in lines[0] and "countries.deny" in lines[0]
