"""The three-state verdict and the findings it produces, on a small hand-written bundle (so the
expected advisories are known exactly) and on the shipped bundle."""

from __future__ import annotations

import msgspec
import pytest

from aicensus.assess import assess
from aicensus.assess.advisories.bundle import Osv, ProductSpec, build, current_bundle
from aicensus.assess.advisories.detector import UNDETERMINED_ID, UNKNOWN_ID
from aicensus.assess.advisories.match import State, judge
from aicensus.assess.finding import Severity
from aicensus.assess.policy import check_observation, parse_policy
from aicensus.records import Evidence, RequestLogEntry, ScanStatus, ServiceObservation

PKG = {"ecosystem": "Go", "name": "github.com/ollama/ollama"}


def _osv(ident: str, ranges: list[dict], **extra: object) -> Osv:
    meta = {"product": "ollama", "confidence": "reviewed",
            "source": {"repo": "test", "path": f"{ident}.json", "commit": "0" * 40}}  # fmt: skip
    meta.update(extra.pop("meta", {}))  # type: ignore[arg-type]
    return msgspec.convert(
        {"id": ident, "summary": f"summary of {ident}", "affected": [{"package": PKG, "ranges": ranges}],
         "database_specific": {"aicensus": meta}, **extra},
        Osv,
    )  # fmt: skip


def _sem(*events: dict[str, str]) -> list[dict]:
    return [{"type": "SEMVER", "events": list(events)}]


