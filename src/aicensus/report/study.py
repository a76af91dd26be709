"""`aicensus report study`: the measurement-study figures of a store, each with its exact
definition, and set beside the published studies' figures.

Units (docs/measurement.md):

* observation — one stored observation of an identified AI service (status `identified`) with
  a timestamp, inside the population (product filter, time window);
* host — one distinct IP address among them; service — one distinct (IP, port);
* host-day — one distinct (host, UTC date) with at least one observation;
* window — [first observation, last observation]; its length in days counts both ends;
* (host, model) instance — one distinct model name on one host over the window.

`compute_study()` returns a JSON-ready dict: `meta`, `figures` (a list of figure tables) and
`comparison` (ours beside the published value). Nothing here sends a request.

The queries are the store's (store/study.py); the figures and their definitions are in
report/study_figures.py; the published figures and their sources in report/data/published.yaml.
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import msgspec

from aicensus.assess import honeypot
from aicensus.enrich import default_tiers, enrich, open_geo
from aicensus.errors import StoreError
from aicensus.report import study_figures as figures_of
from aicensus.report.published import Published, default_published
from aicensus.report.study_figures import (
    CAPABILITIES,
    PARAM_BAND_DEFINITION,
    QUANT_CLASS_DEFINITION,
    Figure,
)
from aicensus.store import Store
from aicensus.store import longitudinal as lon
from aicensus.store.study import (
    INVENTORY_BINS,
    PARAM_BANDS,
    PERSISTENCE_BINS,
    StudyQueries,
)
from aicensus.version import __version__

# The figures in the order the report shows them.
FIGURE_ORDER = (
    "scale", "persistence", "persistence_histogram", "host_days", "tiers", "countries",
    "asns", "families", "codeployment", "developers", "developer_countries",
    "quantization_hosts", "quantization_bits", "parameter_bands", "capabilities",
    "models_per_host", "running", "uptime_subset", "auth", "prompts", "findings", "monthly",
)  # fmt: skip


class StudyOptions(msgspec.Struct, kw_only=True):
    products: list[str] = msgspec.field(default_factory=list)  # empty: every product
    since: datetime | None = None
    until: datetime | None = None
    rule: lon.PersistenceRule = msgspec.field(default_factory=lon.PersistenceRule)
    mmdb: list[str] = msgspec.field(default_factory=list)
    top: int = 20
    findings_sample: int = 5_000
    uptime_threshold: float = 0.8
    # Hosts the honeypot classifier (assess/honeypot.py) names are left out of every figure
    # unless this is set; their count is shown either way.
    include_honeypots: bool = False
    honeypot_min_addresses: int = honeypot.DEFAULT_MIN_ADDRESSES


def _enrichment(q: StudyQueries, options: StudyOptions) -> dict[str, Any]:
    """Country, AS and tier of every host (study_geo), and which data said so."""
    geo = open_geo(list(options.mmdb) or None)
    found = enrich(q.ips(), geo, default_tiers())
    q.add_geo([msgspec.structs.astuple(e) for e in found])
    info = geo.describe()
    table = default_tiers()
    return {
        "database": info.name,
        "date": info.date,
        "files": info.files,
        "asn_numbers": info.has_asn_numbers,
        "tier_table": f"aicensus/enrich/data/asn_tiers.csv ({len(table.entries)} AS organisations)",
    }


# ---------------------------------------------------------------- honeypots

HONEYPOT_DEFINITION = (
    "hosts (IP addresses) the honeypot classifier names: a default answer of a known honeypot, "
    "a random path echoed back, rival products at one port, a version older than a route it "
    "serves; identical inventories or answers at {n}+ addresses count only with those"
)
HONEYPOT_SAMPLE = 50  # named hosts listed with their evidence


def _honeypots(q: StudyQueries, options: StudyOptions) -> dict[str, Any]:
    """Classify the population's hosts; leave the honeypots out unless asked to keep them."""
    rows = q.honeypot_rows(options.honeypot_min_addresses, honeypot.stale_routes)
    status_ips = q.honeypot_status_ips()
    verdicts = honeypot.classify_stored(
        rows.host, rows.inventory, rows.banner, honeypot_status=status_ips, routes=rows.routes
    )
    named = [ip for ip, v in verdicts.items() if v.verdict == honeypot.HONEYPOT]
    hosts_out, obs_out = (0, 0) if options.include_honeypots else q.exclude_hosts(named)
    listed = honeypot.summary(verdicts)
    return {
        "included": options.include_honeypots,
        "hosts": listed["honeypots"],  # also those that named no product (never in figures)
        "hosts_excluded": hosts_out,
        "observations_excluded": obs_out,
        "suspicious_hosts": listed["suspicious"],
        "by_kind": listed["by_kind"],
        "min_addresses": options.honeypot_min_addresses,
        "definition": HONEYPOT_DEFINITION.format(n=options.honeypot_min_addresses),
        "sample": listed["hosts"][:HONEYPOT_SAMPLE],
    }


