#!/usr/bin/env python3
"""Build the bundled IP → AS number table (src/aicensus/enrich/data/asn-*) from the npm package
`@ip-location-db/asn` (CC BY 4.0: RouteViews, NRO, DB-IP; "IP Geolocation by DB-IP",
https://db-ip.com).

Reproduce the bundled files:

    cd /tmp && npm pack @ip-location-db/asn@2.3.2026061719 && mkdir npmasn \\
        && tar -xzf ip-location-db-asn-2.3.2026061719.tgz -C npmasn
    python scripts/build_asn_data.py /tmp/npmasn/package

Input: the package's `asn-ipv4-num.csv` and `asn-ipv6-num.csv` (`start,end,asn,org`, inclusive
numeric ranges, sorted) and its `package.json` (name, version; the data date is the version's
YYYYMMDD part, e.g. 2.3.2026061719 → 2026-06-17).

Output (everything little-endian; read by `aicensus.enrich.asn.BundledAsn`):

* `asn-ipv4.bin.gz`: gzip of `n` uint32 range starts, then `n` uint32 AS numbers. Entry i covers
  [start[i], start[i+1]) (the last one to 255.255.255.255); ranges that touch and have the same
  AS are merged, and every gap between ranges is an entry with AS 0 ("no AS"). Starts are
  stored as deltas from the previous start (the first from 0): they compress about twice as
  well; the reader adds them up.
* `asn-ipv6.bin.gz`: the same with uint64 starts of **/64 granularity** (the upper 64 bits of the
  address). 99.8 % of the source's IPv6 ranges begin and end on /64 boundaries; a /64 that
  several ranges share goes to the AS that covers most of it (183 source ranges, all at
  Internet exchanges and root-server anycast /48s, are affected).
* `asn-names.tsv.gz`: `asn<TAB>organisation` lines, by AS number, for every AS in either table.
* `asn-data.json`: source package, version, data date, licence, attribution, counts and the
  SHA-256 of the inputs and outputs; the code reads the source, version and date from it.
* `asn-LICENSE.txt`: the attribution and the licence notices the package ships.

Where the source's ranges overlap (once in 2.3.2026061719: IPv4 214.95.0.0–215.0.255.255,
AS749, overlaps 215.0.0.0–215.1.3.255, AS721), the one that starts first keeps its addresses.

The output is deterministic: gzip is written with mtime 0, so the same input gives the same
bytes.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import json
import re
import sys
from array import array
from collections import Counter
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "src" / "aicensus" / "enrich" / "data"
V6_SHIFT = 64  # IPv6 granularity: /64
ATTRIBUTION = (
    "AS numbers and organisations: @ip-location-db/asn (https://github.com/sapics/ip-location-db), "
    "CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/), built from RouteViews "
    "(https://www.routeviews.org/), the NRO's RIR statistics (https://www.nro.net/) and DB-IP's "
    "IP to ASN Lite database: IP Geolocation by DB-IP (https://db-ip.com). Modified by aicensus: "
    "ranges merged, gaps marked, IPv6 reduced to /64 granularity (scripts/build_asn_data.py)."
)


def read_ranges(path: Path) -> tuple[list[tuple[int, int, int]], dict[int, Counter[str]]]:
    """(start, end, asn) rows in file order, and every AS's organisation names by address count."""
    rows: list[tuple[int, int, int]] = []
    names: dict[int, Counter[str]] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for number, record in enumerate(csv.reader(handle), 1):
            if len(record) != 4:
                raise SystemExit(f"{path}:{number}: expected start,end,asn,org, got {record!r}")
            start, end, asn = int(record[0]), int(record[1]), int(record[2])
            if end < start or asn < 0 or asn >= 2**32:
                raise SystemExit(f"{path}:{number}: bad range {record!r}")
            rows.append((start, end, asn))
            names.setdefault(asn, Counter())[record[3].strip()] += end - start + 1
    return rows, names


def to_table(rows: list[tuple[int, int, int]]) -> tuple[list[int], list[int]]:
    """Ranges → (starts, asns): entry i covers [starts[i], starts[i+1]); ranges that touch and
    have the same AS merged; gaps, and the space before the first and after the last range, as
    AS 0. Where ranges overlap, the earlier one (by start) keeps its addresses."""
    segments: list[tuple[int, int]] = [(0, 0)]
    end = -1  # the last address covered so far
    for start, stop, asn in sorted(rows, key=lambda r: r[0]):
        if stop <= end:
            continue  # wholly inside an earlier range
        if start > end + 1:
            segments.append((end + 1, 0))  # a gap
        segments.append((max(start, end + 1), asn))
        end = stop
    segments.append((end + 1, 0))
    starts: list[int] = []
    asns: list[int] = []
    for start, asn in segments:
        if starts and starts[-1] == start:  # an empty segment: the later one replaces it
            starts.pop()
            asns.pop()
        if asns and asns[-1] == asn:
            continue  # contiguous with the same AS
        starts.append(start)
        asns.append(asn)
    return starts, asns


