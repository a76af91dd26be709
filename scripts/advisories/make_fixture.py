"""Pick 50 bundled advisories at random (seeded) and store their raw source records, trimmed, as
the test fixture tests/assess/advisories/data/sources50.json (path + commit of each).

    python scripts/advisories/make_fixture.py --mirror golang/vulndb=/path/repo --mirror ...

GitHub advisories (aquasecurity/vuln-list) and CVE records (CVEProject/cvelistV5) are read from
the snapshots the build used, scripts/advisories/ghsa_vuln_list.jsonl and cvelist_v5.jsonl, by
their path and commit.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "src/aicensus/assess/advisories/data/advisories.jsonl.gz"
OUT = ROOT / "tests/assess/advisories/data/sources50.json"
GHSA_SNAPSHOT = ROOT / "scripts/advisories/ghsa_vuln_list.jsonl"
GHSA_REPO = "aquasecurity/vuln-list"
CVE_SNAPSHOT = ROOT / "scripts/advisories/cvelist_v5.jsonl"
CVE_REPO = "CVEProject/cvelistV5"


def trim(repo: str, text: str) -> dict:
    """The raw record without its long prose and without PYSEC's enumerated version lists."""
    doc = (
        json.loads(text) if repo in ("golang/vulndb", GHSA_REPO, CVE_REPO) else yaml.safe_load(text)
    )
    if repo == CVE_REPO:
        return doc  # already the fields the build reads; its `versions` are the CNA's ranges
    doc.pop("details", None)
    for aff in doc.get("affected") or []:
        aff.pop("versions", None)
        aff.pop("ecosystem_specific", None)
    info = doc.get("info")
    if isinstance(info, dict):
        info.pop("details", None)
        info.pop("security_advise", None)
    return doc


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mirror", action="append", default=[], help="owner/name=GITDIR")
    ap.add_argument("--seed", type=int, default=16)
    args = ap.parse_args()
    mirrors = dict(m.split("=", 1) for m in args.mirror)
    ghsa = {}
    for line in GHSA_SNAPSHOT.read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        ghsa[(rec.pop("path"), rec.pop("commit"))] = json.dumps(rec)
    mirrors.setdefault(GHSA_REPO, "")
    for line in CVE_SNAPSHOT.read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        ghsa[(rec["path"], rec["commit"])] = json.dumps(rec)
    mirrors.setdefault(CVE_REPO, "")
    records = [json.loads(line) for line in gzip.decompress(BUNDLE.read_bytes()).splitlines()]
    public = [r for r in records if r["database_specific"]["aicensus"]["source"]["repo"] in mirrors]
    picked = random.Random(args.seed).sample(public, 50)
    out = []
    for rec in sorted(picked, key=lambda r: r["id"]):
        src = rec["database_specific"]["aicensus"]["source"]
        if src["repo"] in (GHSA_REPO, CVE_REPO):
            out.append({"product": rec["database_specific"]["aicensus"]["product"], "source": src,
                        "raw": trim(src["repo"], ghsa[(src["path"], src["commit"])])})  # fmt: skip
            continue
        text = subprocess.run(
            ["git", "--git-dir", mirrors[src["repo"]], "show", f"{src['commit']}:{src['path']}"],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        out.append({"product": rec["database_specific"]["aicensus"]["product"], "source": src,
                    "raw": trim(src["repo"], text)})  # fmt: skip
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(out, indent=1, default=str) + "\n", encoding="utf-8")
    print(f"{len(out)} source records -> {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
