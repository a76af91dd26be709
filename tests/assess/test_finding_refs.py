"""Framework references travel on the Finding: every finding any check can produce (service, file
and host checks, and the advisories' per-CVE findings) carries OWASP, ATLAS, CWE and NIST ids set
when it was made, each of them known to the bundled framework data (assess/frameworks/)."""

from __future__ import annotations

import collections

import pytest

from aicensus.assess import assess
from aicensus.assess.advisories.bundle import current_bundle
from aicensus.assess.catalog import all_checks, builtin_checks
from aicensus.assess.detectors import Hit
from aicensus.assess.engine import _finding
from aicensus.assess.finding import Finding, Severity
from aicensus.assess.frameworks import finding_refs, invalid_refs, name_of, refs_of
from aicensus.audit import checking
from aicensus.records import AuthState, ScanStatus, ServiceObservation


def _obs(product: str = "ollama", version: str | None = "0.5.7") -> ServiceObservation:
    return ServiceObservation(
        ip="127.0.0.1", port=11434, scheme="http", status=ScanStatus.IDENTIFIED, product=product,
        version=version, confidence=1.0, auth=AuthState.OPEN,
    )  # fmt: skip


def _assert_carried(f: Finding) -> None:
    refs = refs_of(f)
    assert not invalid_refs(refs), (f.id, invalid_refs(refs))
    assert f.atlas or f.nist, f.id  # every finding maps to ATLAS or NIST
    assert all(o.endswith(":2025") for o in f.owasp), f.owasp


def test_every_service_check_puts_its_references_on_the_finding() -> None:
    expected = finding_refs()
    for check in builtin_checks():
        f = _finding(check, _obs(), Hit(["evidence"]))
        _assert_carried(f)
        want = expected[check.id]
        assert (refs_of(f).owasp, f.atlas, f.cwe, f.nist) == (
            want.owasp, want.atlas, want.cwe, want.nist
        )  # fmt: skip


def test_every_file_and_host_check_puts_its_references_on_the_finding() -> None:
    values: dict[str, str] = collections.defaultdict(lambda: "x")  # fills any {field}
    seen = set()
    for scope in ("file", "host"):
        for check in checking.checks(scope):  # type: ignore[arg-type]
            registry = checking.FILE_DETECTORS if scope == "file" else checking.HOST_DETECTORS
            params = checking._params(check, registry)
            where: dict[str, object] = (
                {"kind": "file", "path": "/m/model.gguf"} if scope == "file"
                else {"ip": "127.0.0.1", "port": 8080}
            )  # fmt: skip
            f = checking._finding(check, checking.Hit(["evidence"], values), params, **where)
            _assert_carried(f)
            assert f.atlas == finding_refs()[check.id].atlas
            seen.add(check.id)
    # every check of the catalogue is covered by this test or the service one
    assert {c.id for c in all_checks()} == seen | {c.id for c in builtin_checks()}


def test_every_cwe_of_the_bundled_advisories_is_in_the_framework_data() -> None:
    cwes = {
        c for a in current_bundle().advisories
        for c in a.osv.database_specific.get("cwe_ids") or []
    }  # fmt: skip
    assert cwes, "the bundled advisories carry CWE ids"
    assert sorted(c for c in cwes if name_of("cwe", c) is None) == []


def _affected_versions(adv: object) -> list[str]:
    """Versions an advisory's ranges say are affected (introduced, last_affected), then guesses
    below any fix (b1 for llama.cpp's build numbers)."""
    out = []
    for aff in adv.osv.affected:  # type: ignore[attr-defined]
        for rng in aff.get("ranges") or []:
            for ev in rng.get("events") or []:
                out += [
                    v for k, v in ev.items() if k in ("introduced", "last_affected") and v != "0"
                ]
        out += list(aff.get("versions") or [])[:3]
    return [*out, "b1", "0.0.1", "0.1.0", "1.0.0"]


def test_advisory_findings_carry_the_advisories_cwe_ids_all_known() -> None:
    # Each bundled advisory that names CWE ids, matched by the real detector through assess():
    # its finding carries those CWE ids, the advisories detector's ATLAS/NIST ids, all known.
    reached = set()
    with_cwe = [a for a in current_bundle().advisories if a.osv.database_specific.get("cwe_ids")]
    assert with_cwe
    for adv in with_cwe:
        want = f"AIC-{adv.cve or adv.id}"
        for version in _affected_versions(adv):
            hit = [f for f in assess(_obs(adv.product, version)) if f.id == want]
            if hit:
                _assert_carried(hit[0])
                assert set(adv.osv.database_specific["cwe_ids"]) <= set(hit[0].cwe)
                reached.add(adv.id)
                break
    assert len(reached) >= len(with_cwe) * 0.8, (len(reached), len(with_cwe))


@pytest.mark.parametrize("version", ["0.0.1", "1.0.0"])
def test_advisory_findings_of_every_product_carry_known_references(version: str) -> None:
    # Old versions match many advisories (AIC-CVE-..., AIC-GHSA-...) and unknown versions the
    # AIC-VULN-* findings: the real detector and bundle, through assess().
    found = []
    for product in sorted(current_bundle().products):
        found += assess(_obs(product, version))
    assert len([f for f in found if f.cve]) > 20
    for f in found:
        _assert_carried(f)


def test_json_sarif_and_cyclonedx_read_the_references_off_the_finding() -> None:
    # Nothing is looked up at export time: a Finding made without ATLAS/NIST ids exports none,
    # one made by assess() exports its own.
    import json

    from aicensus.report.cyclonedx import to_cyclonedx_json
    from aicensus.report.exports import to_json_doc, to_sarif
    from aicensus.report.source import Assessed

    obs = _obs()
    bare = Finding(id="AIC-UNAUTH-INFERENCE", severity=Severity.HIGH, title="t", detail="d",
                   remediation="r", ip=obs.ip, port=obs.port, owasp=["LLM10:2025"])  # fmt: skip
    made = assess(obs)
    tagged = next(f for f in made if f.id == "AIC-UNAUTH-INFERENCE")
    assert tagged.atlas and tagged.nist
    for findings, atlas in (([bare], []), ([tagged], tagged.atlas)):
        assessed = Assessed(scan=None, services=[(obs, findings)])
        doc = to_json_doc(assessed)
        assert doc["services"][0]["findings"][0]["atlas"] == atlas  # type: ignore[index]
        sarif = to_sarif(assessed)
        taxa = {t["name"]: [x["id"] for x in t["taxa"]] for t in sarif["runs"][0]["taxonomies"]}  # type: ignore[index]
        assert taxa.get("MITRE ATLAS", []) == atlas
        bom = json.loads(to_cyclonedx_json(assessed))
        props = {p["name"]: p["value"] for v in bom.get("vulnerabilities", [])
                 for p in v.get("properties", [])}  # fmt: skip
        assert props.get("aicensus:atlas", "") == ",".join(atlas)
