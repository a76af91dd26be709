"""The assess stage: findings, published advisories (assess/advisories) and policy-as-code, all pure functions over
records (nothing here sends a request). See docs/findings.md."""

from aicensus.assess.catalog import builtin_checks, load_checks, scoped_checks
from aicensus.assess.engine import assess, assess_all
from aicensus.assess.finding import OWASP_LLM_2025, Finding, Severity, sort_key
from aicensus.assess.schema import Check, CheckError
from aicensus.assess.secrets import find_secrets, redact_secrets

__all__ = [
    "OWASP_LLM_2025",
    "Check",
    "CheckError",
    "Finding",
    "Severity",
    "assess",
    "assess_all",
    "builtin_checks",
    "find_secrets",
    "load_checks",
    "redact_secrets",
    "scoped_checks",
    "sort_key",
]
