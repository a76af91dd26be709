"""Load and validate the check catalogue (checks/*.yaml). Advisories: assess/advisories/.

Both are data: a check names a detector (Python, in detectors.py) and gives it parameters,
severity, wording, remediation and references. Everything is validated on load; an invalid
file raises CheckError naming the file and the field.
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Protocol

import msgspec
import yaml

# The advisories module registers its `advisories` detector into DETECTORS on import; it is
# imported here, where the checks are bound to detectors, so detectors.py never imports it back.
from aicensus.assess.advisories import detector as _advisories  # noqa: F401
from aicensus.assess.detectors import DETECTORS
from aicensus.assess.finding import OWASP_LLM_2025
from aicensus.assess.schema import (
    Check,
    CheckError,
    CheckFile,
    CheckScope,
)
from aicensus.fingerprint.load import product_ids

_ID = re.compile(r"^AIC-[A-Z0-9]+(?:-[A-Z0-9]+)*$")
_CWE = re.compile(r"^CWE-\d+$")


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


class DetectorSpec(Protocol):
    """What the catalogue needs of a detector: its parameter Struct. A detector whose check text
    is filled in per finding (file and host checks) also lists the `fields` it fills."""

    @property
    def params(self) -> type: ...


_SERVICE: Mapping[str, DetectorSpec] = DETECTORS


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def _check_text(path: str, field: str, check: Check, spec: DetectorSpec) -> None:
    """A check whose detector fills in its text may name only the fields that detector fills."""
    fields = getattr(spec, "fields", None)
    if fields is None:
        return
    for name in ("title", "description", "remediation"):
        try:
            unknown = _placeholders(getattr(check, name)) - set(fields)
        except ValueError as exc:  # an unmatched brace
            raise CheckError(f"{path}: {field}.{name}: {exc}") from exc
        if unknown:
            raise CheckError(
                f"{path}: {field}.{name}: unknown placeholder {{{sorted(unknown)[0]}}} "
                f"(detector {check.detector} fills: {', '.join(sorted(fields)) or 'none'})"
            )


def _parse_file(path: str, text: str) -> CheckFile:
    """One check file's schema, ids, products and references (not yet its detectors)."""
    data = _load_yaml(path, text)
    try:
        parsed = msgspec.convert(data, CheckFile)
    except msgspec.ValidationError as exc:
        raise CheckError(_where(path, exc)) from exc
    for i, check in enumerate(parsed.checks):
        field = f"checks[{i}]"
        if not _ID.match(check.id):
            raise CheckError(f"{path}: {field}.id: {check.id!r} must look like AIC-WORD-WORD")
        for j, product in enumerate(check.products or []):
            if product not in product_ids():
                raise CheckError(f"{path}: {field}.products[{j}]: unknown product {product!r}")
        _check_refs(path, field, check.owasp, check.cwe)
    return parsed


def _check_detectors(path: str, checks: list[Check], detectors: Mapping[str, DetectorSpec]) -> None:
    for i, check in enumerate(checks):
        field = f"checks[{i}]"
        spec = detectors.get(check.detector)
        if spec is None:
            raise CheckError(
                f"{path}: {field}.detector: unknown detector {check.detector!r} "
                f"(known: {', '.join(sorted(detectors))})"
            )
        try:
            msgspec.convert(check.params, spec.params)
        except msgspec.ValidationError as exc:
            raise CheckError(f"{path}: {field}.params: {exc}") from exc
        _check_text(path, field, check, spec)


def parse_checks(
    path: str,
    text: str,
    detectors: Mapping[str, DetectorSpec] | None = None,
    *,
    scope: CheckScope = "service",
) -> list[Check]:
    """Validate one check file's text; `path` only names it in errors.

    The file must hold checks of `scope`; their detectors are looked up in `detectors` (the
    service detectors by default; the audit passes its file and host detectors)."""
    parsed = _parse_file(path, text)
    if parsed.scope != scope:
        raise CheckError(f"{path}: scope: holds {parsed.scope} checks, expected {scope} checks")
    _check_detectors(path, parsed.checks, _SERVICE if detectors is None else detectors)
    return parsed.checks


def _package_file(*parts: str) -> tuple[str, str]:
    ref = resources.files("aicensus.assess").joinpath(*parts)
    return f"aicensus/assess/{'/'.join(parts)}", ref.read_text(encoding="utf-8")


@functools.cache
def _builtin_files() -> tuple[tuple[str, CheckFile], ...]:
    """Every bundled check file, schema-checked (a malformed one fails whatever the scope)."""
    folder = resources.files("aicensus.assess").joinpath("checks")
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith((".yaml", ".yml")))
    files = [(path, _parse_file(path, text)) for path, text in map(_bundled, names)]
    _same_severity_across_scopes([f for _, f in files])
    return tuple(files)


def _bundled(name: str) -> tuple[str, str]:
    return _package_file("checks", name)


def _same_severity_across_scopes(files: list[CheckFile]) -> None:
    """An id used in two scopes (AIC-TEMPLATE-CODE-EXEC: served and on disk) means one thing."""
    seen: dict[str, Check] = {}
    for f in files:
        for check in f.checks:
            first = seen.setdefault(check.id, check)
            if first.severity != check.severity:
                raise CheckError(
                    f"check id {check.id} has severity {first.severity} in one scope and "
                    f"{check.severity} in another"
                )


@functools.cache
def builtin_checks(scope: CheckScope = "service") -> tuple[Check, ...]:
    """Every bundled check of `scope`, validated, ids unique within the scope (service checks
    by default; the audit's file and host checks through `scoped_checks`)."""
    if scope != "service":
        raise CheckError(f"{scope} checks need their detectors: use scoped_checks")
    return scoped_checks(scope, _SERVICE)


def scoped_checks(scope: CheckScope, detectors: Mapping[str, DetectorSpec]) -> tuple[Check, ...]:
    """The bundled checks of `scope`, their detectors and parameters validated against
    `detectors`; raises CheckError naming the file and field."""
    checks: list[Check] = []
    for path, parsed in _builtin_files():
        if parsed.scope == scope:
            _check_detectors(path, parsed.checks, detectors)
            checks.extend(parsed.checks)
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


def all_checks() -> tuple[Check, ...]:
    """Every bundled check of every scope (schema-checked only), e.g. for framework references."""
    return tuple(c for _, parsed in _builtin_files() for c in parsed.checks)
