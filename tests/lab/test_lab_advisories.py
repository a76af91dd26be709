"""Acceptance of the advisories on the lab (issue 16): every service the scan finds with a
version gets exactly the advisories whose ranges contain that version, and a service without
one gets ONE `unknown version` finding.

The emulated lab (every emulator and the Ollama emulator, on a private loopback /24) is scanned
through the library and each observation assessed as `aicensus report` does. The expected
advisories are computed here, independently of aicensus's range code: the shipped bundle's
records are read as plain JSON and their ECOSYSTEM/SEMVER ranges and explicit versions are
evaluated with `packaging.version` under OSV's rules (introduced inclusive unless marked
exclusive, fixed and limit exclusive, last_affected inclusive).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator

import pytest
from packaging.version import InvalidVersion, Version

from aicensus import api
from aicensus.assess import Finding, assess
from aicensus.assess.advisories.bundle import ENV_DIR, builtin_dir, clear_cache
from aicensus.lab.full import FullLab
from aicensus.records import ServiceObservation
from tests.support.lab import free_network

SELECTION = "emulators,ollama"
UNKNOWN = "AIC-VULN-UNKNOWN-VERSION"
UNDETERMINED = "AIC-VULN-UNDETERMINED"


def _records() -> dict[str, list[dict]]:
    """The shipped bundle's records by product, read without aicensus's bundle code."""
    by_product: dict[str, list[dict]] = {}
    with gzip.open(builtin_dir() / "advisories.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            by_product.setdefault(rec["database_specific"]["aicensus"]["product"], []).append(rec)
    return by_product


def _v(text: str) -> Version | None:
    try:
        return Version(text.removeprefix("v"))
    except InvalidVersion:
        return None


class Unreadable(Exception):
    """A range boundary packaging cannot order: the record is left out of the comparison."""


def _in_range(rng: dict, v: Version) -> bool:
    exclusive = bool((rng.get("database_specific") or {}).get("introduced_exclusive"))
    inside = False
    # OSV: events sorted by version; "introduced" opens an interval, the others close it.
    events = []
    for ev in rng["events"]:
        ((kind, value),) = ev.items()
        bound = Version("0") if value == "0" and kind == "introduced" else _v(value)
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


def _affects(rec: dict, version: Version) -> bool:
    for aff in rec["affected"]:
        numbered = [r for r in aff.get("ranges", []) if r["type"] in ("ECOSYSTEM", "SEMVER")]
        if any(_in_range(r, version) for r in numbered):
            return True
        for listed in aff.get("versions") or []:
            if _v(listed) == version:
                return True
    return False


def expected_ids(records: list[dict], version: Version) -> tuple[set[frozenset[str]], int]:
    """(the id sets, id plus aliases, of the records affecting `version`; how many records
    had a boundary packaging cannot order and were left out)."""
    hit, unreadable = set(), 0
    for rec in records:
        try:
            if _affects(rec, version):
                hit.add(frozenset([rec["id"], *rec.get("aliases", [])]))
        except Unreadable:
            unreadable += 1
    return hit, unreadable


def _advisory_findings(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if any(line.startswith("affected: ") for line in f.evidence)]


@pytest.fixture(scope="module")
def assessed(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[list[tuple[ServiceObservation, list[Finding]]]]:
    base = tmp_path_factory.mktemp("lab-advisories")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(ENV_DIR, str(base / "no-user-bundle"))  # judge with the shipped bundle
        clear_cache()
        lab = FullLab(base / "all", network=free_network(), only=SELECTION)
        lab.up()
        try:
            truth = lab.ground_truth()
            observed: list[ServiceObservation] = []
            targets = api.plan_targets(sorted({str(t["address"]) for t in truth}), ports="ai")
            api.scan(targets, on_observation=observed.append)
            yield [(o, assess(o)) for o in observed if o.product]
        finally:
            lab.down()
            clear_cache()


def test_versioned_services_get_exactly_the_advisories_in_range(
    assessed: list[tuple[ServiceObservation, list[Finding]]],
) -> None:
    records = _records()
    versioned = [(o, fs) for o, fs in assessed if o.version and _v(o.version) is not None]
    assert len(versioned) >= 20
    affected_somewhere = left_out = 0
    for obs, findings in versioned:
        version = _v(str(obs.version))
        assert version is not None
        want, unreadable = expected_ids(records.get(str(obs.product), []), version)
        left_out += unreadable
        got = {frozenset(f.cve) for f in _advisory_findings(findings)}
        if unreadable:
            got = {g for g in got if g in want or not _unreadable_record(records, obs, g)}
        assert got == want, (obs.product, obs.version, sorted(map(sorted, got ^ want)))
        assert not any(f.id == UNKNOWN for f in findings), (obs.product, obs.version)
        affected_somewhere += bool(want)
    assert left_out <= 5
    # The lab's versions are recent, yet some fall inside published ranges: both sides compared.
    assert affected_somewhere >= 1


def _unreadable_record(
    records: dict[str, list[dict]], obs: ServiceObservation, ids: frozenset[str]
) -> bool:
    for rec in records.get(str(obs.product), []):
        if ids == frozenset([rec["id"], *rec.get("aliases", [])]):
            try:
                _affects(rec, Version("0"))
            except Unreadable:
                return True
    return False


def test_services_without_version_get_one_unknown_version_finding(
    assessed: list[tuple[ServiceObservation, list[Finding]]],
) -> None:
    records = _records()
    versionless = [(o, fs) for o, fs in assessed if not o.version]
    with_advisories = [(o, fs) for o, fs in versionless if records.get(str(o.product))]
    assert len(with_advisories) >= 5
    for obs, findings in versionless:
        unknown = [f for f in findings if f.id == UNKNOWN]
        assert not _advisory_findings(findings), obs.product
        if records.get(str(obs.product)):
            assert len(unknown) == 1, (obs.product, [f.id for f in findings])
            n = len(records[str(obs.product)])
            assert unknown[0].title == f"Unknown version: {n} {obs.product} advisories may apply"
        else:
            assert not unknown, obs.product
