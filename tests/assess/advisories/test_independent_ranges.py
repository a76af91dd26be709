"""The bundle's verdicts against an independent evaluation (tests/support/advisory_truth.py:
the records read as plain JSON, ranges evaluated with `packaging.version`), for every product
numbered like PEP 440 at and around every boundary its records name."""

from __future__ import annotations

from aicensus.assess.advisories.bundle import current_bundle
from aicensus.assess.advisories.match import judge
from tests.support.advisory_truth import _v, expected_ids, records


def _probes(recs: list[dict]) -> set[str]:
    out: set[str] = set()
    for rec in recs:
        for aff in rec["affected"]:
            for rng in aff.get("ranges", []):
                for event in rng["events"]:
                    ((_, value),) = event.items()
                    version = _v(value)
                    if version is None or value == "0":
                        continue
                    rel = list(version.release)
                    out |= {str(version), ".".join(map(str, [*rel[:-1], rel[-1] + 1]))}
                    if rel[-1] > 0:
                        out.add(".".join(map(str, [*rel[:-1], rel[-1] - 1])))
    # "0.0.0" is a placeholder when a service reports it: no verdict, by design.
    return out - {"0.0.0"}


def test_every_boundary_of_every_record_agrees_with_an_independent_evaluation() -> None:
    bundle = current_bundle()
    checked = 0
    for product, recs in records().items():
        if bundle.products[product].scheme != "pep440":
            continue
        for probe in sorted(_probes(recs)):
            version = _v(probe)
            assert version is not None
            want, unreadable = expected_ids(recs, version)
            if unreadable:
                continue  # a boundary packaging cannot order (npm's "2.2.7-patch.1")
            got = {frozenset(m.advisory.ids) for m in judge(bundle, product, probe).matches}
            assert got == want, (product, probe, [sorted(x) for x in got ^ want])
            checked += 1
    assert checked >= 1200
