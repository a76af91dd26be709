"""Load and validate the check catalogue (checks/*.yaml). Advisories: assess/advisories/.

Both are data: a check names a detector (Python, in detectors.py) and gives it parameters,
severity, wording, remediation and references. Everything is validated on load; an invalid
file raises CheckError naming the file and the field.
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from pathlib import Path
from typing import Any

import msgspec
import yaml

from aicensus.assess.finding import OWASP_LLM_2025, Severity
from aicensus.errors import AicensusError
from aicensus.fingerprint.load import product_ids


class CheckError(AicensusError):
    """A check file that fails validation (names the file and field)."""


_ID = re.compile(r"^AIC-[A-Z0-9]+(?:-[A-Z0-9]+)*$")
_CWE = re.compile(r"^CWE-\d+$")


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
