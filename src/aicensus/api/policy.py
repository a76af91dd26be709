"""Policy as code: a YAML policy (docs/findings.md) judged over a stored scan."""

from __future__ import annotations

from pathlib import Path

import msgspec

from aicensus.assess import policy as _policy
from aicensus.assess.frameworks import Refs, rule_refs
from aicensus.assess.policy import Policy, PolicyError, Violation
from aicensus.report.source import load_assessed

__all__ = [
    "Policy",
    "PolicyCheck",
    "PolicyError",
    "Violation",
    "check_policy",
    "load_policy",
    "policy_rule_frameworks",
]


class PolicyCheck(msgspec.Struct, kw_only=True):
    """The verdict of one policy over one stored scan."""

    policy: str  # the policy's name
    scan_id: int | None
    services_checked: int
    violations: list[Violation]

    @property
    def compliant(self) -> bool:
        return not self.violations


def load_policy(path: str | Path) -> Policy:
    """Read and validate a policy file (PolicyError names the bad field)."""
    return _policy.load_policy(path)


def check_policy(
    policy: str | Path | Policy, db: str | Path, scan_id: int | None = None
) -> PolicyCheck:
    """Every violation of `policy` by the identified services of one stored scan (the latest
    when scan_id is None), each with its evidence."""
    loaded = load_policy(policy) if isinstance(policy, str | Path) else policy
    assessed = load_assessed(str(db), scan_id)
    return PolicyCheck(
        policy=loaded.name,
        scan_id=assessed.scan.scan_id if assessed.scan else None,
        services_checked=len(assessed.services),
        violations=list(_policy.check_policy(loaded, assessed.services)),
    )


def policy_rule_frameworks(rule: str) -> Refs:
    """The compliance-framework references (e.g. OWASP, NIST, ATLAS) of a policy rule such as
    "countries.deny"."""
    return rule_refs(rule)
