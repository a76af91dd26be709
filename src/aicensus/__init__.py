"""aicensus: find exposed AI model servers and attribute the models they serve.

The public library is `aicensus.api` (docs/library.md); its names are re-exported here and
imported on first use (PEP 562), so `import aicensus` alone loads nothing else (a lab
emulator or a record import does not load the scanner, the store and every stage). The
list is the same as `aicensus.api.__all__` (tests/api pins both):

    import aicensus
    aicensus.whois("llama3.1:8b")[0].attribution.developer    # 'Meta'
"""

from __future__ import annotations

from typing import Any

from aicensus.version import __version__ as __version__

__all__ = [
    "AUDIT_FORMATS",
    "CARD_FORMATS",
    "COMPLIANCE_FORMATS",
    "DEFAULT_HASH_LIMIT",
    "DEFAULT_LAB_NETWORK",
    "DEFAULT_USER_AGENT",
    "INGEST_FORMATS",
    "OBSERVATION_FORMATS",
    "PLAN_ARGS",
    "PULL_ENGINES",
    "REPORT_FORMATS",
    "SEVERITIES",
    "STUDY_FORMATS",
    "Advisory",
    "AdvisoryError",
    "AlternativesResult",
    "Assessed",
    "Attribution",
    "AuditResult",
    "Bundle",
    "ClusterError",
    "ComplianceReport",
    "ComponentStatus",
    "EngineConfig",
    "FamilySummary",
    "Finding",
    "FullLabStatus",
    "IngestSummary",
    "LabSetup",
    "ModelCard",
    "Pack",
    "PersistenceRule",
    "Policy",
    "PolicyCheck",
    "PolicyError",
    "PolicyReport",
    "PullError",
    "PullSummary",
    "PulledPage",
    "ResumeError",
    "ScanSummary",
    "Signature",
    "StudyOptions",
    "SynthSummary",
    "TargetPlan",
    "UpdateResult",
    "Violation",
    "Whois",
    "advisories",
    "advisory",
    "advisory_bundle",
    "affected_ranges",
    "alternatives",
    "audit_policy",
    "audit_summary",
    "card",
    "check_packs",
    "check_policy",
    "cluster_workers",
    "compliance_report",
    "dashboard_app",
    "default_workers",
    "export_parquet",
    "find_key",
    "findings_at_least",
    "format_alternatives",
    "format_card",
    "full_lab_down",
    "full_lab_status",
    "full_lab_up",
    "honeypots",
    "ingest_file",
    "ingest_parquet",
    "ingest_responses",
    "lab_down",
    "lab_setup",
    "lab_status",
    "lab_up",
    "list_models",
    "load_policy",
    "load_report",
    "pack",
    "packs",
    "parse_max_params",
    "parse_size",
    "plan_targets",
    "policy_rule_frameworks",
    "port_presets",
    "pull_search",
    "render_compliance",
    "render_report",
    "report_formats",
    "resumable_scan",
    "run_audit",
    "scan",
    "scan_arguments",
    "signatures",
    "store_readable",
    "study",
    "synthesize",
    "terminal_safe",
    "update_advisories",
    "whois",
    "write_audit",
    "write_observation",
    "write_observations",
    "write_report",
    "write_study",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from aicensus import api

        return getattr(api, name)
    raise AttributeError(f"module 'aicensus' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
