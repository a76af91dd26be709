"""Load and validate the check catalogue (checks/*.yaml) and the CVE range table (cve/ranges.yaml).

Both are data: a check names a detector (Python, in detectors.py) and gives it parameters,
severity, wording, remediation and references. Everything is validated on load; an invalid
file raises CheckError naming the file and the field.
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import msgspec
import yaml

from aicensus.assess.finding import OWASP_LLM_2025, Severity
from aicensus.errors import AicensusError
from aicensus.fingerprint.load import product_ids


class CheckError(AicensusError):
    """A check or CVE-range file that fails validation (names the file and field)."""


_ID = re.compile(r"^AIC-[A-Z0-9]+(?:-[A-Z0-9]+)*$")
_CWE = re.compile(r"^CWE-\d+$")
_CVE = re.compile(r"^(CVE-\d{4}-\d{4,}|GHSA-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}|GO-\d{4}-\d+)$")


class Check(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    id: str
    detector: str
    severity: Severity
    title: str
    description: str
    remediation: str
    owasp: list[str] = msgspec.field(default_factory=list)
    cwe: list[str] = msgspec.field(default_factory=list)
    references: list[str] = msgspec.field(default_factory=list)
    products: list[str] | None = None  # None: any identified product
    params: dict[str, Any] = msgspec.field(default_factory=dict)


class CheckFile(msgspec.Struct, forbid_unknown_fields=True):
    checks: list[Check]


class AffectedRange(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """OSV-style: introduced <= v < fixed, or introduced <= v <= last_affected."""

    introduced: str = "0"
    fixed: str | None = None
    last_affected: str | None = None


class CveEntry(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    id: str
    product: str
    title: str
    severity: Severity
    affected: list[AffectedRange]
    source: str  # URL of the advisory the range was taken from
    confirmed: bool  # the range was checked against the advisory (not an aggregator)
    aliases: list[str] = msgspec.field(default_factory=list)
    cwe: list[str] = msgspec.field(default_factory=list)
    owasp: list[str] = msgspec.field(default_factory=list)
    remediation: str = ""
    note: str = ""
    evaluate: bool = True  # False: listed for reference, no comparable version boundary known


class CveFile(msgspec.Struct, forbid_unknown_fields=True):
    version_schemes: dict[str, Literal["pep440", "llamacpp-build"]]
    advisories: list[CveEntry]


def _where(path: str, error: msgspec.ValidationError) -> str:
    return f"{path}: {error}"


def _load_yaml(path: str, text: str) -> object:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        at = f" (line {line + 1})" if line is not None else ""
        raise CheckError(f"{path}: not valid YAML{at}") from exc


def _check_refs(path: str, field: str, owasp: list[str], cwe: list[str]) -> None:
    for i, ref in enumerate(owasp):
        if ref not in OWASP_LLM_2025:
            raise CheckError(
                f"{path}: {field}.owasp[{i}]: {ref!r} is not an OWASP LLM 2025 id (LLM01..LLM10)"
            )
    for i, ref in enumerate(cwe):
        if not _CWE.match(ref):
            raise CheckError(f"{path}: {field}.cwe[{i}]: {ref!r} is not of the form CWE-<n>")


def parse_checks(path: str, text: str) -> list[Check]:
    """Validate one check file's text; `path` only names it in errors."""
    from aicensus.assess.detectors import DETECTORS  # detectors import this module

    data = _load_yaml(path, text)
    try:
        parsed = msgspec.convert(data, CheckFile)
    except msgspec.ValidationError as exc:
        raise CheckError(_where(path, exc)) from exc
    for i, check in enumerate(parsed.checks):
        field = f"checks[{i}]"
        if not _ID.match(check.id):
            raise CheckError(f"{path}: {field}.id: {check.id!r} must look like AIC-WORD-WORD")
        if check.detector not in DETECTORS:
            raise CheckError(
                f"{path}: {field}.detector: unknown detector {check.detector!r} "
                f"(known: {', '.join(sorted(DETECTORS))})"
            )
        for j, product in enumerate(check.products or []):
            if product not in product_ids():
                raise CheckError(f"{path}: {field}.products[{j}]: unknown product {product!r}")
        _check_refs(path, field, check.owasp, check.cwe)
        try:
            msgspec.convert(check.params, DETECTORS[check.detector].params)
        except msgspec.ValidationError as exc:
            raise CheckError(f"{path}: {field}.params: {exc}") from exc
    return parsed.checks


