"""The public library's names are pinned: adding or removing one is a deliberate change here."""

from __future__ import annotations

import subprocess
import sys

import aicensus
from aicensus import api

PUBLIC = [
    "dashboard_app", "store_readable", "policy_rule_frameworks", "default_workers",
    "ClusterError", "cluster_workers",
    "PULL_ENGINES", "PullError", "PullSummary", "PulledPage", "find_key", "pull_search",
    "Advisory", "AdvisoryError", "Bundle", "UpdateResult", "advisories", "advisory",
    "advisory_bundle", "affected_ranges", "update_advisories",
    "COMPLIANCE_FORMATS", "ComplianceReport", "Pack", "check_packs", "compliance_report", "pack",
    "packs", "render_compliance",
    "AUDIT_FORMATS", "CARD_FORMATS", "DEFAULT_HASH_LIMIT", "DEFAULT_LAB_NETWORK",
    "DEFAULT_USER_AGENT", "INGEST_FORMATS", "OBSERVATION_FORMATS", "PLAN_ARGS",
    "REPORT_FORMATS", "SEVERITIES", "STUDY_FORMATS",
    "AlternativesResult", "Assessed", "Attribution", "AuditResult",
    "ComponentStatus", "EngineConfig", "FamilySummary", "Finding", "FullLabStatus", "IngestSummary",
    "LabSetup", "ModelCard", "PersistenceRule", "Policy", "PolicyCheck", "PolicyError",
    "PolicyReport", "ResumeError", "ScanSummary", "Signature", "StudyOptions", "SynthSummary",
    "TargetPlan", "Violation", "Whois",
    "alternatives", "run_audit", "audit_policy", "audit_summary", "card", "check_policy",
    "export_parquet", "findings_at_least", "format_alternatives", "format_card",
    "full_lab_down", "full_lab_status", "full_lab_up", "honeypots", "ingest_file", "ingest_parquet",
    "ingest_responses", "lab_down", "lab_setup", "lab_status", "lab_up", "list_models",
    "load_policy", "parse_max_params", "parse_size", "plan_targets", "port_presets",
    "render_report", "load_report", "report_formats", "resumable_scan", "scan", "scan_arguments",
    "signatures", "study", "synthesize", "terminal_safe", "whois", "write_audit", "write_observation",
    "write_observations", "write_report", "write_study",
]  # fmt: skip


def test_public_names_are_pinned() -> None:
    assert sorted(api.__all__) == sorted(PUBLIC)
    assert aicensus.__all__ == api.__all__
    assert len(set(PUBLIC)) == len(PUBLIC)


def test_every_name_resolves_to_the_same_object() -> None:
    for name in PUBLIC:
        assert getattr(aicensus, name) is getattr(api, name), name
    namespace: dict[str, object] = {}
    exec("from aicensus import *", namespace)
    assert set(PUBLIC) <= set(namespace)


def test_importing_aicensus_loads_no_stage() -> None:
    # The re-export is lazy: a record import or a lab emulator must not load the scanner.
    probe = (
        "import sys, aicensus, aicensus.records; "
        "print(sorted(m for m in sys.modules if m.startswith('aicensus.')))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = out.stdout
    for heavy in ("aicensus.api", "aicensus.store", "aicensus.engine", "aicensus.pipeline"):
        assert f"'{heavy}" not in loaded, loaded
