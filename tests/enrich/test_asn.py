"""The bundled IP → AS table (enrich/asn.py, data/asn-*) and the default enrichment that uses it.

Every lookup here is offline, in the bundled files: no packet is sent.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import time
from pathlib import Path
from types import ModuleType

import pytest

from aicensus.enrich import BundledAsn, EmbeddedGeo, GeoResult, default_tiers, enrich
from aicensus.enrich.asn import asn_metadata, bundled_asn

ROOT = Path(__file__).parents[2]
DATA = ROOT / "src" / "aicensus" / "enrich" / "data"

# Well-known networks (AS numbers as the operators publish them in PeeringDB).
KNOWN = [
    ("8.8.8.8", 15169),  # Google Public DNS
    ("1.1.1.1", 13335),  # Cloudflare DNS
    ("1.0.0.255", 13335),  # last address of Cloudflare's 1.0.0.0/24
    ("52.95.110.1", 16509),  # AWS
    ("54.239.28.85", 16509),  # AWS (amazon.com)
    ("116.202.10.10", 24940),  # Hetzner 116.202.0.0/16
    ("47.74.0.1", 45102),  # Alibaba Cloud 47.74.0.0/16
    ("20.190.128.1", 8075),  # Microsoft
    ("2001:4860:4860::8888", 15169),  # Google Public DNS, IPv6
    ("2606:4700:4700::1111", 13335),  # Cloudflare, IPv6
    ("2a01:4f8::1", 24940),  # Hetzner, IPv6
    ("2600:1f18::1", 14618),  # AWS us-east-1, IPv6
    ("::ffff:8.8.8.8", 15169),  # IPv4-mapped IPv6 is the IPv4 address
]

MALFORMED = [
    "", "not-an-ip", "1.2.3", "256.1.1.1", "8.8.8.8/32", "1.1.1.1\n", " 8.8.8.8", "127.1",
    "::g", "1:2:3:4:5:6:7:8:9", "2001:4860:4860::8888%eth0", "١.١.١.١",
]  # fmt: skip


@pytest.mark.parametrize(("ip", "asn"), KNOWN)
def test_known_networks_in_the_bundled_table(ip: str, asn: int) -> None:
    found = bundled_asn().lookup(ip)
    assert found is not None and found[0] == asn
    assert found[1]  # every AS in the table has a name
    result = EmbeddedGeo().lookup(ip)
    assert result.asn == asn and result.org == found[1] and result.country


def test_organisation_names_and_a_gap() -> None:
    table = bundled_asn()
    assert table.lookup("8.8.8.8") == (15169, "Google LLC")
    assert table.lookup("116.202.10.10") == (24940, "Hetzner Online GmbH")
    # 1.0.0.0/24 is Cloudflare's; 1.0.1.0–1.0.3.255 is announced by nobody in this data
    assert table.lookup("1.0.1.0") is None
    assert table.lookup("0.0.0.0") is None and table.lookup("255.255.255.255") is None


def test_private_reserved_and_documentation_addresses_get_nothing() -> None:
    geo = EmbeddedGeo()
    for ip in ("10.0.0.1", "192.168.1.1", "127.0.0.1", "100.64.0.1", "192.0.2.1", "198.51.100.7",
               "203.0.113.9", "240.0.0.1", "::1", "fe80::1", "fc00::1", "2001:db8::1",
               "::ffff:10.0.0.1"):  # fmt: skip
        assert geo.lookup(ip) == GeoResult(), ip
    found = {e.ip: e for e in enrich(["10.0.0.1", "2001:db8::1"])}
    assert all(e.asn is None and e.org is None and e.tier == "unknown" for e in found.values())


@pytest.mark.parametrize("ip", MALFORMED)
def test_malformed_addresses_give_an_empty_result(ip: str) -> None:
    assert bundled_asn().lookup(ip) is None
    assert EmbeddedGeo().lookup(ip) == GeoResult()
    (found,) = enrich([ip])
    assert (found.ip, found.asn, found.as_key, found.tier, found.tier_basis) == (
        ip, None, None, "unknown", "none",
    )  # fmt: skip


def test_tiers_classify_by_as_number_now() -> None:
    found = {e.ip: e for e in enrich(["52.95.110.1", "8.8.8.8", "2600:1f18::1", "13.107.42.14"])}
    for ip in ("52.95.110.1", "8.8.8.8", "2600:1f18::1"):
        e = found[ip]
        assert (e.tier, e.hyperscaler, e.tier_basis) == ("cloud/hosting", True, "asn"), e
        assert e.as_key == f"AS{e.asn}"
    # AS8068 is not in the tier table by number; GeoLite2's organisation name for the address
    # (MICROSOFT-CORP-MSN-AS-BLOCK, the table's spelling) classifies it
    ms = found["13.107.42.14"]
    assert ms.asn == 8068 and ms.org == "Microsoft Corporation"
    assert (ms.tier, ms.hyperscaler, ms.tier_basis) == ("cloud/hosting", True, "org")


def test_classify_tries_the_other_name_after_the_number_and_the_first_name() -> None:
    table = default_tiers()
    assert table.classify("Amazon.com, Inc.", 16509, "AMAZON-02").basis == "asn"
    by_alt = table.classify("Some Name Nobody Lists", None, "AMAZON-02")
    assert (by_alt.tier, by_alt.hyperscaler, by_alt.basis) == ("cloud/hosting", True, "org")
    assert table.classify("Nobody", None, "Example University").basis == "name rule"
    assert table.classify("Nobody", None, "Nobody Either").tier == "unknown"


def test_describe_names_both_sources_and_their_dates() -> None:
    info = EmbeddedGeo().describe()
    assert info.has_asn_numbers is True
    assert info.date == "2024-06-18"  # the older of the two: GeoLite2's country data
    assert "GeoLite2" in info.name and "geoip2fast" in info.name
    assert "@ip-location-db/asn 2.3.2026061719" in info.name and "2026-06-17" in info.name
    assert "IP Geolocation by DB-IP, https://db-ip.com" in info.name
    assert "CC BY 4.0" in info.name and "RouteViews" in info.name and "NRO" in info.name
    assert len(info.files) == 4 and all(Path(f).is_file() for f in info.files)


def test_metadata_matches_the_bundled_files() -> None:
    meta = asn_metadata()
    assert (meta["source"], meta["version"], meta["date"]) == (
        "@ip-location-db/asn", "2.3.2026061719", "2026-06-17",
    )  # fmt: skip
    for name, digest in meta["outputs_sha256"].items():
        assert hashlib.sha256((DATA / name).read_bytes()).hexdigest() == digest, name
    licence = (DATA / "asn-LICENSE.txt").read_text("utf-8")
    assert "IP Geolocation by DB-IP" in licence and "https://db-ip.com" in licence
    assert "routeviews.org" in licence and "nro.net" in licence
    size = sum((DATA / n).stat().st_size for n in (*meta["outputs_sha256"], "asn-data.json"))
    assert size < 3_000_000


def test_lookups_are_fast() -> None:
    table = BundledAsn()
    start = time.perf_counter()
    table.lookup("8.8.8.8")
    table.lookup("2001:4860:4860::8888")
    assert time.perf_counter() - start < 2.0  # loading; about 0.1 s here
    ips = [f"{a}.{b}.{(a * b) % 256}.7" for a in range(1, 224) for b in range(0, 256, 3)]
    start = time.perf_counter()
    found = [table.lookup(ip) for ip in ips]
    took = time.perf_counter() - start
    assert sum(f is not None for f in found) > len(ips) // 2
    assert len(ips) / took > 50_000  # about 700,000/s on the 2-core development machine


# ---------------------------------------------------------------- the build script


def _builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "build_asn_data", ROOT / "scripts" / "build_asn_data.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _package(path: Path) -> Path:
    path.mkdir()
    (path / "package.json").write_text(
        json.dumps({"name": "@ip-location-db/asn", "version": "2.3.2025010203", "license": "x"})
    )
    for notice in ("ROUTEVIEWS-LICENSE", "NRO_LICENSE", "DBIP-LICENSE"):
        (path / notice).write_text(f"{notice} text")
    v4 = [
        (16777216, 16777471, 13335, '"Cloudflare, Inc."'),  # 1.0.0.0/24
        (16777472, 16777727, 13335, '"Cloudflare, Inc."'),  # 1.0.1.0/24, contiguous: merged
        (16778240, 16779263, 38803, "Gtelecom"),  # 1.0.4.0/22 after a gap
        (16779000, 16779519, 64500, "Overlap"),  # overlaps: the earlier range keeps its part
        (4294967040, 4294967295, 64501, "Top"),  # 255.255.255.0/24 up to the last address
    ]
    (path / "asn-ipv4-num.csv").write_text("".join(f"{s},{e},{a},{o}\n" for s, e, a, o in v4))
    base = 0x20010DB8 << 96  # ranges in 2001:db8::/32
    v6 = [
        (base, base + (1 << 80) - 1, 64502, "Whole48"),  # 2001:db8::/48
        (base + (1 << 80), base + (1 << 80) + 0x2F, 64503, "Small"),  # inside one /64 …
        (base + (1 << 80) + 0x30, base + (2 << 80) - 1, 64504, "Big"),  # … mostly this one
    ]
    (path / "asn-ipv6-num.csv").write_text("".join(f"{s},{e},{a},{o}\n" for s, e, a, o in v6))
    return path


def test_build_script_round_trip(tmp_path: Path) -> None:
    build = _builder()
    package = _package(tmp_path / "package")
    out = tmp_path / "out"
    assert build.main([str(package), "--out", str(out)]) == 0
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    assert build.main([str(package), "--out", str(out)]) == 0
    assert {p.name: p.read_bytes() for p in out.iterdir()} == first  # deterministic
    meta = json.loads((out / "asn-data.json").read_text())
    assert meta["date"] == "2025-01-02" and meta["ipv6_prefix_bits"] == 64
    raw = gzip.decompress((out / "asn-ipv4.bin.gz").read_bytes())
    # entries: 0 → AS0, 1.0.0.0 → 13335, 1.0.2.0 → AS0, 1.0.4.0 → 38803, 1.0.8.0 → 64500,
    # 1.0.9.0 → AS0, 255.255.255.0 → 64501 (to the end: no entry after it)
    assert len(raw) == 7 * 8 and meta["ipv4_entries"] == 7

    table = BundledAsn(out)
    assert table.lookup("1.0.0.0") == (13335, "Cloudflare, Inc.")
    assert table.asn("1.0.1.255") == 13335
    assert table.asn("1.0.2.0") is None and table.asn("1.0.3.255") is None
    assert table.asn("1.0.7.255") == 38803  # the overlap went to the earlier range
    assert table.asn("1.0.8.0") == 64500 and table.asn("1.0.8.255") == 64500
    assert table.asn("1.0.9.0") is None and table.asn("0.255.255.255") is None
    assert table.asn("255.255.255.255") == 64501 and table.asn("255.255.254.255") is None
    assert table.asn("2001:db8::1") == 64502 and table.asn("2001:db8:0:ffff::1") == 64502
    assert table.asn("2001:db8:1::1") == 64504  # the /64 goes to the AS covering most of it
    assert table.asn("2001:db8:1:1::1") == 64504 and table.asn("2001:db8:2::") is None
    assert table.lookup("2001:db8:1::1") == (64504, "Big")
    assert table.date() == "2025-01-02" and "2.3.2025010203" in table.describe()


def test_a_damaged_table_raises_instead_of_answering_nothing(tmp_path: Path) -> None:
    build = _builder()
    out = tmp_path / "out"
    build.main([str(_package(tmp_path / "package")), "--out", str(out)])
    with gzip.open(out / "asn-ipv4.bin.gz", "wb") as handle:
        handle.write(b"\x00" * 13)  # not a whole number of entries
    with pytest.raises(ValueError, match="damaged"):
        BundledAsn(out).lookup("1.0.0.1")
    (out / "asn-ipv6.bin.gz").unlink()
    with pytest.raises(FileNotFoundError):
        BundledAsn(out).lookup("2001:db8::1")