BUNDLE = build(
    [
        _osv(
            "GO-A",
            _sem({"introduced": "0"}, {"fixed": "1.0.0"}),
            aliases=["CVE-2024-0001"],
            severity=[{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
            meta={"known_exploited": {"catalog": "CISA KEV", "date_added": "2024-06-01"}},
        ),
        _osv(
            "GO-B",
            _sem({"introduced": "0.5.0"}, {"last_affected": "0.9.0"}),
            severity=[{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N"}],
            meta={"confidence": "aggregator"},
        ),
        _osv(
            "GO-C",
            [
                {
                    "type": "GIT",
                    "repo": "https://github.com/ollama/ollama",
                    "events": [{"introduced": "0"}, {"fixed": "abcdef0123456789"}],
                }
            ],
        ),
        _osv("GO-W", _sem({"introduced": "0"}), withdrawn="2024-01-01T00:00:00Z"),
    ],
    {"date": "2026-01-02"},
    "test",
    {"ollama": ProductSpec("ollama", (("Go", "github.com/ollama/ollama"),), identified=True)},
)


def _obs(version: str | None, **kw: object) -> ServiceObservation:
    return ServiceObservation(ip="10.0.0.1", port=11434, scheme="http", product="ollama",
                              status=ScanStatus.IDENTIFIED, version=version, **kw)  # type: ignore[arg-type]  # fmt: skip


@pytest.mark.parametrize(
    ("version", "state", "ids"),
    [
        ("0.4.0", State.AFFECTED, ["GO-A"]),
        ("0.7.1", State.AFFECTED, ["GO-A", "GO-B"]),
        ("v0.9.0", State.AFFECTED, ["GO-A", "GO-B"]),  # last_affected is inclusive
        ("0.9.1-rc1", State.AFFECTED, ["GO-A"]),
        ("1.0.0", State.NOT_AFFECTED, []),
        ("1.0.0-rocm", State.NOT_AFFECTED, []),  # Docker-style suffix
    ],
)
def test_known_version_gets_exactly_its_advisories(
    version: str, state: State, ids: list[str]
) -> None:
    verdict = judge(BUNDLE, "ollama", version)
    assert verdict.state is state
    assert sorted(m.advisory.id for m in verdict.matches) == ids
    assert [a.id for a in verdict.undetermined] == ["GO-C"]  # a commit range: never guessed
    found = {f.id for f in assess(_obs(version), advisories=BUNDLE)}
    expected = {"AIC-CVE-2024-0001" if i == "GO-A" else f"AIC-{i}" for i in ids}
    assert {i for i in found if i.startswith(("AIC-CVE", "AIC-GO"))} == expected
    assert UNDETERMINED_ID in found and UNKNOWN_ID not in found


@pytest.mark.parametrize("version", [None, "", "0.0.0", "unknown", "garbage!"])
def test_unknown_version_is_one_finding(version: str | None) -> None:
    assert judge(BUNDLE, "ollama", version).state is State.UNKNOWN_VERSION
    obs = _obs(version, request_log=[RequestLogEntry(method="GET", path="/api/version",
                                                     status=404, bytes=0, ms=1.0)])  # fmt: skip
    found = [
        f
        for f in assess(obs, advisories=BUNDLE)
        if f.id.startswith(("AIC-CVE", "AIC-GO", "AIC-VULN"))
    ]
    assert [f.id for f in found] == [UNKNOWN_ID]
    (f,) = found
    assert f.severity == Severity.INFO
    assert "3 published advisories for ollama may apply" in f.detail  # withdrawn one excluded
    assert "1 critical" in f.detail and "1 known exploited" in f.detail
    assert "GET /api/version (version): answered 404" in f.detail


def test_affected_finding_carries_the_record() -> None:
    found = {f.id: f for f in assess(_obs("0.7.1"), advisories=BUNDLE)}
    a = found["AIC-CVE-2024-0001"]
    assert a.severity == Severity.CRITICAL  # 9.8 from the vector
    assert a.cve == ["CVE-2024-0001", "GO-A"]
    assert a.confidence == "confirmed"
    assert "Upgrade ollama to 1.0.0 or later." in a.remediation
    assert "known_exploited: CISA KEV 2024-06-01" in a.evidence
    assert "source: test GO-A.json @ 000000000000" in a.evidence
    b = found["AIC-GO-B"]
    assert b.severity == Severity.MEDIUM  # 5.9
    assert b.confidence == "unconfirmed"  # aggregator range
    assert "affected: >= 0.5.0, <= 0.9.0" in b.evidence


def test_product_without_advisories_is_not_affected() -> None:
    assert judge(BUNDLE, "vllm", None).state is State.NOT_AFFECTED
    assert judge(BUNDLE, "vllm", "0.1").state is State.NOT_AFFECTED


def test_policy_advisory_rules() -> None:
    policy = parse_policy("p.yaml", "name: t\nadvisories: {known_exploited: deny, "
                          "deny_ids: [go-b], unknown_version: deny, deny_severity: critical}")  # fmt: skip
    obs = _obs("0.7.1")
    rules = sorted(v.rule for v in check_observation(policy, obs, assess(obs, advisories=BUNDLE)))
    assert rules == [
        "advisories.deny_ids",
        "advisories.deny_severity",
        "advisories.known_exploited",
    ]
    none = _obs(None)
    rules = [v.rule for v in check_observation(policy, none, assess(none, advisories=BUNDLE))]
    assert rules == ["advisories.unknown_version"]
    fixed = _obs("1.0.0")
    assert check_observation(policy, fixed, assess(fixed, advisories=BUNDLE)) == []


def test_shipped_bundle_unknown_ollama_is_one_finding() -> None:
    obs = _obs(None, evidence=[Evidence(kind="match", probe="GET /", marker="banner")])
    vulns = [
        f for f in assess(obs) if f.id.startswith(("AIC-CVE", "AIC-GO", "AIC-VULN", "AIC-PYSEC"))
    ]
    assert [f.id for f in vulns] == [UNKNOWN_ID]
    n = len(current_bundle().by_product["ollama"])
    assert f"{n} published advisories for ollama may apply" in vulns[0].detail


def test_shipped_bundle_size() -> None:
    b = current_bundle()
    assert len(b.advisories) >= 500
    assert len(b.by_product) >= 40
    assert b.manifest["advisories"] == len(b.advisories)


def test_product_map_agrees_with_the_signatures() -> None:
    from aicensus.fingerprint.load import product_ids

    products = current_bundle().products
    identified = {p for p, spec in products.items() if spec.identified}
    # exactly the mapped products that a signature identifies are matched in scans
    assert identified == set(product_ids()) & set(products)
    assert {"ollama", "vllm", "llama.cpp"} <= identified


def test_hand_kept_notes_and_fixes_survive_in_the_records() -> None:
    # The old hand-kept table found fixes the records lack; its notes ride on the record.
    bundle = current_bundle()
    (div0,) = bundle.lookup("CVE-2025-0317")  # GO-2025-3559 lists no fixed version
    assert div0.id == "GO-2025-3559"
    meta = div0.osv.database_specific["aicensus"]
    assert meta["range_from"]["path"] == "scripts/advisories/handkept_ranges.yaml"
    assert "67b6a1c" in div0.note
    assert judge(bundle, "ollama", "0.31.1").matches
    assert div0 not in {m.advisory for m in judge(bundle, "ollama", "0.31.2").matches}
    (alloc,) = bundle.lookup("CVE-2025-0315")  # unconfirmed fix: the record's range stays
    assert "range_from" not in alloc.osv.database_specific["aicensus"]
    assert alloc in {m.advisory for m in judge(bundle, "ollama", "0.40.0").matches}
    found = {f.id: f for f in assess(_obs("0.31.1"))}
    assert "later versions may be affected" in found["AIC-CVE-2025-0315"].detail


def test_cna_range_replaces_a_wrong_aggregator_range() -> None:
    # AI-Infra-Guard files CVE-2024-30256 (Open WebUI SSRF) as "fixed 1.2.3", CVSS 10; the CNA's
    # record (GHSA-39wr-r5vm-3jxj) says "< 0.1.117", CVSS 6.4: a current Open WebUI is not affected.
    bundle = current_bundle()
    (ssrf,) = [a for a in bundle.lookup("CVE-2024-30256") if a.product == "open-webui"]
    meta = ssrf.osv.database_specific["aicensus"]
    assert meta["source_kind"] == "cve" and ssrf.confidence == "reviewed"
    assert meta["source"]["path"] == "cves/2024/30xxx/CVE-2024-30256.json"
    (aff,) = ssrf.osv.affected
    assert [e for r in aff["ranges"] for e in r["events"]] == [
        {"introduced": "0"},
        {"fixed": "0.1.117"},
    ]
    assert ssrf.severity == "medium"
    assert ssrf in {m.advisory for m in judge(bundle, "open-webui", "0.1.116").matches}
    assert ssrf not in {m.advisory for m in judge(bundle, "open-webui", "0.1.117").matches}
    assert ssrf not in {m.advisory for m in judge(bundle, "open-webui", "0.12.4").matches}
    obs = ServiceObservation(ip="192.0.2.10", port=8080, scheme="http", product="open-webui",
                             status=ScanStatus.IDENTIFIED, version="0.12.4")  # fmt: skip
    found = {f.id for f in assess(obs)}
    assert "AIC-CVE-2024-30256" not in found