def parse_cves(path: str, text: str) -> CveFile:
    from aicensus.assess.versions import parse_version

    data = _load_yaml(path, text)
    try:
        parsed = msgspec.convert(data, CveFile)
    except msgspec.ValidationError as exc:
        raise CheckError(_where(path, exc)) from exc
    seen: set[tuple[str, str]] = set()
    for i, entry in enumerate(parsed.advisories):
        field = f"advisories[{i}]"
        if not _CVE.match(entry.id):
            raise CheckError(f"{path}: {field}.id: {entry.id!r} is not a CVE, GHSA or GO id")
        if (entry.id, entry.product) in seen:
            raise CheckError(f"{path}: {field}.id: {entry.id} listed twice for {entry.product}")
        seen.add((entry.id, entry.product))
        if entry.product not in product_ids():
            raise CheckError(f"{path}: {field}.product: unknown product {entry.product!r}")
        if entry.product not in parsed.version_schemes:
            raise CheckError(
                f"{path}: {field}.product: no version_schemes entry for {entry.product!r}"
            )
        if not entry.source.startswith("https://"):
            raise CheckError(f"{path}: {field}.source: must be an https:// URL")
        _check_refs(path, field, entry.owasp, entry.cwe)
        scheme = parsed.version_schemes[entry.product]
        if entry.evaluate and not entry.affected:
            raise CheckError(f"{path}: {field}.affected: needs at least one range")
        for j, rng in enumerate(entry.affected):
            if rng.fixed is not None and rng.last_affected is not None:
                raise CheckError(
                    f"{path}: {field}.affected[{j}]: give fixed or last_affected, not both"
                )
            for name in ("introduced", "fixed", "last_affected"):
                value = getattr(rng, name)
                if value is not None and value != "0" and parse_version(scheme, value) is None:
                    raise CheckError(
                        f"{path}: {field}.affected[{j}].{name}: {value!r} is not a {scheme} version"
                    )
    return parsed


def _package_file(*parts: str) -> tuple[str, str]:
    ref = resources.files("aicensus.assess").joinpath(*parts)
    return f"aicensus/assess/{'/'.join(parts)}", ref.read_text(encoding="utf-8")


@functools.cache
def builtin_checks() -> tuple[Check, ...]:
    """Every bundled check, validated, ids unique."""
    folder = resources.files("aicensus.assess").joinpath("checks")
    checks: list[Check] = []
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith((".yaml", ".yml")))
    for name in names:
        path, text = _package_file("checks", name)
        checks.extend(parse_checks(path, text))
    return tuple(_unique(checks))


def load_checks(paths: list[str | Path]) -> tuple[Check, ...]:
    """Checks from extra files (site-specific rules), validated like the bundled ones."""
    checks: list[Check] = []
    for p in paths:
        try:
            text = Path(p).read_text(encoding="utf-8")
        except OSError as exc:
            raise CheckError(f"{p}: cannot read: {exc.strerror}") from exc
        checks.extend(parse_checks(str(p), text))
    return tuple(_unique(checks))


def _unique(checks: list[Check]) -> list[Check]:
    seen: set[str] = set()
    for check in checks:
        if check.id in seen:
            raise CheckError(f"check id {check.id} is defined twice")
        seen.add(check.id)
    return checks


@functools.cache
def builtin_cves() -> CveFile:
    path, text = _package_file("cve", "ranges.yaml")
    return parse_cves(path, text)