def reduce_v6(rows: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """IPv6 ranges → ranges of /64 blocks (first, last, asn); a /64 that ranges share goes to
    the AS that covers most of it (ties: the lower AS number)."""
    block = 1 << V6_SHIFT
    out: list[tuple[int, int, int]] = []
    partial: dict[int, Counter[int]] = {}
    for start, end, asn in rows:
        first, last = start >> V6_SHIFT, end >> V6_SHIFT
        head_cut, tail_cut = start % block != 0, (end + 1) % block != 0
        if first == last and (head_cut or tail_cut):
            partial.setdefault(first, Counter())[asn] += end - start + 1
            continue
        if head_cut:
            partial.setdefault(first, Counter())[asn] += ((first + 1) << V6_SHIFT) - start
            first += 1
        if tail_cut:
            partial.setdefault(last, Counter())[asn] += end - (last << V6_SHIFT) + 1
            last -= 1
        if first <= last:
            out.append((first, last, asn))
    for cell, counts in partial.items():
        asn = max(counts.items(), key=lambda kv: (kv[1], -kv[0]))[0]
        out.append((cell, cell, asn))
    return sorted(out)


def le_bytes(values: array) -> bytes:  # type: ignore[type-arg]
    if sys.byteorder == "big":
        values = array(values.typecode, values)
        values.byteswap()
    return values.tobytes()


def deltas(starts: list[int]) -> list[int]:
    return [b - a for a, b in zip([0, *starts[:-1]], starts, strict=True)]


def write_gz(path: Path, data: bytes) -> None:
    with (
        path.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as handle,
    ):
        handle.write(data)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("package", type=Path, help="the unpacked npm package directory")
    parser.add_argument("--out", type=Path, default=OUT, help=f"output directory ({OUT})")
    parser.add_argument("--date", help="data date YYYY-MM-DD (default: from the version)")
    args = parser.parse_args(argv)

    package = json.loads((args.package / "package.json").read_text("utf-8"))
    version = package["version"]
    date = args.date
    if date is None:
        found = re.search(r"(20\d{2})(\d{2})(\d{2})", version)
        if not found:
            raise SystemExit(f"cannot read a date from version {version!r}; give --date")
        date = f"{found.group(1)}-{found.group(2)}-{found.group(3)}"

    v4_csv, v6_csv = args.package / "asn-ipv4-num.csv", args.package / "asn-ipv6-num.csv"
    v4_rows, names = read_ranges(v4_csv)
    v6_rows, names6 = read_ranges(v6_csv)
    for asn, counts in names6.items():
        names.setdefault(asn, Counter()).update(counts)

    v4_starts, v4_asns = to_table(v4_rows)
    v6_starts, v6_asns = to_table(reduce_v6(v6_rows))
    assert v4_starts[-1] <= 2**32 and v6_starts[-1] <= 2**64
    if v4_starts[-1] == 2**32:  # a range ended at 255.255.255.255: no entry after it
        v4_starts.pop()
        v4_asns.pop()
    if v6_starts[-1] == 2**64:
        v6_starts.pop()
        v6_asns.pop()

    args.out.mkdir(parents=True, exist_ok=True)
    outputs = {
        "asn-ipv4.bin.gz": le_bytes(array("I", deltas(v4_starts))) + le_bytes(array("I", v4_asns)),
        "asn-ipv6.bin.gz": le_bytes(array("Q", deltas(v6_starts))) + le_bytes(array("I", v6_asns)),
    }
    for name, data in outputs.items():
        write_gz(args.out / name, data)
    used = sorted({*v4_asns, *v6_asns} - {0})
    lines = []
    for asn in used:
        org = names[asn].most_common(1)[0][0].replace("\t", " ").replace("\n", " ")
        lines.append(f"{asn}\t{org}\n")
    write_gz(args.out / "asn-names.tsv.gz", "".join(lines).encode("utf-8"))

    licence = [
        "The IP → AS number data in asn-ipv4.bin.gz, asn-ipv6.bin.gz and asn-names.tsv.gz",
        "",
        ATTRIBUTION,
        "",
        f"Source: npm package {package['name']} {version} (data of {date}),",
        f"licence field: {package.get('license', '')}",
        "",
    ]
    for notice in ("ROUTEVIEWS-LICENSE", "NRO_LICENSE", "DBIP-LICENSE"):
        text = (args.package / notice).read_text("utf-8").strip()
        licence += [f"---- {notice} ----", text, ""]
    (args.out / "asn-LICENSE.txt").write_text("\n".join(licence), "utf-8")

    meta = {
        "source": package["name"],
        "version": version,
        "date": date,
        "licence": "CC BY 4.0",
        "attribution": ATTRIBUTION,
        "attribution_html": "<a href='https://db-ip.com'>IP Geolocation by DB-IP</a>",
        "built_by": "scripts/build_asn_data.py",
        "ipv6_prefix_bits": 128 - V6_SHIFT,
        "ipv4_entries": len(v4_starts),
        "ipv6_entries": len(v6_starts),
        "asns": len(used),
        "source_rows": {"ipv4": len(v4_rows), "ipv6": len(v6_rows)},
        "inputs_sha256": {p.name: sha256(p) for p in (v4_csv, v6_csv)},
        "outputs_sha256": {
            name: sha256(args.out / name)
            for name in ("asn-ipv4.bin.gz", "asn-ipv6.bin.gz", "asn-names.tsv.gz")
        },
    }
    (args.out / "asn-data.json").write_text(json.dumps(meta, indent=2) + "\n", "utf-8")
    total = 0
    for name in (*meta["outputs_sha256"], "asn-data.json", "asn-LICENSE.txt"):
        size = (args.out / name).stat().st_size
        total += size
        print(f"{name:20} {size:>10,} bytes")
    print(
        f"{'total':20} {total:>10,} bytes; IPv4 {len(v4_starts):,} entries from {len(v4_rows):,} "
        f"ranges, IPv6 {len(v6_starts):,} entries (/64) from {len(v6_rows):,}, {len(used):,} ASes"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
