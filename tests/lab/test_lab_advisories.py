"""Acceptance of the advisories on the lab (issue 16): every service the scan finds with a
version gets exactly the advisories whose ranges contain that version, and a service without
one gets ONE `unknown version` finding.

The emulated lab (every emulator and the Ollama emulator, on a private loopback /24) is scanned
through the library and each observation assessed as `aicensus report` does; the expected
advisories come from tests/support/advisory_truth.py, which reads the shipped bundle as plain
JSON and evaluates its ranges with `packaging.version`, independently of aicensus's range code.
The real products the lab tests start are checked the same way in test_lab_all.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from aicensus import api
from aicensus.assess import assess
from aicensus.assess.advisories.bundle import ENV_DIR, clear_cache
from aicensus.lab.full import FullLab
from aicensus.records import ScanStatus, ServiceObservation
from tests.support.advisory_truth import (
    Assessed,
    advisory_findings,
    check_versioned,
    check_versionless,
)
from tests.support.lab import free_network

SELECTION = "emulators,ollama"


@pytest.fixture(scope="module")
def assessed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Assessed]:
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


def test_versioned_services_get_exactly_the_advisories_in_range(assessed: Assessed) -> None:
    # The lab's versions are recent, yet some fall inside published ranges: both sides compared.
    check_versioned(assessed, minimum=20, need_affected=True)


def test_services_without_version_get_one_unknown_version_finding(assessed: Assessed) -> None:
    check_versionless(assessed, minimum=5)


def _llama_builds() -> list[str]:
    """Builds at and around every boundary of llama.cpp's records, written as llama-server's
    /props build_info reports them (b<build>-<commit>), plus one far above them all."""
    from tests.support.advisory_truth import records

    builds = {9_999_999}
    for rec in records()["llama.cpp"]:
        for aff in rec["affected"]:
            for rng in aff.get("ranges", []):
                for ev in rng["events"]:
                    ((_, value),) = ev.items()
                    if value.removeprefix("b").isdigit() and value != "0":
                        n = int(value.removeprefix("b"))
                        builds |= {n - 1, n, n + 1}
    return [f"b{n}-0a1b2c3d" for n in sorted(builds)]


def test_llama_cpp_builds_get_exactly_the_advisories_in_range() -> None:
    """llama.cpp numbers its releases by build (bNNNN), not PEP 440: a llama-server at every
    build next to a record's boundary gets exactly the records in range, the truth ordering
    builds with its own reading (the real llama-server of the --all lab is checked the same way
    in test_lab_all.py)."""
    builds = _llama_builds()
    assert len(builds) >= 10  # the records bound at least a handful of builds
    observed = [
        ServiceObservation(
            ip="127.0.0.1",
            port=8080,
            scheme="http",
            status=ScanStatus.IDENTIFIED,
            product="llama.cpp",
            version=b,
        )
        for b in builds
    ]
    assessed = [(o, assess(o)) for o in observed]
    check_versioned(assessed, minimum=len(builds), need_affected=True)
    # the oldest build is inside every bounded range; the newest inside none
    first, last = assessed[0][1], assessed[-1][1]
    assert len(advisory_findings(first)) > len(advisory_findings(last))
