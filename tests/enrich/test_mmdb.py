"""User-supplied MaxMind-format databases (`--geoip-db`), written here with mmdb-writer.

The addresses below are only looked up in these files; nothing is sent anywhere.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from aicensus.enrich import MmdbGeo, enrich
from aicensus.records import AuthState, ScanStatus, ServiceObservation
from aicensus.report.study import StudyOptions, compute_study
from aicensus.store import Store


def _write(path: Path, kind: str, networks: dict[str, dict[str, object]]) -> Path:
    writer = MMDBWriter(
        ip_version=6, ipv4_compatible=True, database_type=kind, languages=["en"],
        description={"en": f"aicensus test {kind}"},
    )  # fmt: skip
    for cidr, record in networks.items():
        writer.insert_network(IPSet([cidr]), record)
    writer.to_db_file(str(path))
    return path


@pytest.fixture
def databases(tmp_path: Path) -> tuple[Path, Path]:
    country = _write(tmp_path / "country.mmdb", "GeoLite2-Country", {
        "8.8.8.0/24": {"country": {"iso_code": "US"}},
        "1.1.1.0/24": {"registered_country": {"iso_code": "au"}},
    })  # fmt: skip
    asn = _write(tmp_path / "asn.mmdb", "GeoLite2-ASN", {
        "8.8.8.0/24": {"autonomous_system_number": 15169,
                       "autonomous_system_organization": "GOOGLE"},
        "1.1.1.0/24": {"autonomous_system_number": 13335,
                       "autonomous_system_organization": "CLOUDFLARENET"},
    })  # fmt: skip
    return country, asn


def test_country_and_asn_files_together(databases: tuple[Path, Path]) -> None:
    geo = MmdbGeo(list(databases))
    google = geo.lookup("8.8.8.8")
    assert (google.country, google.asn, google.org) == ("US", 15169, "GOOGLE")
    assert geo.lookup("1.1.1.1").country == "AU"  # registered_country when country is absent
    assert geo.lookup("9.9.9.9").asn is None  # not in the files
    info = geo.describe()
    assert info.has_asn_numbers and "GeoLite2-ASN" in info.name and len(info.files) == 2
    (found,) = enrich(["8.8.8.8"], geo)
    assert found.as_key == "AS15169" and found.tier_basis == "asn" and found.hyperscaler


def test_a_country_only_file_says_it_has_no_as_numbers(databases: tuple[Path, Path]) -> None:
    geo = MmdbGeo([databases[0]])
    assert geo.lookup("8.8.8.8").asn is None and geo.lookup("8.8.8.8").country == "US"
    assert geo.describe().has_asn_numbers is False


def test_the_study_report_uses_the_given_files(
    databases: tuple[Path, Path], tmp_path: Path
) -> None:
    db = tmp_path / "s.duckdb"
    observations = [
        ServiceObservation(
            ip=ip, port=11434, scheme="http", status=ScanStatus.IDENTIFIED, product="ollama",
            auth=AuthState.OPEN, observed_at=f"2025-03-0{day}T12:00:00Z", source="test",
        )
        for ip in ("8.8.8.8", "1.1.1.1")
        for day in (1, 2)
    ]
    with Store.open(db) as store:
        scan_id = store.begin_scan("ingest", {})
        store.add_observations(scan_id, observations)
        store.finish_scan(scan_id)
    study = compute_study(db, StudyOptions(mmdb=[str(p) for p in databases]))
    enrichment = study["meta"]["enrichment"]
    assert enrichment["asn_numbers"] is True and "GeoLite2-Country" in enrichment["database"]
    scale = next(f for f in study["figures"] if f["id"] == "scale")
    rows = {row[0]: row[1] for row in scale["rows"]}
    assert rows["ASNs"] == 2 and rows["countries"] == 2
    only_country = compute_study(db, StudyOptions(mmdb=[str(databases[0])]))
    scale = next(f for f in only_country["figures"] if f["id"] == "scale")
    assert "ASNs (AS organisations)" in {row[0] for row in scale["rows"]}
