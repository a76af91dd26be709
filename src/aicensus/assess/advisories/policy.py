"""The `advisories:` block of a policy (assess/policy.py):

    advisories:
      deny_severity: high          # an affecting advisory of this severity or above
      known_exploited: deny        # an affecting advisory in the CISA KEV catalog
      deny_ids: [CVE-2024-37032]   # these advisories (any of their ids or aliases)
      unknown_version: deny        # a service whose version is unknown while advisories exist

It reads the findings the advisories detector produced, so it judges exactly what is reported.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import msgspec

from aicensus.assess.advisories.detector import UNKNOWN_ID
from aicensus.assess.finding import Finding, Severity


class AdvisoryRule(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    deny_severity: Severity | None = None
    known_exploited: Literal["allow", "deny"] = "allow"
    deny_ids: list[str] = msgspec.field(default_factory=list)
    unknown_version: Literal["allow", "deny"] = "allow"


def _is_advisory(f: Finding) -> bool:
    return bool(f.cve) and f.id.startswith("AIC-")


def _kev(f: Finding) -> str | None:
    return next((e for e in f.evidence if e.startswith("known_exploited:")), None)


def check_advisories(
    rule: AdvisoryRule, findings: Sequence[Finding], add: Callable[[str, str, list[str]], None]
) -> None:
    """Calls add(rule name, message, evidence) once per violation."""
    denied = {i.strip().upper() for i in rule.deny_ids}
    for f in findings:
        if f.id == UNKNOWN_ID:
            if rule.unknown_version == "deny":
                add("advisories.unknown_version", f.title, f.evidence)
            continue
        if not _is_advisory(f):
            continue
        hit = sorted(denied & {c.upper() for c in f.cve})
        if hit:
            add(
                "advisories.deny_ids",
                f"{', '.join(hit)} affects this service: {f.title}",
                f.evidence,
            )
        if rule.deny_severity is not None and f.severity.rank >= rule.deny_severity.rank:
            add("advisories.deny_severity", f"{f.severity} advisory {f.title}", f.evidence)
        kev = _kev(f)
        if rule.known_exploited == "deny" and kev:
            add("advisories.known_exploited", f"known exploited: {f.title}", [kev, *f.evidence])
