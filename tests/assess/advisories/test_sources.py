"""50 bundled advisories picked at random (scripts/advisories/make_fixture.py, seed 16) checked
against their source records, stored trimmed in data/sources50.json with repo, path and commit.

For each: the bundled record names that source; id, aliases, summary, references and CVSS vector
are the source's; and the bundle's affected verdict equals the source's own version rule at and
around every boundary it names, evaluated here independently of the build script.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from packaging.version import InvalidVersion, Version

from aicensus.assess.advisories.bundle import Advisory, current_bundle
from aicensus.assess.advisories.ranges import evaluate
from aicensus.assess.advisories.versions import parse

FIXTURE = json.loads((Path(__file__).parent / "data" / "sources50.json").read_text())
_CLAUSE = re.compile(r'version\s*(<=|>=|==|=|<|>)\s*"([^"]*)"')
GHSA_SNAPSHOT = Path(__file__).parents[3] / "scripts" / "advisories" / "ghsa_vuln_list.jsonl"
_GH_CLAUSE = re.compile(r"(<=|>=|<|>|=)\s*(\S+)")


def _bundled(entry: dict[str, Any]) -> Advisory:
    found = [
        a for a in current_bundle().by_product[entry["product"]]
        if a.source.get("path") == entry["source"]["path"]
        and a.source.get("commit") == entry["source"]["commit"]
    ]  # fmt: skip
    assert len(found) == 1, entry["source"]
    return found[0]


def test_fixture_is_fifty_distinct_records() -> None:
    assert len({(e["source"]["repo"], e["source"]["path"]) for e in FIXTURE}) == 50
    assert all(re.fullmatch(r"[0-9a-f]{40}", e["source"]["commit"]) for e in FIXTURE)


def _key(scheme: str, text: str) -> Version | None:
    if scheme == "llamacpp-build":
        m = re.fullmatch(r"b?(\d+)", text)
        return Version(m.group(1)) if m else None
    try:
        return Version(text.lstrip("v"))
    except InvalidVersion:
        return None


def _rule_says(rule: str, scheme: str, version: str) -> bool | None:
    """The aggregator's rule read literally: OR of AND-ed comparisons."""
    v = _key(scheme, version)
    assert v is not None
    rule = rule.split(" #")[0].strip().strip("'")
    if re.fullmatch(r'"[^"]+"', rule):
        rule = f"version == {rule}"
    any_term = False
    for term in rule.replace("(", "").replace(")", "").split("||"):
        ok = True
        for part in term.split("&&"):
            m = _CLAUSE.fullmatch(part.strip())
            if m is None:
                return None
            bound = _key(scheme, m.group(2))
            if bound is None:
                return None
            op = m.group(1)
            ok = ok and {
                "<": v < bound, "<=": v <= bound, ">": v > bound, ">=": v >= bound,
                "==": v == bound, "=": v == bound,
            }[op]  # fmt: skip
        any_term = any_term or ok
    return any_term


def _probes(rule: str, scheme: str) -> list[str]:
    """Every boundary the rule names, and its neighbours."""
    out = {"0.0.1", "9999.0"} if scheme == "pep440" else {"b1", "b99999"}
    for _, value in _CLAUSE.findall(rule):
        key = _key(scheme, value)
        if key is None:
            continue
        if scheme == "llamacpp-build":
            n = key.release[0]
            out |= {f"b{n - 1}", f"b{n}", f"b{n + 1}"}
            continue
        rel = list(key.release)
        if key != Version("0"):  # "> 0" means "from the first release": no version 0 exists
            out.add(str(key))
        up = [*rel[:-1], rel[-1] + 1]
        out.add(".".join(map(str, up)))
        if rel[-1] > 0:
            out.add(".".join(map(str, [*rel[:-1], rel[-1] - 1])))
    return sorted(out)


def _bundle_says(adv: Advisory, version: str) -> bool | None:
    scheme = current_bundle().products[adv.product].scheme
    v = parse(scheme, version)
    assert v is not None
    verdicts = [evaluate(a, v, version, scheme) for a in adv.osv.affected]
    return True if True in verdicts else (None if None in verdicts else False)