# ---------------------------------------------------------------- published figures


def published() -> Published:
    """The packaged published figures (report/data/published.yaml), validated."""
    return default_published(frozenset(FIGURE_ORDER))


def _comparison(figures: list[Figure], known: Published) -> list[dict[str, Any]]:
    by_id = {f["id"]: f for f in figures}
    out = []
    for pub in known.figures:
        fid, label, column = pub.figure, pub.row, pub.column
        figure = by_id.get(fid)
        ours = None
        definition = ""
        if figure is not None:
            columns = figure["columns"]
            col = columns.index(column) if column in columns else None
            row = next((r for r in figure["rows"] if r and r[figure["label"]] == label), None)
            if row is not None and col is not None:
                ours = row[col]
            definition = figure["definition"]
            if "definition" in columns and row is not None:
                definition = row[columns.index("definition")]
        if fid == "scale" and label.startswith("ASNs") and figure is not None and ours is None:
            continue
        study = known.studies[pub.study]
        out.append(
            {
                "figure": f"{figure['title'] if figure else fid}: {label}",
                "figure_id": fid,
                "label": label,
                "column": column,
                "ours": ours,
                "published": pub.value,
                "study": study.name,
                "provenance": f"[{pub.provenance}]",
                "note": pub.note,
                "definition": definition,
                "source": study.citation,
                "url": study.url,
                "date": study.date,
            }
        )
    return out


# ---------------------------------------------------------------- the study


def compute_study(db: str | Path, options: StudyOptions | None = None) -> dict[str, Any]:
    """Every study figure of the store at db (opened read-only)."""
    options = options or StudyOptions()
    started = time.monotonic()
    known = published()  # a malformed data file fails before the store is read
    with Store.open(db, read_only=True) as store:
        q = StudyQueries(store)
        population = q.select_population(options.products, options.since, options.until)
        honeypots = _honeypots(q, options)
        obs, hosts = q.size()
        if not obs:
            left_out = honeypots["hosts_excluded"]
            raise StoreError(
                f"store {db} holds no identified observation with a timestamp"
                + (f" of {', '.join(options.products)}" if options.products else "")
                + (f" besides {left_out} honeypot hosts (--include-honeypots)" if left_out else "")
            )
        sources = q.by_source()
        meta: dict[str, Any] = {
            "tool": f"aicensus {__version__}",
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "store": str(db),
            "population": population,
            "honeypots": honeypots,
            "products": q.hosts_by_product(),
            "sources": sources,
            "synthetic": "synthetic" in sources,
            "persistence_rule": msgspec.to_builtins(options.rule),
            "ingested_files": q.ingested_files(),
            "ingest": q.ingest_by_format(),
        }
        meta["enrichment"] = _enrichment(q, options)
        q.prepare(options.rule)
        figures: list[Figure] = [figures_of.scale(q, meta)]
        figures += figures_of.persistence(q, options.rule, meta["window"]["days"])
        figures += figures_of.inventory(q, hosts)
        figures.append(figures_of.running(q, hosts))
        figures += figures_of.tiers(q, hosts)
        figures += figures_of.geography(q, hosts, options.top)
        figures += figures_of.families(q, hosts, options.top)
        figures += figures_of.attribution(q, hosts, options.top)
        figures += figures_of.quantization(q, hosts, options.top)
        figures.append(figures_of.parameters(q, hosts))
        figures.append(figures_of.capabilities(q, hosts))
        figures.append(figures_of.uptime_subset(q, options.uptime_threshold))
        figures.append(figures_of.auth(q, hosts))
        figures.append(figures_of.prompts(q, hosts))
        figures.append(figures_of.findings(q, options.findings_sample))
    order = FIGURE_ORDER
    figures.sort(key=lambda f: order.index(f["id"]) if f["id"] in order else len(order))
    meta["seconds"] = round(time.monotonic() - started, 2)
    return {"meta": meta, "figures": figures, "comparison": _comparison(figures, known)}


def study_digest(study: dict[str, Any]) -> str:
    """A short hash of the figures (not the timings), for comparing two runs."""
    body = msgspec.json.encode(study["figures"])
    return hashlib.sha256(body).hexdigest()[:16]


def write_json(out: IO[str], study: dict[str, Any]) -> None:
    out.write(msgspec.json.format(msgspec.json.encode(study), indent=2).decode() + "\n")


__all__ = [
    "CAPABILITIES",
    "FIGURE_ORDER",
    "INVENTORY_BINS",
    "PARAM_BANDS",
    "PARAM_BAND_DEFINITION",
    "PERSISTENCE_BINS",
    "QUANT_CLASS_DEFINITION",
    "StudyOptions",
    "compute_study",
    "published",
    "study_digest",
    "write_json",
]
