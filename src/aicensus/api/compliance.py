"""Compliance policy packs: published AI restrictions and licence terms (assess/packs/*.yaml)
judged over a stored scan or an `aicensus audit --format json` file (docs/findings.md)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import msgspec

from aicensus.assess import compliance as _packs
from aicensus.assess.compliance import Pack, PackRun
from aicensus.assess.finding import Finding
from aicensus.errors import AicensusError
from aicensus.records import ServiceObservation
from aicensus.report import compliance as _report
from aicensus.report.compliance import ComplianceReport
from aicensus.report.source import load_assessed

# How a compliance report is written.
COMPLIANCE_FORMATS: tuple[str, ...] = ("text", "json", "html", "sarif")

__all__ = [
    "COMPLIANCE_FORMATS",
    "ComplianceReport",
    "Pack",
    "check_packs",
    "compliance_report",
    "pack",
    "packs",
    "render_compliance",
]

# A pack parameter: {"countries": ["CN", "RU"]}, or the command line's "countries=CN,RU".
Params = Mapping[str, Sequence[str]] | Iterable[str]
_Services = list[tuple[ServiceObservation, list[Finding]]]


def packs() -> tuple[Pack, ...]:
    """Every bundled policy pack, in name order."""
    return _packs.builtin_packs()


def pack(name: str | Path) -> Pack:
    """A bundled pack by name, or a pack file (PolicyError names an unknown pack or a bad
    field)."""
    return _packs.load_pack(str(name))


def check_packs(
    packs: Sequence[str],
    *,
    db: str | Path = "aicensus.duckdb",
    scan_id: int | None = None,
    audit: str | Path | None = None,
    params: Params | None = None,
    profile: str | None = None,
) -> ComplianceReport:
    """The verdicts of the named packs (bundled names or pack files) over the identified
    services of one stored scan (the latest when scan_id is None), or over an audit JSON
    file when `audit` is given. `params` go to the packs that declare them (a parameter no
    selected pack takes is an error); `profile` to the packs that have profiles.

    Raises PolicyError on a bad pack, parameter or profile, StoreError on a missing store
    or scan, AicensusError on an unreadable audit file; every message is one line."""
    runs = _runs(packs, params, profile)
    services, scan = _services(str(db), scan_id, audit)
    return _report.build_report(runs, services, scan_id=scan)


def compliance_report(
    packs: Sequence[str],
    *,
    db: str | Path = "aicensus.duckdb",
    scan_id: int | None = None,
    audit: str | Path | None = None,
    params: Params | None = None,
    profile: str | None = None,
) -> ComplianceReport:
    """check_packs with the store's observation history: each item also says since when its
    model (or service) was seen at that address, and `trend` gives each pack's violations in
    each stored scan (neither for an audit file, which has no history)."""
    runs = _runs(packs, params, profile)
    services, scan = _services(str(db), scan_id, audit)
    history, trend = _report.read_history(str(db), runs) if audit is None else ({}, [])
    return _report.build_report(runs, services, history=history, scan_id=scan, trend=trend)


def render_compliance(report: ComplianceReport, fmt: str = "text") -> str:
    """The report as one string in one of COMPLIANCE_FORMATS (text is safe for a terminal)."""
    if fmt not in COMPLIANCE_FORMATS:
        raise AicensusError(
            f"compliance format {fmt!r}: expected one of {', '.join(COMPLIANCE_FORMATS)}"
        )
    return _report.render(report, fmt)


def _runs(names: Sequence[str], params: Params | None, profile: str | None) -> list[PackRun]:
    """Packs by name (or file) with the parameter values applied to the packs that declare
    them."""
    if isinstance(params, Mapping):
        values = {str(k): [str(v) for v in vs] for k, vs in params.items()}
    else:
        values = _packs.parse_params(params or ())
    runs = []
    for name in names:
        loaded = _packs.load_pack(name)
        mine = {k: v for k, v in values.items() if k in loaded.params}
        runs.append(_packs.prepare(loaded, mine, profile if loaded.profiles else None))
    used = {k for r in runs for k in r.params}
    unused = sorted(set(values) - used)
    if unused:
        raise AicensusError(f"--param {unused[0]}: no selected pack takes this parameter")
    return runs


def _services(
    db: str, scan_id: int | None, audit: str | Path | None
) -> tuple[_Services, int | None]:
    """(services, scan id) from an audit JSON or a store."""
    if audit is not None:
        return _audit_services(str(audit)), None
    assessed = load_assessed(db, scan_id)
    return assessed.services, assessed.scan.scan_id if assessed.scan else None


def _audit_services(path: str) -> _Services:
    """The services an audit JSON recorded: each one's observation and findings, as the audit
    wrote them (its models were attributed by the audit)."""
    try:
        doc = msgspec.json.decode(Path(path).read_bytes())
    except (OSError, msgspec.DecodeError) as exc:
        raise AicensusError(f"audit {path}: cannot read JSON: {exc}") from exc
    raw = doc.get("services") if isinstance(doc, dict) else None
    if not isinstance(raw, list):
        raise AicensusError(f"audit {path}: no `services` list (expected `aicensus audit` JSON)")
    out = []
    for i, item in enumerate(raw):
        try:
            obs = msgspec.convert(item["observation"], ServiceObservation)
            findings = msgspec.convert(item.get("findings") or [], list[Finding])
        except (msgspec.ValidationError, KeyError, TypeError, ValueError) as exc:
            raise AicensusError(f"audit {path}: services[{i}]: {exc}") from exc
        out.append((obs, findings))
    return out
