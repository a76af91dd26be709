"""The schema of the check catalogue (checks/*.yaml) and the CVE range table (cve/ranges.yaml).

Plain records, no loading and no detectors: `catalog` validates files against these, `detectors`
reads a `CveFile`, and neither has to import the other.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from aicensus.assess.finding import Severity
from aicensus.errors import AicensusError

# What a check looks at: a scanned service (`assess`), a model file (`aicensus audit`), or a
# service of this machine as the audit places it (binding, exposure, owning process).
CheckScope = Literal["service", "file", "host"]


class CheckError(AicensusError):
    """A check or CVE-range file that fails validation (names the file and field)."""


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
    scope: CheckScope = "service"


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
