"""An independent reading of the shipped advisory bundle for the lab acceptance tests (issue 16):
which records a version is in range of, evaluated with `packaging.version` under OSV's rules
(introduced inclusive unless marked exclusive, fixed exclusive, last_affected inclusive, a limit
bounding the whole range), without aicensus's bundle or range code; and the two checks the
acceptance asks for, over (observation, findings) pairs. llama.cpp's builds ("b6123-0a1b2c3d" as
llama-server's /props build_info reports them, "b2740" as its records bound them) are ordered by
their build number, read here with a regex of this module's own.
"""

from __future__ import annotations

import functools
import gzip
import json
import re

import yaml
from packaging.version import InvalidVersion, Version

from aicensus.assess import Finding
from aicensus.assess.advisories.bundle import builtin_dir
from aicensus.records import ServiceObservation

UNKNOWN = "AIC-VULN-UNKNOWN-VERSION"
Assessed = list[tuple[ServiceObservation, list[Finding]]]


def records() -> dict[str, list[dict]]:
    """The shipped bundle's records by product, read without aicensus's bundle code."""
    by_product: dict[str, list[dict]] = {}
    with gzip.open(builtin_dir() / "advisories.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            by_product.setdefault(rec["database_specific"]["aicensus"]["product"], []).append(rec)
    return by_product


_BUILD = re.compile(r"b?(\d+)(?:-[0-9a-f]{4,40})?")  # llama.cpp: b<build>[-<commit>]


@functools.cache
def schemes() -> dict[str, str]:
    """Each product's version ordering, read from products.yaml as plain YAML."""
    data = yaml.safe_load((builtin_dir().parent / "products.yaml").read_text(encoding="utf-8"))
    return {slug: str(spec.get("scheme", "pep440")) for slug, spec in data["products"].items()}


def _v(text: str, scheme: str = "pep440") -> Version | None:
    if scheme == "llamacpp-build":
        m = _BUILD.fullmatch(text.strip())
        return Version(m.group(1)) if m else None
    try:
        return Version(text.removeprefix("v"))
    except InvalidVersion:
        return None


def version_of(obs: ServiceObservation) -> Version | None:
    """The observation's version under its product's ordering, or None when it has none."""
    if not obs.version:
        return None
    return _v(str(obs.version), schemes().get(str(obs.product), "pep440"))


class Unreadable(Exception):
    """A range boundary packaging cannot order: the record is left out of the comparison."""


def _in_range(rng: dict, v: Version, scheme: str) -> bool:
    exclusive = bool((rng.get("database_specific") or {}).get("introduced_exclusive"))
    inside = False
    # OSV: events sorted by version; "introduced" opens an interval, the others close it.
    events = []
    for ev in rng["events"]:
        ((kind, value),) = ev.items()
        bound = Version("0") if value == "0" and kind == "introduced" else _v(value, scheme)
        if bound is None:
            raise Unreadable(value)
        events.append((bound, 0 if kind == "introduced" else 1, kind))
    limits = [bound for bound, _, kind in events if kind == "limit"]
    if limits and not any(v < bound for bound in limits):  # a limit bounds the whole range
        return False
    for bound, _, kind in sorted(events):
        if kind == "introduced":
            opened = v > bound if exclusive and bound != Version("0") else v >= bound
            inside = inside or opened
        elif (kind == "fixed" and v >= bound) or (kind == "last_affected" and v > bound):
            inside = False
    return inside


def _affects(rec: dict, version: Version, scheme: str = "pep440") -> bool:
    for aff in rec["affected"]:
        numbered = [r for r in aff.get("ranges", []) if r["type"] in ("ECOSYSTEM", "SEMVER")]
        if any(_in_range(r, version, scheme) for r in numbered):
            return True
        for listed in aff.get("versions") or []:
            if _v(listed, scheme) == version:
                return True
    return False


def expected_ids(
    records: list[dict], version: Version, scheme: str = "pep440"
) -> tuple[set[frozenset[str]], int]:
    """(the id sets, id plus aliases, of the records affecting `version`; how many records
    had a boundary packaging cannot order and were left out)."""
    hit, unreadable = set(), 0
    for rec in records:
        try:
            if _affects(rec, version, scheme):
                hit.add(frozenset([rec["id"], *rec.get("aliases", [])]))
        except Unreadable:
            unreadable += 1
    return hit, unreadable


def advisory_findings(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if any(line.startswith("affected: ") for line in f.evidence)]


def _unreadable_record(
    recs: dict[str, list[dict]], obs: ServiceObservation, ids: frozenset[str]
) -> bool:
    scheme = schemes().get(str(obs.product), "pep440")
    for rec in recs.get(str(obs.product), []):
        if ids == frozenset([rec["id"], *rec.get("aliases", [])]):
            try:
                _affects(rec, Version("0"), scheme)
            except Unreadable:
                return True
    return False


def check_versioned(assessed: Assessed, *, minimum: int, need_affected: bool) -> None:
    """Every service with an orderable version: its advisory findings are exactly the records
    in range (records with a boundary packaging cannot order are left out, at most 5)."""
    recs = records()
    versioned = [(o, fs) for o, fs in assessed if version_of(o) is not None]
    assert len(versioned) >= minimum, [(o.product, o.version) for o, _ in assessed]
    affected_somewhere = left_out = 0
    for obs, findings in versioned:
        version = version_of(obs)
        assert version is not None
        scheme = schemes().get(str(obs.product), "pep440")
        want, unreadable = expected_ids(recs.get(str(obs.product), []), version, scheme)
        left_out += unreadable
        got = {frozenset(f.cve) for f in advisory_findings(findings)}
        if unreadable:
            got = {g for g in got if g in want or not _unreadable_record(recs, obs, g)}
        assert got == want, (obs.product, obs.version, sorted(map(sorted, got ^ want)))
        assert not any(f.id == UNKNOWN for f in findings), (obs.product, obs.version)
        affected_somewhere += bool(want)
    assert left_out <= 5
    if need_affected:
        assert affected_somewhere >= 1


def check_versionless(assessed: Assessed, *, minimum: int) -> None:
    """Every service without a version: one unknown-version finding when its product has
    advisories (counting them all), none otherwise, and never an advisory finding."""
    recs = records()
    versionless = [(o, fs) for o, fs in assessed if not o.version]
    assert len([o for o, _ in versionless if recs.get(str(o.product))]) >= minimum
    for obs, findings in versionless:
        unknown = [f for f in findings if f.id == UNKNOWN]
        assert not advisory_findings(findings), obs.product
        if recs.get(str(obs.product)):
            assert len(unknown) == 1, (obs.product, [f.id for f in findings])
            n = len(recs[str(obs.product)])
            assert unknown[0].title == f"Unknown version: {n} {obs.product} advisories may apply"
        else:
            assert not unknown, obs.product
