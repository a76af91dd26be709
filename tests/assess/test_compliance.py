"""Policy packs (assess/compliance.py, assess/packs/*.yaml), framework references (assess/frameworks)
and the compliance report (report/compliance.py) over recorded Ollama /api/tags answers run through
the real enumerate and attribute stages."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from aicensus.assess import assess
from aicensus.assess.catalog import all_checks
from aicensus.assess.compliance import (
    builtin_packs,
    check_pack,
    load_pack,
    parse_pack,
    parse_params,
    prepare,
)
from aicensus.assess.frameworks import Refs, finding_refs, invalid_refs, name_of
from aicensus.assess.policy import PolicyError
from aicensus.enumerate import get_dialect
from aicensus.pipeline import attribute_all
from aicensus.records import AuthState, Exchange, ScanStatus, ServiceObservation
from aicensus.report.compliance import build_report, history_from, render, to_sarif

DATA = Path(__file__).parents[1] / "data" / "compliance"
DEEPSEEK_PACKS = [p.name for p in builtin_packs() if "DeepSeek" in str(p.policy)]


def recorded_ollama(
    tags_file: str, auth: AuthState = AuthState.OPEN, ip: str = "127.0.0.1", when: str = ""
) -> ServiceObservation:
    """An Ollama service whose models come from a recorded /api/tags body, enumerated by the
    Ollama dialect and attributed by the attribution stage (nothing hand-attributed)."""
    body = (DATA / tags_file).read_bytes()
    exchanges = {"tags": Exchange(method="GET", path="/api/tags", status=200, body=body,
                                  headers={"content-type": "application/json"})}  # fmt: skip
    models = get_dialect("ollama").parse(exchanges)
    attribute_all(models)
    return ServiceObservation(
        ip=ip, port=11434, scheme="http", status=ScanStatus.IDENTIFIED, product="ollama",
        version="0.5.7", confidence=1.0, auth=auth, models=models,
        observed_at=when or "2025-03-01T00:00:00+00:00",
    )  # fmt: skip


def services(*obs: ServiceObservation) -> list[tuple[ServiceObservation, list]]:
    return [(o, assess(o)) for o in obs]


def verdicts(pack: str, *obs: ServiceObservation, **kw: object) -> list:
    return check_pack(prepare(load_pack(pack), **kw), services(*obs))  # type: ignore[arg-type]


# ---------------------------------------------------------------- packs as data


def test_at_least_ten_published_rules_and_the_generic_packs() -> None:
    packs = {p.name: p for p in builtin_packs()}
    published = [p for p in packs.values() if p.status in ("in force", "guidance", "bill")]
    assert len(published) >= 10
    assert {"countries-of-concern", "licence-terms", "no-unauthenticated-servers"} <= set(packs)
    assert {p.status for p in published} == {"in force", "guidance", "bill"}


@pytest.mark.parametrize("pack", builtin_packs(), ids=lambda p: p.name)
def test_every_pack_has_source_date_scope_and_valid_refs(pack) -> None:
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", pack.date)
    assert pack.source.startswith(("https://", "http://"))
    assert len(pack.scope_note) > 60 and pack.verification and pack.issuer and pack.jurisdiction
    assert pack.covers
    assert not invalid_refs(pack.refs)
    assert any(getattr(pack.refs, k) for k in ("owasp", "atlas", "cwe", "nist"))
    # never overclaim: a rule that names only the vendor's app or service must say so
    if not pack.weights_covered:
        assert re.search(r"(?i)conservative|not .*weights|review|self-hosted", pack.scope_note)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("name: x\n", "title"),
        (
            "name: x\ntitle: t\nissuer: i\njurisdiction: j\ndate: 2025-13-01\nstatus: bill\n"
            "source: https://a\ncovers: [app]\nscope_note: s\nverification: v\n",
            "date",
        ),
        (
            "name: x\ntitle: t\nissuer: i\njurisdiction: j\ndate: '2025-01-01'\nstatus: law\n"
            "source: https://a\ncovers: [app]\nscope_note: s\nverification: v\n",
            "status",
        ),
        (
            "name: x\ntitle: t\nissuer: i\njurisdiction: j\ndate: '2025-01-01'\nstatus: bill\n"
            "source: https://a\ncovers: [app]\nscope_note: s\nverification: v\n"
            "refs: {atlas: [AML.T9999]}\n",
            "AML.T9999",
        ),
        (
            "name: x\ntitle: t\nissuer: i\njurisdiction: j\ndate: '2025-01-01'\nstatus: bill\n"
            "source: https://a\ncovers: [app]\nscope_note: s\nverification: v\n"
            "policy: {countries: {deny: [$nope]}}\n",
            "$nope",
        ),
        (
            "name: x\ntitle: t\nissuer: i\njurisdiction: j\ndate: '2025-01-01'\nstatus: bill\n"
            "source: https://a\ncovers: [app]\nscope_note: s\nverification: v\n"
            "policy: {require_auth: maybe}\n",
            "require_auth",
        ),
    ],
)
def test_bad_pack_is_one_line_naming_file_and_field(text: str, field: str) -> None:
    with pytest.raises(PolicyError) as err:
        parse_pack("bad.yaml", text)
    msg = str(err.value)
    assert "\n" not in msg and "bad.yaml" in msg and field in msg


def test_unknown_pack_and_bad_params() -> None:
    with pytest.raises(PolicyError, match="no pack named"):
        load_pack("no-such-pack")
    with pytest.raises(PolicyError, match="not a parameter"):
        prepare(load_pack("countries-of-concern"), {"colours": ["red"]})
    with pytest.raises(PolicyError, match="NAME=VALUE"):
        parse_params(["countries"])
    with pytest.raises(PolicyError, match="profile"):
        prepare(load_pack("licence-terms"), profile="hobby")


# ---------------------------------------------------------------- acceptance


@pytest.mark.parametrize("pack", DEEPSEEK_PACKS)
def test_deepseek_r1_violates_every_deepseek_pack_with_its_evidence(pack: str) -> None:
    obs = recorded_ollama("ollama-api-tags.json")
    found = [v for v in verdicts(pack, obs) if v.model == "deepseek-r1:7b"]
    assert len(found) == 1, found
    v = found[0]
    advisory = load_pack(pack).advisory
    assert v.verdict == ("review" if advisory else "violation")
    assert v.rule == "developers.deny" and v.pack == pack and v.source.startswith("http")
    assert v.chain is not None and v.chain.developer == "DeepSeek" and v.chain.country == "CN"
    assert v.chain.confidence >= 0.6
    assert "deepseek-r1:7b -> DeepSeek -> CN" in v.evidence[0]
    assert v.reading  # why the rule reaches a self-hosted model, or that it is a reading


def test_unknown_developer_is_reported_unknown_not_passing() -> None:
    obs = recorded_ollama("ollama-api-tags.json")
    unknown = [v for v in verdicts("us-tx-prohibited-technologies-2025", obs)
               if v.model == "mystery-model:latest"]  # fmt: skip
    assert [v.verdict for v in unknown] == ["unknown"]
    assert "unknown developer" in unknown[0].evidence[0]


def test_pack_minimum_confidence_makes_weak_attribution_undetermined() -> None:
    obs = recorded_ollama("ollama-api-tags.json")
    deepseek = next(m for m in obs.models if m.name == "deepseek-r1:7b")
    deepseek.attribution_confidence = 0.4  # as a pattern-only match would be
    found = [v for v in verdicts("us-nasa-deepseek-2025", obs) if v.model == deepseek.name]
    assert [v.verdict for v in found] == ["undetermined"]
    assert "below the pack's 0.60" in found[0].message


def test_countries_pack_is_parameterised() -> None:
    obs = recorded_ollama("ollama-api-tags.json")
    default = {v.model for v in verdicts("countries-of-concern", obs) if v.verdict == "violation"}
    assert default == {"deepseek-r1:7b"}
    canada = verdicts("countries-of-concern", obs, params={"countries": ["CA"]})
    assert {v.model for v in canada if v.verdict == "violation"} == {"command-r:35b"}


def test_non_commercial_model_violates_licence_terms_only_in_commercial_profile() -> None:
    obs = recorded_ollama("ollama-api-tags.json")
    commercial = [v for v in verdicts("licence-terms", obs) if v.model == "command-r:35b"]
    assert [v.verdict for v in commercial] == ["violation"]
    v = commercial[0]
    assert v.rule == "clauses.non-commercial"
    assert any("NonCommercial means" in e for e in v.evidence)
    assert any("non-commercial" in e for e in v.evidence)
    research = [v for v in verdicts("licence-terms", obs, profile="research")
                if v.model == "command-r:35b"]  # fmt: skip
    assert [v.verdict for v in research] == ["review"]


def test_western_model_on_authenticated_server_violates_nothing() -> None:
    obs = recorded_ollama("ollama-api-tags-western.json", auth=AuthState.AUTH_REQUIRED)
    assert obs.models[0].developer == "Mistral AI"
    for pack in builtin_packs():
        bad = [v for v in verdicts(pack.name, obs) if v.verdict in ("violation", "unknown")]
        assert bad == [], (pack.name, bad)


def test_open_server_violates_no_unauthenticated_servers_with_auth_evidence() -> None:
    obs = recorded_ollama("ollama-api-tags-western.json", auth=AuthState.OPEN)
    found = verdicts("no-unauthenticated-servers", obs)
    assert [(v.rule, v.verdict) for v in found] == [("require_auth", "violation")]
    assert "auth state: open" in found[0].evidence


# ---------------------------------------------------------------- frameworks


def test_every_check_reference_is_in_the_bundled_framework_data() -> None:
    refs = finding_refs()
    assert {c.id for c in all_checks()} == set(refs)
    for check_id, r in refs.items():
        assert not invalid_refs(r), (check_id, invalid_refs(r))
        assert r.atlas or r.nist, check_id  # every check maps to ATLAS or NIST


def test_framework_data_is_the_published_ids() -> None:
    assert name_of("owasp", "LLM03:2025") == "Supply Chain"
    assert name_of("atlas", "AML.T0040") == "AI Model Inference API Access"
    assert name_of("atlas", "AML.T0010.003") == "Model"
    assert name_of("nist", "PR.AA") and name_of("nist", "GOVERN 6")
    assert name_of("atlas", "AML.T9999") is None
    assert invalid_refs(Refs(cwe=["CWE-99999"])) == ["cwe CWE-99999"]


# ---------------------------------------------------------------- report


def _report(fmt: str) -> str:
    earlier = recorded_ollama("ollama-api-tags.json", when="2025-02-10T08:00:00+00:00")
    now = recorded_ollama("ollama-api-tags.json", when="2025-03-01T00:00:00+00:00")
    runs = [prepare(load_pack(n)) for n in ("au-pspf-direction-001-2025", "licence-terms")]
    report = build_report(runs, services(now), history=history_from([now, earlier]))
    return render(report, fmt)


def test_report_text_shows_since_evidence_and_alternatives_without_cn() -> None:
    text = _report("text")
    assert "au-pspf-direction-001-2025: VIOLATED" in text
    assert "since 2025-02-10" in text
    assert "deepseek-r1:7b -> DeepSeek -> CN" in text
    alts = [line for line in text.splitlines() if "alternatives:" in line]
    assert alts and not any(", CN)" in line for line in alts[:1])


def test_report_json_and_html_and_sarif_taxonomies() -> None:
    doc = json.loads(_report("json"))
    pack = doc["packs"][0]
    assert pack["date"] == "2025-02-04" and pack["source"].startswith("https://")
    assert pack["counts"]["violation"] >= 1 and pack["compliant"] is False
    html = _report("html")
    assert "<script" not in html and "au-pspf-direction-001-2025" in html
    sarif = json.loads(_report("sarif"))
    run = sarif["runs"][0]
    names = {t["name"] for t in run["taxonomies"]}
    assert (
        "OWASP Top 10 for LLM Applications 2025" in names and "NIST AI RMF 1.0 / CSF 2.0" in names
    )
    taxa = {t["id"] for tax in run["taxonomies"] for t in tax["taxa"]}
    for rule in run["tool"]["driver"]["rules"]:
        for rel in rule["relationships"]:
            assert rel["target"]["id"] in taxa
    assert to_sarif  # the library function the CLI uses


# ---------------------------------------------------------------- CLI


def _store(path: str) -> str:
    from aicensus.store import Store

    with Store.open(path) as store:
        for when in ("2025-02-10T08:00:00+00:00", "2025-03-01T00:00:00+00:00"):
            scan = store.begin_scan("scan", {"targets": ["127.0.0.1"]})
            store.add_observations(scan, [
                recorded_ollama("ollama-api-tags.json", when=when),
                recorded_ollama("ollama-api-tags-western.json", auth=AuthState.AUTH_REQUIRED,
                                ip="127.0.0.2", when=when),
            ])  # fmt: skip
            store.finish_scan(scan)
    return path


def _run(*args: str):
    from click.testing import CliRunner

    from aicensus.cli.app import _register, cli

    _register()  # what `main` does before parsing (idempotent)
    return CliRunner().invoke(cli, list(args))


def test_cli_packs_list_and_show_have_source_and_date() -> None:
    listed = _run("policy", "packs", "list")
    assert listed.exit_code == 0 and len(listed.output.splitlines()) == len(builtin_packs())
    for pack in builtin_packs():
        shown = _run("policy", "packs", "show", pack.name)
        assert shown.exit_code == 0, shown.output
        assert f"date:         {pack.date}" in shown.output
        assert f"source:       {pack.source}" in shown.output
    bad = _run("policy", "packs", "show", "no-such-pack")
    assert bad.exit_code == 2 and "no pack named" in bad.output


def test_cli_policy_check_pack_over_store(tmp_path: Path) -> None:
    db = _store(str(tmp_path / "s.duckdb"))
    res = _run("policy", "check", "--db", db, "--pack", "us-tx-prohibited-technologies-2025",
               "--format", "json")  # fmt: skip
    assert res.exit_code == 1, res.output
    doc = json.loads(res.output)
    items = doc["packs"][0]["items"]
    hit = [i for i in items if i["verdict"]["verdict"] == "violation"]
    assert [(i["verdict"]["ip"], i["verdict"]["model"]) for i in hit] == [
        ("127.0.0.1", "deepseek-r1:7b")
    ]
    assert not any(i["verdict"]["ip"] == "127.0.0.2" for i in items)
    clean = _run("policy", "check", "--db", db, "--pack", "no-unauthenticated-servers")
    assert clean.exit_code == 1  # the DeepSeek host is open
    bad = _run("policy", "check", "--db", db, "--pack", "countries-of-concern", "--param", "x=1")
    assert bad.exit_code == 2 and bad.output.count("\n") == 1


def test_cli_report_compliance_since_from_store_history(tmp_path: Path) -> None:
    db = _store(str(tmp_path / "s.duckdb"))
    res = _run("report", "compliance", "--db", db, "--pack", "au-pspf-direction-001-2025",
               "--pack", "licence-terms", "--profile", "commercial")  # fmt: skip
    assert res.exit_code == 1, res.output
    assert "since 2025-02-10" in res.output
    assert "command-r:35b: non-commercial licence" in res.output
    out = tmp_path / "r.sarif"
    res = _run("report", "compliance", "--db", db, "--pack", "licence-terms", "--format", "sarif",
               "-o", str(out))  # fmt: skip
    assert res.exit_code == 1 and json.loads(out.read_text())["runs"][0]["taxonomies"]


def test_pattern_match_is_reported_with_its_confidence() -> None:
    obs = recorded_ollama("ollama-api-tags-western.json")
    obs.models[0].name = "deepseek-foo:1b"
    attribute_all(obs.models)
    found = verdicts("us-nasa-deepseek-2025", obs)
    assert [v.verdict for v in found] == ["violation"]
    assert "confidence 0.65, matched by name pattern" in found[0].evidence[0]


def test_scan_report_json_sarif_and_cyclonedx_carry_framework_refs() -> None:
    from aicensus.report.exports import render as render_scan
    from aicensus.report.source import Assessed
    from tests.support.assess_cases import open_ollama

    assessed = Assessed(scan=None, services=[(o, assess(o)) for o in [open_ollama()]])
    doc = json.loads(render_scan(assessed, "json"))
    unauth = next(f for f in doc["services"][0]["findings"] if f["id"] == "AIC-UNAUTH-INFERENCE")
    assert "AML.T0040" in unauth["atlas"] and "PR.AA" in unauth["nist"]
    run = json.loads(render_scan(assessed, "sarif"))["runs"][0]
    taxa = {t["id"] for tax in run["taxonomies"] for t in tax["taxa"]}
    assert {"AML.T0040", "PR.AA", "CWE-306", "LLM10"} <= taxa
    for rule in run["tool"]["driver"]["rules"]:
        assert rule["relationships"], rule["id"]
        assert all(r["target"]["id"] in taxa for r in rule["relationships"])
    pytest.importorskip("cyclonedx")  # an optional extra; present in the dev venv
    bom = json.loads(render_scan(assessed, "cyclonedx"))
    by_id = {
        v["id"]: {p["name"]: p["value"] for p in v["properties"]} for v in bom["vulnerabilities"]
    }
    props = by_id["AIC-UNAUTH-INFERENCE"]
    assert "AML.T0040" in props["aicensus:atlas"] and "PR.AA" in props["aicensus:nist"]


def test_cli_policy_check_pack_over_audit_json(tmp_path: Path) -> None:
    from aicensus.audit.records import AuditResult, LocalService
    from aicensus.audit.render import write_json

    obs = recorded_ollama("ollama-api-tags.json")
    service = LocalService(ip=obs.ip, port=obs.port, product="ollama", version=obs.version,
                           auth="open", binding="loopback", exposure="loopback", observation=obs,
                           findings=assess(obs))  # fmt: skip
    result = AuditResult(host="h", started_at="2025-03-01T00:00:00+00:00", seconds=1.0,
                         mode="local", services=[service])  # fmt: skip
    path = tmp_path / "audit.json"
    with path.open("w") as out:
        write_json(out, result)  # exactly what `aicensus audit --format json` writes
    res = _run("policy", "check", "--audit", str(path), "--pack", "us-ny-deepseek-2025")
    assert res.exit_code == 1 and "[violation] 127.0.0.1:11434" in res.output
    assert "deepseek-r1:7b -> DeepSeek -> CN" in res.output
    doc = json.loads(path.read_text())
    assert all("atlas" in f and "nist" in f for f in doc["findings"]) and doc["findings"]
    path.write_text('{"services": [{"observation": {"ip": 5}}]}')
    bad = _run("policy", "check", "--audit", str(path), "--pack", "us-ny-deepseek-2025")
    assert bad.exit_code == 2 and "services[0]" in bad.output and bad.output.count("\n") == 1


def test_library_compliance_report_over_store(tmp_path: Path) -> None:
    from aicensus.report.compliance import compliance_report

    db = _store(str(tmp_path / "s.duckdb"))
    report = compliance_report(db, ["countries-of-concern"], params={"countries": ["CA"]})
    (section,) = report.packs
    assert section.params == {"countries": ["CA"]} and not section.compliant
    hit = [i for i in section.items if i.verdict.verdict == "violation"]
    assert [i.verdict.model for i in hit] == ["command-r:35b"]
    assert hit[0].since and hit[0].since.startswith("2025-02-10")
    assert all(a.country != "CA" for a in hit[0].alternatives)


def test_every_policy_rule_has_valid_framework_refs() -> None:
    from aicensus.assess.frameworks import policy_rule_refs, rule_refs
    from aicensus.assess.policy import Policy

    mapped = policy_rule_refs()
    assert set(Policy.__struct_fields__) == set(mapped)
    for field, refs in mapped.items():
        assert not invalid_refs(refs), field
    assert "PR.AA" in rule_refs("require_auth").nist
    obs = recorded_ollama("ollama-api-tags-western.json", auth=AuthState.OPEN)
    (v,) = verdicts("no-unauthenticated-servers", obs)
    assert "AML.T0040" in v.refs.atlas and "CWE-306" in v.refs.cwe


def test_hostile_model_name_is_inert_in_text_and_html() -> None:
    obs = recorded_ollama("ollama-api-tags.json")
    obs.models[0].name = "deepseek-r1:7b\x1b[2J<script>alert(1)</script>\u202e"
    runs = [prepare(load_pack("us-ny-deepseek-2025"))]
    report = build_report(runs, services(obs))
    assert report.packs[0].items, "the renamed model must still be judged"
    text = render(report, "text")
    assert "\x1b" not in text and "\u202e" not in text
    page = render(report, "html")
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_compliance_sarif_validates_against_official_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema_file = Path(__file__).parents[1] / "report" / "data" / "sarif-schema-2.1.0.json"
    doc = json.loads(_report("sarif"))
    jsonschema.Draft4Validator(json.loads(schema_file.read_text())).validate(doc)
    kinds = {r["kind"] for r in doc["runs"][0]["results"]}
    assert "fail" in kinds and "review" in kinds


def test_cli_report_compliance_without_pack_is_one_line_error(tmp_path: Path) -> None:
    res = _run("report", "compliance", "--db", str(tmp_path / "none.duckdb"))
    assert res.exit_code == 2 and res.output.count("\n") == 1 and "--pack" in res.output
    res = _run(
        "report", "compliance", "--db", str(tmp_path / "none.duckdb"), "--pack", "licence-terms"
    )
    assert res.exit_code == 2 and res.output.count("\n") == 1


def test_llama32_eu_term_binds_multimodal_models_only() -> None:
    from aicensus.records import ModelRecord

    def served(*models: ModelRecord) -> ServiceObservation:
        return ServiceObservation(
            ip="127.0.0.1", port=11434, scheme="http", status=ScanStatus.IDENTIFIED,
            product="ollama", confidence=1.0, auth=AuthState.AUTH_REQUIRED, models=list(models),
        )  # fmt: skip

    licence = "Llama 3.2 Community License"
    obs = served(
        ModelRecord(name="llama3.2-vision:11b", licence=licence, capabilities=["completion", "vision"]),
        ModelRecord(name="llama3.2:3b", licence=licence, capabilities=["completion", "tools"]),
        ModelRecord(name="llama3.2:1b", licence=licence),  # capabilities not reported
        ModelRecord(name="hunyuan:7b", licence="Tencent Hunyuan Community License",
                    capabilities=["completion"]),
    )  # fmt: skip
    found = verdicts("licence-terms", obs)
    territory = {(v.model, v.rule) for v in found if "territory" in v.rule}
    assert territory == {
        ("llama3.2-vision:11b", "clauses.territory-multimodal"),
        ("llama3.2:1b", "clauses.territory-multimodal"),  # cannot be shown to be text-only
        ("hunyuan:7b", "clauses.territory"),
    }
    unreported = next(v for v in found if v.model == "llama3.2:1b" and "territory" in v.rule)
    assert any("capabilities were not reported" in e for e in unreported.evidence)
    assert all(v.verdict == "review" for v in found if "territory" in v.rule)
