"""Build the bundled OSV advisories (src/aicensus/assess/advisories/data/) from public records.

Sources (each a local git checkout; every record keeps its repo, path and commit):
  --vulndb  golang/vulndb        data/osv/*.json         OSV, reviewed by the Go team
  --pypa    pypa/advisory-database vulns/<pkg>/*.yaml    OSV (PYSEC), from the PyPI ecosystem
            (or a mirror of it, named with --pypa-name)
  --aig     Tencent/AI-Infra-Guard data/vuln_en/<c>/*.yaml  aggregator: CVE, CVSS vector, a
            version rule; converted to OSV, kept only when the record names the product, and its
            ranges reported as unconfirmed
  --ghsa    GitHub reviewed advisories (GHSA: npm, pip, Go, Rust, Maven), in GitHub's own JSON shape as
            aquasecurity/vuln-list keeps them under ghsa/<ecosystem>/<package>/GHSA-*.json: a snapshot
            in JSON lines (scripts/advisories/ghsa_vuln_list.jsonl, one record a line with its path and
            commit) or a directory laid out like vuln-list (then --ghsa-commit names its commit);
            converted to OSV, withdrawn records left out
  --cve     CVE records (CVEProject/cvelistV5, cves/YYYY/NNxxx/CVE-*.json) as their CNA published
            them: a snapshot in JSON lines (scripts/advisories/cvelist_v5.jsonl, the fields the
            build reads, transcribed with path and commit); a record becomes the product's when a
            `cna.affected[].product` IS the product (not a component of it) and its versions give
            a comparable range; otherwise it only confirms the aggregator's record (`also_in`);
            a line with "state": "REJECTED" (the CNA withdrew the id as a duplicate) drops the
            aggregator's record of that id
  --kev     cisagov/kev-data     known_exploited_vulnerabilities.json (known-exploited flag), or a
            mirror of it named with --kev-name
  scripts/advisories/handkept_ranges.yaml: the hand-checked table aicensus shipped before; its
            notes are attached to the matching record, its entries fill gaps.

Precedence when two sources describe one vulnerability (same id or alias) for one product:
Go vulndb > PYSEC > GHSA > CVE record > hand-kept > aggregator (a reviewed GHSA record replaces an
unconfirmed aggregator record of the same CVE and keeps it only as `also_in`). Raw files read are copied under .cache/advisories/raw/
(gitignored). Usage:
  python scripts/build_advisories.py --vulndb /path/golang+vulndb/repo --pypa ... --aig ... --kev ...
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import itertools
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "src/aicensus/assess/advisories/data"
PRODUCTS = ROOT / "src/aicensus/assess/advisories/products.yaml"
HANDKEPT = ROOT / "scripts/advisories/handkept_ranges.yaml"
CACHE = ROOT / ".cache/advisories/raw"
SCHEMA = "1.6.0"
RANK = {"vulndb": 0, "pypa": 1, "ghsa": 2, "cve": 3, "handkept": 4, "aig": 5}
GHSA_SNAPSHOT = ROOT / "scripts/advisories/ghsa_vuln_list.jsonl"
CVE_SNAPSHOT = ROOT / "scripts/advisories/cvelist_v5.jsonl"


class Git:
    """Read files of one commit of a (bare or mirrored) git repository."""

    def __init__(self, gitdir: str, repo: str) -> None:
        self.dir, self.repo = gitdir, repo
        self.commit = self._run("rev-parse", "HEAD").strip()
        self.date = self._run("log", "-1", "--format=%cI", "HEAD").strip()

    def _run(self, *args: str) -> str:
        return subprocess.run(
            ["git", "--git-dir", self.dir, *args], check=True, capture_output=True, text=True
        ).stdout

    def ls(self, folder: str) -> list[str]:
        out = self._run("ls-tree", "-r", "-z", "--name-only", self.commit, "--", folder)
        return [p for p in out.split("\0") if p]

    def show(self, path: str) -> str:
        text = self._run("show", f"{self.commit}:{path}")
        cached = CACHE / self.repo.replace("/", "+") / path
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_text(text, encoding="utf-8")
        return text

    def source(self, path: str) -> dict[str, str]:
        return {"repo": self.repo, "path": path, "commit": self.commit}


def load_products() -> dict[str, dict]:
    return yaml.safe_load(PRODUCTS.read_text(encoding="utf-8"))["products"]


def package_index(products: dict[str, dict]) -> dict[tuple[str, str], str]:
    index = {}
    for slug, spec in products.items():
        for pkg in spec["packages"]:
            eco, name = pkg.split(":", 1)
            index[(eco, name.lower() if eco == "PyPI" else name)] = slug
    return index


def _pkg(spec: dict) -> dict[str, str]:
    eco, name = spec["packages"][0].split(":", 1)
    return {"ecosystem": eco, "name": name}


# ---------------------------------------------------------------- OSV sources


def trim_osv(rec: dict, keep: set[tuple[str, str]]) -> dict:
    """The fields the bundle keeps, with affected entries narrowed to the mapped packages."""
    affected = []
    for aff in rec.get("affected", []):
        pkg = aff.get("package", {})
        eco, name = pkg.get("ecosystem", ""), pkg.get("name", "")
        if (eco, name.lower() if eco == "PyPI" else name) not in keep:
            continue
        entry = {"package": {"ecosystem": eco, "name": name}}
        if aff.get("ranges"):
            entry["ranges"] = aff["ranges"]
        numbered = any(r.get("type") in ("ECOSYSTEM", "SEMVER") for r in aff.get("ranges", []))
        if aff.get("versions") and not numbered:
            # PYSEC enumerates every version its ranges cover; the ranges say the same.
            entry["versions"] = aff["versions"]
        affected.append(entry)
    out = {
        "schema_version": SCHEMA,
        "id": rec["id"],
        "modified": str(rec.get("modified", "")),
        "aliases": sorted(set(rec.get("aliases") or [])),
        "summary": summary_of(rec),
        "affected": affected,
        "references": [
            {"type": r.get("type", "WEB"), "url": r["url"]} for r in rec.get("references") or []
        ],
    }
    if rec.get("published"):
        out["published"] = str(rec["published"])
    if rec.get("severity"):
        out["severity"] = rec["severity"]
    return out


def summary_of(rec: dict) -> str:
    text = (rec.get("summary") or "").strip()
    if not text:
        details = " ".join((rec.get("details") or "").split())
        text = details.split(". ")[0][:200]
    return text


def from_vulndb(git: Git, index: dict) -> list[tuple[str, dict]]:
    out = []
    for path in git.ls("data/osv"):
        text = git._run("show", f"{git.commit}:{path}")
        if not any(f'"{name}"' in text for eco, name in index if eco == "Go"):
            continue
        git.show(path)  # cache the raw record
        rec = json.loads(text)
        if rec.get("withdrawn"):
            continue
        osv = trim_osv(rec, set(index))
        for slug in {
            index[(a["package"]["ecosystem"], a["package"]["name"])] for a in osv["affected"]
        }:
            out.append((slug, annotate(osv, slug, "vulndb", git.source(path), "reviewed")))
    return out


def from_pypa(git: Git, index: dict) -> list[tuple[str, dict]]:
    out = []
    for (eco, name), slug in index.items():
        if eco != "PyPI":
            continue
        for path in git.ls(f"vulns/{name}"):
            rec = yaml.safe_load(git.show(path))
            if rec.get("withdrawn"):
                continue
            osv = trim_osv(rec, {(eco, name)})
            out.append((slug, annotate(osv, slug, "pypa", git.source(path), "reviewed")))
    return out


def annotate(osv: dict, slug: str, kind: str, source: dict, confidence: str) -> dict:
    osv = json.loads(json.dumps(osv))
    osv.setdefault("database_specific", {})["aicensus"] = {
        "product": slug,
        "source_kind": kind,
        "source": source,
        "confidence": confidence,
    }
    return osv


# ---------------------------------------------------------------- GitHub reviewed advisories

GHSA_REPO = "aquasecurity/vuln-list"
_GHSA_ECO = {"NPM": "npm", "PIP": "PyPI", "GO": "Go", "RUST": "crates.io", "MAVEN": "Maven"}
_GHSA_CLAUSE = re.compile(r"^(<=|>=|<|>|=)\s*(\S+)$")
_LABEL = {"CRITICAL": "critical", "HIGH": "high", "MODERATE": "medium", "LOW": "low"}


def read_ghsa(source: str, commit: str | None) -> list[dict]:
    """GitHub-shape records with their vuln-list path and commit, from a JSON-lines snapshot or
    from a directory laid out like vuln-list (ghsa/<ecosystem>/<package>/GHSA-*.json)."""
    path = Path(source)
    if path.is_file():
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    if not commit:
        raise SystemExit("--ghsa DIR needs --ghsa-commit (the vuln-list commit it was read at)")
    out = []
    for file in sorted(path.rglob("GHSA-*.json")):
        rec = json.loads(file.read_text(encoding="utf-8"))
        rel = file.relative_to(path).as_posix()
        out.append(dict(rec, path=rel if rel.startswith("ghsa/") else f"ghsa/{rel}", commit=commit))
    return out


def ghsa_events(vulnerable: str, patched: str) -> tuple[list[dict], list[str], bool] | None:
    """GitHub's "VulnerableVersionRange" (">= 1.2, < 1.4", "<= 2.2.7", "= 3.0.5") → OSV events
    (explicit versions for an "=" range without a patched version, and whether the lower bound
    is exclusive); None when unreadable."""
    low: tuple[str, str] | None = None
    high: tuple[str, str] | None = None
    for part in vulnerable.split(","):
        m = _GHSA_CLAUSE.match(part.strip())
        if not m:
            return None
        op, ver = m.groups()
        if op == "=":
            if patched:
                return [{"introduced": ver}, {"fixed": patched}], [], False
            return [{"introduced": ver}, {"last_affected": ver}], [ver], False
        if op in (">", ">="):
            low = (op, ver)
        else:
            high = (op, ver)
    events: list[dict] = [{"introduced": low[1] if low else "0"}]
    if high:
        events.append({"fixed" if high[0] == "<" else "last_affected": high[1]})
    return events, [], bool(low and low[0] == ">")


def ghsa_to_osv(rec: dict, pkg: dict) -> dict | None:
    adv = rec["Advisory"]
    ranges, versions = [], []
    for v in rec.get("Versions") or []:
        got = ghsa_events(
            str(v.get("VulnerableVersionRange") or ""),
            str((v.get("FirstPatchedVersion") or {}).get("Identifier") or ""),
        )
        if got is None:
            return None
        events, explicit, exclusive = got
        rng: dict = {"type": "ECOSYSTEM", "events": events}
        if exclusive:
            # OSV has no exclusive lower bound (GitHub's "> 1.2"); the evaluator honours this flag.
            rng["database_specific"] = {"introduced_exclusive": True}
        ranges.append(rng)
        versions += explicit
    affected: dict = {"package": pkg, "ranges": ranges}
    if versions:
        affected["versions"] = versions
    ids = [i["Value"] for i in adv.get("Identifiers") or [] if i.get("Value")]
    refs = []
    for r in adv.get("References") or []:
        url = r["Url"]
        kind = "ADVISORY" if ("/advisories/" in url or "/security/advisories/" in url) else "WEB"
        refs.append({"type": kind, "url": url})
    osv = {
        "schema_version": SCHEMA,
        "id": adv["GhsaId"],
        "modified": str(adv.get("UpdatedAt") or rec.get("UpdatedAt") or ""),
        "published": str(adv.get("PublishedAt") or ""),
        "aliases": sorted({i for i in ids if i != adv["GhsaId"]}),
        "summary": " ".join(str(adv.get("Summary") or "").split()),
        "affected": [affected],
        "references": refs,
    }
    vector = str((adv.get("CVSS") or {}).get("VectorString") or "")
    if vector.startswith("CVSS:3"):
        osv["severity"] = [{"type": "CVSS_V3", "score": vector}]
    elif vector.startswith("CVSS:4"):
        osv["severity"] = [{"type": "CVSS_V4", "score": vector}]
    return osv


def from_ghsa(raw: list[dict], index: dict) -> tuple[list[tuple[str, dict]], dict[str, int]]:
    out, dropped = [], {"withdrawn": 0, "unmapped_package": 0, "unreadable_range": 0}
    for rec in raw:
        eco = _GHSA_ECO.get(rec["Package"]["Ecosystem"], rec["Package"]["Ecosystem"])
        name = rec["Package"]["Name"]
        slug = index.get((eco, name.lower() if eco == "PyPI" else name))
        if rec["Advisory"].get("WithdrawnAt"):
            dropped["withdrawn"] += 1
            continue
        if slug is None:
            dropped["unmapped_package"] += 1
            continue
        osv = ghsa_to_osv(rec, {"ecosystem": eco, "name": name})
        if osv is None:
            dropped["unreadable_range"] += 1
            continue
        src = {"repo": GHSA_REPO, "path": rec["path"], "commit": rec["commit"]}
        out_rec = annotate(osv, slug, "ghsa", src, "reviewed")
        label = _LABEL.get(str(rec["Advisory"].get("Severity") or rec.get("Severity")).upper())
        if label:
            out_rec["database_specific"]["aicensus"]["severity_label"] = label
        out.append((slug, out_rec))
    return out, dropped


# ---------------------------------------------------------------- CVE records (cvelistV5)

CVE_REPO = "CVEProject/cvelistV5"
_OPEN = {"", "0", "*", "-", "n/a", "unspecified", "all"}  # a lower bound meaning "from the start"
_NO_BOUND = {"", "*", "-", "n/a", "unspecified", "latest", "all"}  # not an upper bound
# CNA ranges read and refused, with the reason (checked by hand against the record's prose).
CNA_RANGE_REJECTED = {
    "CVE-2024-10252": "the CNA's '< 0.2.10' is dify-sandbox's numbering; its description says "
    "dify <= 0.9.1",
    "CVE-2025-68664": "the CNA names langchain but gives langchain-core's numbering (its release "
    "links are langchain-core==0.3.81 and ==1.2.5; langchain itself never shipped a 0.3.81)",
    "CVE-2026-44843": "the CNA names langchain but '< 0.3.85' is langchain-core's numbering "
    "(the load() it describes is langchain_core's; langchain's 0.3 line ended far below 0.3.85)",
    **{
        cve: "the CNA's '< 3.1.2' contradicts its own description ('Prior to 3.1.3 … fixed in "
        "3.1.3'), so 3.1.2 is undetermined"
        for cve in ("CVE-2026-70475", "CVE-2026-70476", "CVE-2026-70477", "CVE-2026-70478")
    },
}


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9.]", "", text.lower())


def cna_names(slug: str, spec: dict) -> set[str]:
    """The `cna.affected[].product` spellings that are the product itself (not a component)."""
    return {
        _norm(w) for w in [slug, *spec.get("aig", []), *_words(slug, spec), *spec.get("cna", [])]
    }


def cna_product(rec: dict, products: dict) -> tuple[str | None, list[dict]]:
    """(the product a CVE record's CNA names, the `affected` entries naming it)."""
    for slug, spec in products.items():
        names = cna_names(slug, spec)
        hits = [
            a for a in rec.get("affected") or []
            if _norm(_cna_name(a).rsplit("/", 1)[-1]) in names
        ]  # fmt: skip
        if hits:
            return slug, hits
    return None, []


def _cna_name(entry: dict) -> str:
    """The name a CNA gives an `affected` entry: its product, or (JFrog's records name no
    product) the package it names in an ecosystem's registry."""
    return str(entry.get("product") or entry.get("packageName") or "")


def cna_events(ver: dict) -> tuple[list[dict], list[str], bool] | None:
    """One CNA `versions[]` entry → (OSV events, explicit versions, exclusive lower bound);
    None when it names no comparable range. GitHub's CNA writes its own range syntax
    ("< 1.4.3", ">= 1.2, < 1.4") in `version`; others use `lessThan`/`lessThanOrEqual`."""
    if ver.get("status") != "affected":
        return None
    # GitHub's CNA sometimes keeps the advisory form's label: "Affected versions >= 1.0.0, ..."
    version = re.sub(
        r"^affected versions?:?\s*", "", str(ver.get("version") or "").strip(), flags=re.I
    )
    for key, kind in (("lessThan", "fixed"), ("lessThanOrEqual", "last_affected")):
        if key in ver:
            upper = str(ver[key]).strip()
            if upper.lower() in _NO_BOUND:
                return None
            low = "0" if version.lower() in _OPEN else version
            return [{"introduced": low}, {kind: upper}], [], False
    if re.match(r"^(<=|>=|<|>|=)", version):
        return ghsa_events(version, "")
    return None  # one version alone: the CNA says nothing of the others


def cna_affected(
    hits: list[dict], pkg: dict, scheme_ok: Callable[[str], bool]
) -> tuple[dict | None, str]:
    """The OSV affected entry of a CNA's ranges, or (None, why not)."""
    ranges, versions = [], []
    for entry in hits:
        for ver in entry.get("versions") or []:
            got = cna_events(ver)
            if got is None:
                continue
            events, explicit, exclusive = got
            bounds = [v for e in events for v in e.values() if v != "0"]
            if not all(scheme_ok(b) for b in bounds):
                return None, f"a bound of {[*bounds]} is not comparable with the product's versions"
            rng: dict = {"type": "ECOSYSTEM", "events": events}
            if exclusive:
                rng["database_specific"] = {"introduced_exclusive": True}
            ranges.append(rng)
            versions += explicit
    if not ranges:
        return None, "the CNA's record gives no version range"
    branch_ranges(ranges, scheme_ok)
    entry_out: dict = {"package": pkg, "ranges": ranges}
    if versions:
        entry_out["versions"] = versions
    return entry_out, ""


def branch_ranges(ranges: list[dict], scheme_ok: Callable[[str], bool]) -> None:
    """GitHub's CNA writes one fix per release line without lower bounds ("< 1.123.17",
    "< 2.5.2" for "fixed in 1.123.17 and 2.5.2"); read literally their union would also cover
    1.123.17 and later 1.x releases. Each later line starts where its release number first
    departs from the previous fix (2.5.2 after 1.123.17 -> 2.0.0; 1.124.2 after 1.123.17 ->
    1.124.0); the range records the reading in `database_specific.branch_of`."""
    from packaging.version import InvalidVersion, Version

    open_below = []
    for rng in ranges:
        ev = rng["events"]
        if len(ev) == 2 and ev[0] == {"introduced": "0"} and "fixed" in ev[1]:
            try:
                open_below.append((Version(ev[1]["fixed"]), rng))
            except InvalidVersion:
                return
    if len(open_below) < 2 or len({v for v, _ in open_below}) < len(open_below):
        return
    open_below.sort(key=lambda vr: vr[0])
    for (prev, _), (cur, rng) in itertools.pairwise(open_below):
        a, b = list(prev.release), list(cur.release)
        width = max(len(a), len(b), 3)
        a, b = a + [0] * (width - len(a)), b + [0] * (width - len(b))
        i = next(k for k in range(width) if a[k] != b[k])
        start = ".".join(map(str, [*b[: i + 1], *[0] * (width - i - 1)]))
        if not scheme_ok(start):
            return
        rng["events"][0] = {"introduced": start}
        rng["database_specific"] = {"branch_of": f"< {prev}, < {cur}"}


def from_cve(raw: list[dict], products: dict) -> tuple[list[tuple[str, dict]], dict[str, dict]]:
    """(records whose CNA range is usable, {CVE id: [product, source, why its range is not]})"""
    out: list[tuple[str, dict]] = []
    unusable: dict[str, dict] = {}
    for rec in raw:
        src = {"repo": CVE_REPO, "path": rec["path"], "commit": rec["commit"]}
        if rec.get("state") == "REJECTED":  # withdrawn by its CNA: no product, no range
            unusable[rec["id"]] = {"source": src, "rejected": rec.get("rejected", "")}
            continue
        slug, hits = cna_product(rec, products)
        if slug is None:
            names = sorted({_cna_name(a) for a in rec.get("affected") or []})
            unusable[rec["id"]] = {"source": src, "why": f"the CNA names {names}, not the product"}
            continue
        spec = products[slug]
        aff, why = cna_affected(hits, _pkg(spec), _comparable(spec))
        if rec["id"] in CNA_RANGE_REJECTED:
            aff, why = None, CNA_RANGE_REJECTED[rec["id"]]
        if aff is not None and _empty(aff, spec):
            aff, why = None, "the CNA's range is empty (its lower bound is above its upper bound)"
        if aff is None:
            unusable[rec["id"]] = {"product": slug, "source": src, "why": why}
            continue
        unusable.setdefault(rec["id"], {"product": slug, "source": src, "moved": True})
        ghsa = str(rec.get("advisory") or "")
        osv = {
            "schema_version": SCHEMA,
            "id": rec["id"],
            "modified": rec.get("updated", ""),
            "published": rec.get("published", ""),
            "aliases": [ghsa] if ghsa.startswith("GHSA-") else [],
            "summary": " ".join(str(rec.get("title") or rec.get("description") or "").split()),
            "affected": [aff],
            "references": [
                {"type": "ADVISORY" if "/advisories/" in u else "WEB", "url": u}
                for u in rec.get("references") or []
            ],
        }
        vectors = rec.get("vectors") or []
        sev = [{"type": "CVSS_V3", "score": v} for v in vectors if v.startswith("CVSS:3")]
        sev += [{"type": "CVSS_V4", "score": v} for v in vectors if v.startswith("CVSS:4")]
        if sev:
            osv["severity"] = sev
        out_rec = annotate(osv, slug, "cve", src, "reviewed")
        out_rec["database_specific"]["aicensus"]["cna"] = rec.get("assigner", "")
        out.append((slug, out_rec))
    return out, unusable


def _comparable(spec: dict) -> Callable[[str], bool]:
    """A bound the product's versions can be ordered against (not a commit hash, not another
    numbering the product's `boundary` rules out)."""
    boundary = spec.get("boundary")
    return lambda v: _key(spec, v) is not None and (not boundary or bool(re.match(boundary, v)))


def _key(spec: dict, text: str) -> Any:
    """An order for checking a range is not empty (the evaluator's own parse is in aicensus)."""
    from aicensus.assess.advisories.versions import parse

    return parse(spec.get("scheme", "pep440"), text)


def _empty(aff: dict, spec: dict) -> bool:
    for rng in aff["ranges"]:
        low = next(e["introduced"] for e in rng["events"] if "introduced" in e)
        high = next((v for e in rng["events"] for k, v in e.items() if k != "introduced"), None)
        if low == "0" or high is None:
            continue
        lo, hi = _key(spec, low), _key(spec, high)
        if lo is not None and hi is not None and lo > hi:
            return True
    return False


def read_cve(path: str) -> list[dict]:
    file = Path(path)
    if not file.is_file():
        return []
    return [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines() if line]


def confirm_by_cve(
    records: list[dict], unusable: dict[str, dict]
) -> tuple[list[dict], int, int, int]:
    """An aggregator record whose CVE record exists but gives no usable range keeps its range
    (still unconfirmed) and names the CVE record and why its range could not be used; one the
    CNA files under another bundled product (ComfyUI-Manager, not ComfyUI) is left out, and so
    is one whose CVE id its CNA rejected (a duplicate: the aggregator still lists the old id).
    (records kept, records noted, records left out as another product's, as rejected)"""
    n = moved = rejected = 0
    kept = []
    for rec in records:
        meta = rec["database_specific"]["aicensus"]
        found = unusable.get(rec["id"])
        if meta["source_kind"] != "aig" or not found:
            kept.append(rec)
            continue
        if "rejected" in found:
            rejected += 1
            continue
        if found.get("product") not in (None, meta["product"]):
            moved += 1
            continue
        kept.append(rec)
        if found.get("moved"):
            continue
        meta.setdefault("also_in", []).append(found["source"])
        meta["cve_record_note"] = f"CVE record read; range not used: {found['why']}"
        n += 1
    return kept, n, moved, rejected


# ---------------------------------------------------------------- aggregator (AI-Infra-Guard)

_CLAUSE = re.compile(r'^version\s*(<=|>=|==|=|<|>)\s*"([^"]*)"$')


def parse_rule(rule: str) -> list[list[tuple[str, str]]] | None:
    """'version >= "1" && version < "2" || …' → [[(op, v), …], …]; None when not a rule."""
    rule = rule.split(" #")[0].strip().strip("'").strip()
    if not rule:
        return None
    if re.fullmatch(r'"[^"]+"', rule):
        return [[("==", rule.strip('"'))]]
    terms = []
    for term in rule.replace("(", " ").replace(")", " ").split("||"):
        clauses = []
        for part in term.split("&&"):
            m = _CLAUSE.match(part.strip())
            if not m or m.group(2).lower() in ("", "unknown"):
                return None
            clauses.append(("==" if m.group(1) == "=" else m.group(1), m.group(2)))
        terms.append(clauses)
    return terms


def rule_to_affected(terms: list[list[tuple[str, str]]], pkg: dict, boundary: str | None) -> dict:
    """OSV affected entry: one ECOSYSTEM range per OR term; == becomes an explicit version."""
    entry: dict = {"package": pkg, "ranges": [], "versions": []}
    for clauses in terms:
        if boundary and not all(re.match(boundary, v) for _, v in clauses):
            continue  # not comparable with the versions the product reports
        if len(clauses) == 1 and clauses[0][0] == "==":
            entry["versions"].append(clauses[0][1])
            continue
        events: list[dict] = []
        exclusive = False
        low = [c for c in clauses if c[0] in (">", ">=")]
        high = [c for c in clauses if c[0] in ("<", "<=")]
        if len(low) > 1 or len(high) > 1 or len(low) + len(high) != len(clauses):
            continue
        if not high:
            # An aggregator's rule without an upper bound is its guess that "every version"
            # is affected: reported as undetermined, not as affected.
            continue
        if low:
            events.append({"introduced": low[0][1]})
            exclusive = low[0][0] == ">" and low[0][1] != "0"
        else:
            events.append({"introduced": "0"})
        if high:
            events.append({"fixed" if high[0][0] == "<" else "last_affected": high[0][1]})
        rng: dict = {"type": "ECOSYSTEM", "events": events}
        if exclusive:
            # OSV has no exclusive lower bound; the evaluator honours this flag.
            rng["database_specific"] = {"introduced_exclusive": True}
        entry["ranges"].append(rng)
    if not entry["versions"]:
        del entry["versions"]
    return entry


def _words(slug: str, spec: dict) -> list[str]:
    return [w.lower() for w in spec.get("mention") or [slug, *spec.get("aig", [])]]


def about_product(slug: str, spec: dict, products: dict, summary: str, text: str) -> bool:
    """Whether an aggregator record is about this product: its summary names it, or names no
    other product while the rest of the record names this one."""
    own = _words(slug, spec)
    summary = summary.lower()
    if any(w in summary for w in own):
        return True
    others = {
        w for other, ospec in products.items() if other != slug
        for w in _words(other, ospec) if len(w) > 3 and not any(w in o or o in w for o in own)
    }  # fmt: skip
    if any(re.search(rf"\b{re.escape(w)}\b", summary) for w in others):
        return False
    return any(w in text for w in own)


def from_aig(git: Git, products: dict) -> tuple[list[tuple[str, dict]], dict[str, int]]:
    out, dropped = [], {"wrong_product": 0, "no_id": 0}
    for slug, spec in products.items():
        for comp in spec.get("aig") or []:
            for path in git.ls(f"data/vuln_en/{comp}"):
                if not path.endswith((".yaml", ".yml")):
                    continue
                try:
                    doc = yaml.safe_load(git.show(path))
                except yaml.YAMLError:
                    dropped["no_id"] += 1
                    continue
                info = doc.get("info") or {}
                cve = str(info.get("cve") or "").strip()
                if not re.fullmatch(r"(CVE-\d{4}-\d{4,}|GHSA-[\w-]+)", cve):
                    dropped["no_id"] += 1
                    continue
                refs = [str(r) for r in doc.get("references") or []]
                text = " ".join(
                    [str(info.get("summary", "")), str(info.get("details", "")), *refs]
                ).lower()
                if not about_product(slug, spec, products, str(info.get("summary", "")), text):
                    dropped["wrong_product"] += 1
                    continue
                terms = parse_rule(str(doc.get("rule") or ""))
                aff = rule_to_affected(terms or [], _pkg(spec), spec.get("boundary"))
                osv = {
                    "schema_version": SCHEMA,
                    "id": cve,
                    "modified": git.date,
                    "aliases": [],
                    "summary": str(info.get("summary") or "").strip(),
                    "affected": [aff],
                    "references": [{"type": "WEB", "url": u} for u in refs],
                }
                vector = str(info.get("cvss") or "").strip()
                if vector.startswith("CVSS:3"):
                    osv["severity"] = [{"type": "CVSS_V3", "score": vector}]
                elif vector.startswith("CVSS:4"):
                    osv["severity"] = [{"type": "CVSS_V4", "score": vector}]
                rec = annotate(osv, slug, "aig", git.source(path), "aggregator")
                label = str(info.get("severity") or "").lower()
                if label in ("critical", "high", "medium", "low"):
                    rec["database_specific"]["aicensus"]["severity_label"] = label
                if not aff.get("ranges") and not aff.get("versions"):
                    rec["database_specific"]["aicensus"]["range_note"] = (
                        f"the source's version rule {doc.get('rule')!r} is not comparable with "
                        "the versions this product reports"
                    )
                out.append((slug, rec))
    return out, dropped


# ---------------------------------------------------------------- hand-kept table


def from_handkept(products: dict) -> list[tuple[str, dict]]:
    data = yaml.safe_load(HANDKEPT.read_text(encoding="utf-8"))
    out = []
    for e in data["advisories"]:
        slug = e["product"]
        ranges = []
        for r in e.get("affected") or []:
            events = [{"introduced": str(r.get("introduced", "0"))}]
            if r.get("fixed"):
                events.append({"fixed": str(r["fixed"])})
            elif r.get("last_affected"):
                events.append({"last_affected": str(r["last_affected"])})
            ranges.append({"type": "ECOSYSTEM", "events": events})
        aff: dict = {"package": _pkg(products[slug])}
        if e.get("evaluate", True) and ranges:
            aff["ranges"] = ranges
        osv = {
            "schema_version": SCHEMA,
            "id": e["id"],
            "modified": "",
            "aliases": sorted(e.get("aliases") or []),
            "summary": e["title"],
            "affected": [aff],
            "references": [{"type": "ADVISORY", "url": e["source"]}],
        }
        src = {"repo": "aicensus", "path": "scripts/advisories/handkept_ranges.yaml", "commit": ""}
        rec = annotate(osv, slug, "handkept", src, "reviewed" if e["confirmed"] else "aggregator")
        extra = rec["database_specific"]["aicensus"]
        extra["severity_label"] = e["severity"]
        for key in ("note", "remediation"):
            if e.get(key):
                extra[key] = " ".join(str(e[key]).split())
        if e.get("cwe"):
            rec["database_specific"]["cwe_ids"] = e["cwe"]
        out.append((slug, rec))
    return out


# ---------------------------------------------------------------- merge


def ids_of(rec: dict) -> set[str]:
    return {rec["id"], *rec.get("aliases", [])}


def merge(records: list[tuple[str, dict]]) -> list[dict]:
    """One record per (product, vulnerability): the highest-ranked source wins; the others
    contribute aliases, a missing CVSS vector, notes, and their source (as `also_in`)."""
    records.sort(key=lambda sr: RANK[sr[1]["database_specific"]["aicensus"]["source_kind"]])
    kept: list[dict] = []
    by_id: dict[tuple[str, str], dict] = {}
    for slug, rec in records:
        match = next((by_id[(slug, i)] for i in ids_of(rec) if (slug, i) in by_id), None)
        if match is None:
            kept.append(rec)
            for i in ids_of(rec):
                by_id[(slug, i)] = rec
            continue
        mine, theirs = match["database_specific"]["aicensus"], rec["database_specific"]["aicensus"]
        new_ids = ids_of(rec) - ids_of(match)
        match["aliases"] = sorted(set(match["aliases"]) | (new_ids - {match["id"]}))
        for i in new_ids:
            by_id[(slug, i)] = match
        if not match.get("severity") and rec.get("severity"):
            match["severity"] = rec["severity"]
            mine["severity_from"] = theirs["source"]
        for key in ("note", "remediation", "severity_label"):
            if theirs.get(key) and not mine.get(key):
                mine[key] = theirs[key]
        if (
            _open_ended(match)
            and theirs["source_kind"] == "handkept"
            and (theirs["confidence"] == "reviewed" and not _open_ended(rec))
        ):
            # The record names no fix; the hand-kept entry found it in the upstream history.
            pkg = match["affected"][0]["package"] if match["affected"] else None
            match["affected"] = [dict(a, package=pkg or a["package"]) for a in rec["affected"]]
            mine["range_from"] = theirs["source"]
        if not match["summary"] and rec["summary"]:
            match["summary"] = rec["summary"]
        mine.setdefault("also_in", []).append(theirs["source"])
    return kept


def _open_ended(rec: dict) -> bool:
    """No range of the record ends: every version from its introduction on is affected."""
    events = [e for a in rec["affected"] for r in a.get("ranges", []) for e in r["events"]]
    return bool(events) and not any(("fixed" in e or "last_affected" in e) for e in events)


def add_kev(records: list[dict], git: Git | None) -> tuple[str | None, str | None]:
    """Mark records whose id or alias the catalog lists; (catalog version, release date)."""
    if git is None:
        return None, None
    catalog = json.loads(git.show("known_exploited_vulnerabilities.json"))
    kev = {v["cveID"]: v.get("dateAdded", "") for v in catalog["vulnerabilities"]}
    for rec in records:
        hits = sorted(i for i in ids_of(rec) if i in kev)
        if hits:
            rec["database_specific"]["aicensus"]["known_exploited"] = {
                "catalog": "CISA KEV",
                "cve": hits[0],
                "date_added": kev[hits[0]],
            }
    return catalog.get("catalogVersion"), str(catalog.get("dateReleased") or "")[:10] or None


def _unconfirmed(records: list[dict]) -> dict[str, int]:
    """Aggregator records left (their range unchecked against an advisory), per product."""
    out: dict[str, int] = {}
    for r in records:
        meta = r["database_specific"]["aicensus"]
        if meta["confidence"] != "reviewed":
            out[meta["product"]] = out.get(meta["product"], 0) + 1
    return dict(sorted(out.items()))


def _relative(path: Path) -> str:
    try:
        return path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vulndb", required=True)
    ap.add_argument("--pypa", required=True)
    ap.add_argument(
        "--pypa-name", default="pypa/advisory-database",
        help="the repository --pypa is a checkout of (a mirror such as "
        "westonsteimel/advisory-database-pypa is newer than the stored pypa snapshot)",
    )  # fmt: skip
    ap.add_argument("--aig", required=True)
    ap.add_argument(
        "--ghsa", default=str(GHSA_SNAPSHOT),
        help="GitHub reviewed advisories: a JSON-lines snapshot or a vuln-list style directory",
    )  # fmt: skip
    ap.add_argument("--ghsa-commit", help="the vuln-list commit a --ghsa directory was read at")
    ap.add_argument(
        "--cve", default=str(CVE_SNAPSHOT),
        help="CVE records (cvelistV5) as a JSON-lines snapshot of the fields the build reads",
    )  # fmt: skip
    ap.add_argument("--kev")
    ap.add_argument(
        "--kev-name", default="cisagov/kev-data",
        help="the repository --kev is a checkout of (a mirror such as dgwhited/kev)",
    )  # fmt: skip
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args(argv)
    products = load_products()
    index = package_index(products)
    vulndb = Git(args.vulndb, "golang/vulndb")
    pypa = Git(args.pypa, args.pypa_name)
    aig = Git(args.aig, "Tencent/AI-Infra-Guard")
    kev = Git(args.kev, args.kev_name) if args.kev else None
    ghsa_raw = read_ghsa(args.ghsa, args.ghsa_commit)
    ghsa_records, ghsa_dropped = from_ghsa(ghsa_raw, index)
    raw = from_vulndb(vulndb, index) + from_pypa(pypa, index) + from_handkept(products)
    aig_records, dropped = from_aig(aig, products)
    cve_raw = read_cve(args.cve)
    cve_records, cve_unusable = from_cve(cve_raw, products)
    records = merge(raw + ghsa_records + cve_records + aig_records)
    records, cve_confirmed_only, cve_moved, cve_rejected = confirm_by_cve(records, cve_unusable)
    kev_version, kev_released = add_kev(records, kev)
    records.sort(key=lambda r: (r["database_specific"]["aicensus"]["product"], r["id"]))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lines = "".join(json.dumps(r, sort_keys=True, separators=(",", ":")) + "\n" for r in records)
    with gzip.GzipFile(out / "advisories.jsonl.gz", "wb", mtime=0) as fh:
        fh.write(lines.encode())
    counts: dict[str, int] = {}
    kinds: dict[str, int] = {}
    for r in records:
        meta = r["database_specific"]["aicensus"]
        counts[meta["product"]] = counts.get(meta["product"], 0) + 1
        kinds[meta["source_kind"]] = kinds.get(meta["source_kind"], 0) + 1
    manifest = {
        "built": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "date": max(g.date for g in (vulndb, aig) if g)[:10],
        "sources": [
            {"repo": g.repo, "commit": g.commit, "date": g.date}
            for g in (vulndb, pypa, aig, kev)
            if g
        ]
        + [
            {
                "repo": GHSA_REPO,
                "snapshot": _relative(Path(args.ghsa)),
                "commits": sorted({r["commit"] for r in ghsa_raw}),
                "records": len(ghsa_raw),
            },
            {
                "repo": CVE_REPO,
                "snapshot": _relative(Path(args.cve)),
                "commits": sorted({r["commit"] for r in cve_raw}),
                "records": len(cve_raw),
            },
            {"repo": "aicensus", "path": "scripts/advisories/handkept_ranges.yaml"},
        ],
        "kev_catalog_version": kev_version,
        "kev_catalog_released": kev_released,
        "advisories": len(records),
        "products": len(counts),
        "by_product": dict(sorted(counts.items())),
        "by_source": kinds,
        "aggregator_dropped": dropped,
        "ghsa_dropped": ghsa_dropped,
        "cve_records_read": len(cve_raw),
        "cve_ranges_used": len(cve_records),
        "cve_record_only": cve_confirmed_only,
        "aggregator_filed_under_another_product": cve_moved,
        "aggregator_cve_rejected": cve_rejected,
        "unconfirmed_by_product": _unconfirmed(records),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    print(f"{len(records)} advisories, {len(counts)} products -> {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
