"""scripts/build_advisories.py's reading of GitHub reviewed advisories (GitHub's own JSON shape
as aquasecurity/vuln-list keeps it) and their conversion to OSV."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).parents[3] / "scripts" / "build_advisories.py"


@pytest.fixture(scope="module")
def build() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_advisories", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _record(ghsa: str, name: str, ranges: list[tuple[str, str]], withdrawn: str = "") -> dict:
    return {
        "Severity": "HIGH",
        "Package": {"Ecosystem": "NPM", "Name": name},
        "Advisory": {
            "GhsaId": ghsa, "Summary": "  a   summary ", "PublishedAt": "2025-01-01T00:00:00Z",
            "UpdatedAt": "2025-02-01T00:00:00Z", "WithdrawnAt": withdrawn, "Severity": "HIGH",
            "Identifiers": [{"Type": "GHSA", "Value": ghsa}, {"Type": "CVE", "Value": "CVE-2025-1"}],
            "References": [{"Url": f"https://github.com/advisories/{ghsa}"},
                           {"Url": "https://example.invalid/x"}],
            "CVSS": {"VectorString": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"},
        },
        "Versions": [{"VulnerableVersionRange": r, "FirstPatchedVersion": {"Identifier": p}}
                     for r, p in ranges],
    }  # fmt: skip


def test_directory_layout_is_read_with_its_commit(build: ModuleType, tmp_path: Path) -> None:
    folder = tmp_path / "ghsa" / "npm" / "flowise"
    folder.mkdir(parents=True)
    rec = _record("GHSA-aaaa-bbbb-cccc", "flowise", [("< 2.0.0", "2.0.0")])
    (folder / "GHSA-aaaa-bbbb-cccc.json").write_text(json.dumps(rec))
    with pytest.raises(SystemExit):
        build.read_ghsa(str(tmp_path), None)  # a directory names no commit of its own
    raw = build.read_ghsa(str(tmp_path), "f" * 40)
    assert [(r["path"], r["commit"]) for r in raw] == [
        ("ghsa/npm/flowise/GHSA-aaaa-bbbb-cccc.json", "f" * 40)
    ]


def test_conversion_to_osv(build: ModuleType) -> None:
    index = {("npm", "flowise"): "flowise"}
    raw = [
        dict(_record("GHSA-1111-1111-1111", "flowise",
                     [("> 1.0.0, < 1.5.0", "1.5.0"), ("<= 2.2.7", "")]),
             path="ghsa/npm/flowise/GHSA-1111-1111-1111.json", commit="a" * 40),
        dict(_record("GHSA-2222-2222-2222", "flowise", [("= 3.0.5", "")]),
             path="p2", commit="a" * 40),
        dict(_record("GHSA-3333-3333-3333", "flowise", [("< 1", "1")], "2025-03-01T00:00:00Z"),
             path="p3", commit="a" * 40),
        dict(_record("GHSA-4444-4444-4444", "flowise-components", [("< 1", "1")]),
             path="p4", commit="a" * 40),
    ]  # fmt: skip
    out, dropped = build.from_ghsa(raw, index)
    assert dropped == {"withdrawn": 1, "unmapped_package": 1, "unreadable_range": 0}
    (slug, first), (_, second) = out
    assert slug == "flowise" and first["id"] == "GHSA-1111-1111-1111"
    assert first["aliases"] == ["CVE-2025-1"] and first["summary"] == "a summary"
    assert first["severity"] == [
        {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}
    ]
    assert [r["type"] for r in first["references"]] == ["ADVISORY", "WEB"]
    ranges = first["affected"][0]["ranges"]
    assert ranges[0]["events"] == [{"introduced": "1.0.0"}, {"fixed": "1.5.0"}]
    assert ranges[0]["database_specific"] == {"introduced_exclusive": True}
    assert ranges[1]["events"] == [{"introduced": "0"}, {"last_affected": "2.2.7"}]
    meta = first["database_specific"]["aicensus"]
    assert meta["source"] == {
        "repo": "aquasecurity/vuln-list",
        "path": "ghsa/npm/flowise/GHSA-1111-1111-1111.json",
        "commit": "a" * 40,
    }
    assert (meta["source_kind"], meta["confidence"], meta["severity_label"]) == (
        "ghsa", "reviewed", "high",
    )  # fmt: skip
    assert second["affected"][0]["versions"] == ["3.0.5"]
    assert second["affected"][0]["ranges"][0]["events"] == [
        {"introduced": "3.0.5"}, {"last_affected": "3.0.5"},
    ]  # fmt: skip


def test_reviewed_github_record_supersedes_an_aggregator_one(build: ModuleType) -> None:
    """Same CVE for one product: the GHSA record is kept, the aggregator's listed as also_in."""
    ghsa = build.annotate(
        {"id": "GHSA-1111-1111-1111", "aliases": ["CVE-2025-1"], "summary": "s", "affected": [],
         "references": []}, "flowise", "ghsa", {"repo": "aquasecurity/vuln-list"}, "reviewed",
    )  # fmt: skip
    aig = build.annotate(
        {"id": "CVE-2025-1", "aliases": [], "summary": "t", "affected": [], "references": [],
         "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]},
        "flowise", "aig", {"repo": "Tencent/AI-Infra-Guard"}, "aggregator",
    )  # fmt: skip
    kept = build.merge([("flowise", aig), ("flowise", ghsa)])
    assert [k["id"] for k in kept] == ["GHSA-1111-1111-1111"]
    meta = kept[0]["database_specific"]["aicensus"]
    assert meta["confidence"] == "reviewed"
    assert meta["also_in"] == [{"repo": "Tencent/AI-Infra-Guard"}]
