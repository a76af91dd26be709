"""The compliance packs through the public library (aicensus.api), as the CLI calls them."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from aicensus import api
from aicensus.errors import AicensusError
from aicensus.pipeline import attribute_all
from tests.support.assess_cases import open_ollama


def _store(path: Path) -> str:
    """Two scans of one open Ollama (qwen2.5:7b from CN, llama3.2-vision:11b from US)."""
    from aicensus.store import Store

    with Store.open(str(path)) as store:
        for when in ("2025-02-10T08:00:00+00:00", "2025-03-01T00:00:00+00:00"):
            obs = msgspec.structs.replace(open_ollama("127.0.0.1"), observed_at=when)
            attribute_all(obs.models)
            scan = store.begin_scan("scan", {"targets": ["127.0.0.1"]})
            store.add_observations(scan, [obs])
            store.finish_scan(scan)
    return str(path)


def _hits(report: api.ComplianceReport) -> list[str | None]:
    (section,) = report.packs
    return [i.verdict.model for i in section.items if i.verdict.verdict == "violation"]


def test_packs_and_pack_by_name() -> None:
    names = [p.name for p in api.packs()]
    assert {"countries-of-concern", "licence-terms"} <= set(names)
    assert api.pack("licence-terms").profiles
    with pytest.raises(api.PolicyError, match="no pack named") as err:
        api.pack("no-such-pack")
    assert "\n" not in str(err.value)


def test_check_packs_params_as_mapping_or_command_line(tmp_path: Path) -> None:
    db = _store(tmp_path / "s.duckdb")
    assert _hits(api.check_packs(["countries-of-concern"], db=db)) == ["qwen2.5:7b"]
    by_map = api.check_packs(["countries-of-concern"], db=db, params={"countries": ["US"]})
    by_text = api.check_packs(["countries-of-concern"], db=db, params=["countries=US"])
    assert _hits(by_map) == ["llama3.2-vision:11b"] and not by_map.packs[0].compliant
    assert api.render_compliance(by_map, "json") == api.render_compliance(by_text, "json")
    assert all(i.since is None for i in by_map.packs[0].items)  # check_packs reads no history
    dated = api.compliance_report(["countries-of-concern"], db=db).packs[0].items
    assert [i.since[:10] for i in dated if i.since] == ["2025-02-10"]
    with pytest.raises(AicensusError, match="no selected pack takes"):
        api.check_packs(["licence-terms"], db=db, params={"countries": ["CA"]})


def test_render_compliance_formats(tmp_path: Path) -> None:
    report = api.check_packs(["countries-of-concern"], db=_store(tmp_path / "s.duckdb"))
    assert set(api.COMPLIANCE_FORMATS) == {"text", "json", "html", "sarif"}
    assert json.loads(api.render_compliance(report, "sarif"))["version"] == "2.1.0"
    assert "countries-of-concern: VIOLATED" in api.render_compliance(report)
    with pytest.raises(AicensusError, match="compliance format 'pdf'"):
        api.render_compliance(report, "pdf")