@pytest.mark.parametrize("entry", FIXTURE, ids=[e["source"]["path"] for e in FIXTURE])
def test_bundled_record_matches_its_source(entry: dict[str, Any]) -> None:
    adv = _bundled(entry)
    raw = entry["raw"]
    refs = [r["url"] for r in adv.osv.references]
    if entry["source"]["repo"] == "Tencent/AI-Infra-Guard":
        info = raw["info"]
        assert info["cve"] in adv.ids
        assert adv.osv.summary == str(info.get("summary") or "").strip()
        assert refs == [str(r) for r in raw.get("references") or []]
        vector = str(info.get("cvss") or "")
        if vector.startswith("CVSS:"):
            assert adv.vector == vector
        assert adv.confidence == "aggregator"
        scheme = current_bundle().products[adv.product].scheme
        rule = str(raw.get("rule") or "")
        for version in _probes(rule, scheme):
            expected = _rule_says(rule, scheme, version)
            got = _bundle_says(adv, version)
            if got is None:
                # only when the rule gives nothing comparable (empty, "unknown", another
                # numbering such as Triton's container releases) or no upper bound (the
                # aggregator's guess that every version is affected)
                unbounded = not re.search(r"version\s*<", rule) and "==" not in rule
                assert expected is None or adv.product == "triton" or unbounded, (rule, version)
            else:
                assert got == expected, (rule, version)
    elif entry["source"]["repo"] == "aquasecurity/vuln-list":
        _check_ghsa(adv, raw)
    elif entry["source"]["repo"] == "CVEProject/cvelistV5":
        _check_cve(adv, raw)
    else:  # an OSV source (PYSEC YAML or Go vulndb JSON)
        assert adv.id == raw["id"]
        assert set(raw.get("aliases") or []) <= set(adv.osv.aliases)
        assert refs == [r["url"] for r in raw.get("references") or []]
        assert adv.confidence == "reviewed"
        meta = adv.osv.database_specific["aicensus"]
        if "range_from" not in meta:  # not refined by the hand-kept table
            mine = [r for a in adv.osv.affected for r in a.get("ranges", [])]
            theirs = [r for a in raw["affected"] for r in a.get("ranges", [])]
            assert mine == theirs


def _github_says(vulnerable: str, version: str) -> bool | None:
    """GitHub's "VulnerableVersionRange" (">= 1.2, < 1.4") read literally."""
    v = _key("pep440", version)
    assert v is not None
    ok = True
    for part in vulnerable.split(","):
        m = _GH_CLAUSE.fullmatch(part.strip())
        assert m, vulnerable
        bound = _key("pep440", m.group(2))
        if bound is None:  # npm's "2.2.7-patch.1": not comparable here
            return None
        ok = ok and {
            "<": v < bound, "<=": v <= bound, ">": v > bound, ">=": v >= bound, "=": v == bound,
        }[m.group(1)]  # fmt: skip
    return ok


def _around(value: str) -> set[str]:
    """A boundary version and its neighbours in the last release digit (none if unparsable)."""
    key = _key("pep440", value)
    if key is None:
        return set()
    rel = list(key.release)
    near = {str(key), ".".join(map(str, [*rel[:-1], rel[-1] + 1]))}
    if rel[-1] > 0:
        near.add(".".join(map(str, [*rel[:-1], rel[-1] - 1])))
    return near


