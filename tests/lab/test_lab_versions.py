"""The lab knows the version each service runs (a real launch's pin or installed distribution,
an emulator table's `version`), and the accuracy report checks a scan's versions against it:
a wrong version is a mismatch, a version the product keeps to itself is listed apart."""

from __future__ import annotations

import importlib.metadata

from aicensus.fingerprint.schema import LabLaunch
from aicensus.lab import layout
from aicensus.lab.accuracy import compare, render
from aicensus.lab.emulators.tables import load_table


def _launch(version: str | None, **fields: object) -> LabLaunch:
    return LabLaunch(name="x-real-open", command=["true"], version=version, **fields)  # type: ignore[arg-type]


def test_a_launch_version_comes_from_its_pin_its_npm_spec_or_the_installed_distribution() -> None:
    pinned = _launch("{dist:label_studio}", install=["label-studio[extra]==1.23.2", "torch==2"])
    assert layout.launch_version(pinned) == "1.23.2"
    assert layout.launch_version(_launch("{dist:sillytavern}", npm=["sillytavern@1.19.0"])) == (
        "1.19.0"
    )
    assert layout.launch_version(_launch("{dist:msgspec}")) == importlib.metadata.version("msgspec")
    assert layout.launch_version(_launch("1.0.0")) == "1.0.0"
    assert layout.launch_version(_launch("{dist:no-such-distribution-here}")) is None
    assert layout.launch_version(_launch(None)) is None


def test_every_service_of_the_lab_with_a_table_version_carries_it_into_the_truth() -> None:
    services = layout.full_layout()
    emulated = [s for s in services if s.kind == "emulator"]
    for svc in emulated:
        assert svc.expected_version == (
            str(load_table(svc.source).vars["version"])
            if "version" in load_table(svc.source).vars
            else None
        ), svc.name
    assert sum(1 for s in emulated if s.expected_version) >= 20
    real = {s.name: s for s in services if s.kind == "real"}
    assert real["sillytavern-open"].expected_version == "1.19.0"
    assert real["open-webui-real-open"].expected_version == "0.12.4"
    truth = {t["name"]: t for t in layout.ground_truth(services)}
    assert truth["vllm-open"]["version"] == load_table("vllm").vars["version"]


def _truth(name: str, version: str | None) -> dict[str, object]:
    return {"name": name, "address": f"127.0.0.{len(name)}", "port": 80, "product": "p",
            "auth": "open", "version": version}  # fmt: skip


def _seen(truth: dict[str, object], version: str | None) -> dict[str, object]:
    return {"ip": truth["address"], "port": 80, "status": "identified", "product": "p",
            "auth": "open", "version": version}  # fmt: skip


def test_the_report_counts_right_wrong_and_unnamed_versions() -> None:
    right, tagged, wrong, hidden, unknown = (
        _truth("right", "1.2.3"), _truth("tagged", "v3.7.0"), _truth("wrongver", "1.2.3"),
        _truth("hidden-ver", "2.0"), _truth("unknown-truth", None),
    )  # fmt: skip
    seen = [_seen(right, "1.2.3"), _seen(tagged, "3.7.0"), _seen(wrong, "1.2.4"),
            _seen(hidden, None), _seen(unknown, "9")]  # fmt: skip
    report = compare([right, tagged, wrong, hidden, unknown], seen)
    assert report.versions_right == 2 and report.versions_unnamed == ["hidden-ver"]
    assert [(m.what, m.name, m.expected, m.got) for m in report.mismatches] == [
        ("version", "wrongver", "1.2.3", "1.2.4")
    ]
    assert not report.perfect and report.overall.tp == 5
    assert "versions: 2 right, 1 wrong, 1 not named (hidden-ver)" in render(report)
    assert report.as_dict()["versions"] == {"right": 2, "not_named": ["hidden-ver"]}
