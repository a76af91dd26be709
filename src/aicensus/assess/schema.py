"""The schema of the check catalogue (checks/*.yaml).

Plain records, no loading and no detectors: `catalog` validates files against these and
`detectors` read them; neither has to import the other.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from aicensus.assess.finding import Severity
from aicensus.errors import CheckError as CheckError  # re-exported; defined in errors.py

# What a check looks at: a scanned service (`assess`), a model file (`aicensus audit`), or a
# service of this machine as the audit places it (binding, exposure, owning process).
CheckScope = Literal["service", "file", "host"]


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