def _check_ghsa(adv: Advisory, raw: dict[str, Any]) -> None:
    gh = raw["Advisory"]
    assert adv.id == gh["GhsaId"]
    cves = {i["Value"] for i in gh["Identifiers"] if i["Type"] == "CVE"}
    assert cves <= set(adv.osv.aliases)
    assert adv.osv.summary == " ".join(gh["Summary"].split())
    assert [r["url"] for r in adv.osv.references] == [r["Url"] for r in gh["References"]]
    vector = gh["CVSS"]["VectorString"]
    if vector.startswith("CVSS:"):
        assert adv.vector == vector
    assert adv.confidence == "reviewed"
    assert not gh["WithdrawnAt"]
    probes = {"0.0.1", "9999.0"}
    for ver in raw["Versions"]:
        patched = ver["FirstPatchedVersion"]["Identifier"]
        named = [patched] if patched else []
        for value in [v for _, v in _GH_CLAUSE.findall(ver["VulnerableVersionRange"])] + named:
            probes |= _around(value)
    for probe in sorted(probes):
        says = [_github_says(v["VulnerableVersionRange"], probe) for v in raw["Versions"]]
        if None in says:
            continue
        assert _bundle_says(adv, probe) == any(says), (raw["Versions"], probe)


def _ghsa_snapshot() -> list[dict[str, Any]]:
    return [json.loads(line) for line in GHSA_SNAPSHOT.read_text().splitlines() if line]


def _check_against_snapshot(
    repo: str, snapshot: list[dict[str, Any]], check: Callable[[Advisory, dict[str, Any]], None]
) -> int:
    """Check every bundled record from `repo` against its snapshot line; how many were checked."""
    by_source = {(r["path"], r["commit"]): r for r in snapshot}
    checked = 0
    for advs in current_bundle().by_product.values():
        for adv in advs:
            if adv.source.get("repo") == repo:
                check(adv, by_source[(adv.source["path"], adv.source["commit"])])
                checked += 1
    return checked


def test_every_bundled_github_advisory_matches_the_snapshot() -> None:
    """All GitHub-sourced records, not only the random fifty, against the committed snapshot."""
    assert _check_against_snapshot("aquasecurity/vuln-list", _ghsa_snapshot(), _check_ghsa) >= 60


def test_withdrawn_github_advisories_are_left_out() -> None:
    withdrawn = {r["Advisory"]["GhsaId"] for r in _ghsa_snapshot() if r["Advisory"]["WithdrawnAt"]}
    assert withdrawn
    bundled = {i for advs in current_bundle().by_product.values() for a in advs for i in a.ids}
    assert not withdrawn & bundled


# ---------------------------------------------------------------- CVE records (cvelistV5)

CVE_SNAPSHOT = Path(__file__).parents[3] / "scripts" / "advisories" / "cvelist_v5.jsonl"


def _cna_says(ver: dict[str, Any], version: str) -> bool | None:
    """One CNA `versions[]` entry read literally (None: it says nothing comparable)."""
    v = _key("pep440", version)
    assert v is not None
    text = re.sub(
        r"^affected versions?:?\s*", "", str(ver.get("version") or "").strip(), flags=re.I
    )
    if _GH_CLAUSE.match(text.strip()):
        return _github_says(text, version)
    for key, op in (("lessThan", "<"), ("lessThanOrEqual", "<=")):
        if key in ver:
            upper = _key("pep440", str(ver[key]))
            low = None if text.lower() in ("0", "unspecified", "*", "") else _key("pep440", text)
            if upper is None:
                return None
            return (low is None or v >= low) and (v < upper if op == "<" else v <= upper)
    return None


def _check_cve(adv: Advisory, raw: dict[str, Any]) -> None:
    assert adv.id == raw["id"]
    assert adv.confidence == "reviewed"
    assert adv.osv.summary == " ".join(str(raw.get("title") or raw.get("description")).split())
    assert [r["url"] for r in adv.osv.references] == raw["references"]
    if raw.get("advisory", "").startswith("GHSA-"):
        assert raw["advisory"] in adv.osv.aliases
    v3 = [v for v in raw["vectors"] if v.startswith("CVSS:3")]
    if v3:
        assert adv.vector == v3[0]
    entries = [v for a in raw["affected"] for v in a["versions"] if v["status"] == "affected"]
    probes = {"0.0.1", "9999.0"}
    for ver in entries:
        for value in [*_GH_CLAUSE.findall(str(ver["version"])),
                      *[("", ver[k]) for k in ("lessThan", "lessThanOrEqual") if k in ver]]:  # fmt: skip
            probes |= _around(value[1])
    starts = _line_starts(entries)
    probes |= {str(st) for st in starts.values()}
    for probe in sorted(probes):
        says = [_cna_says(v, probe) for v in entries]
        says = [s and (i not in starts or Version(probe) >= starts[i]) for i, s in enumerate(says)]
        if all(s is None for s in says):
            continue
        assert _bundle_says(adv, probe) == any(s for s in says if s), (entries, probe)


def _line_starts(entries: list[dict[str, Any]]) -> dict[int, Version]:
    """GitHub's one-fix-per-release-line entries ("< 1.123.17", "< 2.5.2"): every line after the
    lowest starts at the first release whose number departs from the previous fix (2.0.0)."""
    fixes = []
    for i, ver in enumerate(entries):
        m = re.fullmatch(r"<\s*(\S+)", str(ver.get("version") or "").strip())
        key = _key("pep440", m.group(1)) if m else None
        if key is not None and not any(k in ver for k in ("lessThan", "lessThanOrEqual")):
            fixes.append((key, i))
    if len(fixes) < 2 or len({k for k, _ in fixes}) < len(fixes):
        return {}
    fixes.sort()
    starts = {}
    for (prev, _), (cur, i) in itertools.pairwise(fixes):
        a, b = list(prev.release), list(cur.release)
        n = max(len(a), len(b), 3)
        a, b = a + [0] * (n - len(a)), b + [0] * (n - len(b))
        d = next(k for k in range(n) if a[k] != b[k])
        starts[i] = Version(".".join(map(str, [*b[: d + 1], *[0] * (n - d - 1)])))
    return starts


def test_every_bundled_cve_record_matches_the_snapshot() -> None:
    """Records whose range is the CNA's: id, summary, references, vector and range against the
    committed cvelistV5 snapshot, the range read literally from the CNA's `versions`."""
    snapshot = [json.loads(line) for line in CVE_SNAPSHOT.read_text().splitlines() if line]
    assert _check_against_snapshot("CVEProject/cvelistV5", snapshot, _check_cve) >= 20


def test_a_cve_record_without_a_usable_range_leaves_the_aggregator_range_unconfirmed() -> None:
    """A CNA record that gives no range ("<= latest", one version, another product's numbering)
    confirms the advisory but not the range: the record stays unconfirmed and says why."""
    noted = [
        a for advs in current_bundle().by_product.values() for a in advs
        if "cve_record_note" in a.osv.database_specific["aicensus"]
    ]  # fmt: skip
    assert len(noted) >= 10
    for adv in noted:
        assert adv.confidence == "aggregator"
        also = adv.osv.database_specific["aicensus"]["also_in"]
        assert any(s["repo"] == "CVEProject/cvelistV5" for s in also)
    react = [a for a in noted if a.id == "CVE-2025-55182"]
    assert react and all("not the product" in a.osv.database_specific["aicensus"]["cve_record_note"]
                         for a in react)  # fmt: skip


def test_an_aggregator_record_of_a_rejected_cve_is_left_out() -> None:
    """A CVE id its CNA rejected (a duplicate) that the aggregator still lists is not reported;
    the id it duplicates is (CVE-2024-7773 -> CVE-2024-45436, Ollama's GO-2024-3104)."""
    snapshot = [json.loads(line) for line in CVE_SNAPSHOT.read_text().splitlines() if line]
    rejected = {r["id"] for r in snapshot if r.get("state") == "REJECTED"}
    assert "CVE-2024-7773" in rejected
    bundle = current_bundle()
    bundled = {i for advs in bundle.by_product.values() for a in advs for i in a.ids}
    assert not rejected & bundled
    assert bundle.manifest["aggregator_cve_rejected"] >= 1
    assert [a.id for a in bundle.lookup("CVE-2024-45436") if a.product == "ollama"] == [
        "GO-2024-3104"
    ]
