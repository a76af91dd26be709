"""aicensus as a library: every command of the `aicensus` CLI is one call here.

    from aicensus import api
    api.whois("qwen2.5:7b")[0].attribution.developer      # 'Alibaba Cloud (Qwen team)'
    plan = api.plan_targets(["127.0.0.1"], ports="11434")
    summary = api.scan(plan, db="scans.duckdb")
    print(api.render_report(api.report("scans.duckdb"), "sarif"))

The functions are synchronous (the scanner's async core stays inside); results are typed
records (msgspec structs and dataclasses). Errors the user can fix raise AicensusError
subclasses whose message is one complete line. See docs/library.md.
"""

from __future__ import annotations

from aicensus._public import PUBLIC_NAMES
from aicensus.api.audits import (
    AUDIT_FORMATS,
    DEFAULT_HASH_LIMIT,
    SEVERITIES,
    AuditFinding,
    AuditResult,
    PolicyReport,
    audit,
    audit_policy,
    audit_summary,
    findings_at_least,
    parse_size,
    write_audit,
)
from aicensus.api.ingesting import INGEST_FORMATS, ingest, ingest_parquet, ingest_responses
from aicensus.api.lab import (
    ComponentStatus,
    FullLabStatus,
    LabSetup,
    SynthSummary,
    full_lab_down,
    full_lab_status,
    full_lab_up,
    lab_down,
    lab_setup,
    lab_status,
    lab_up,
    synthesize,
)
from aicensus.api.models import (
    CARD_FORMATS,
    AlternativesResult,
    Attribution,
    FamilySummary,
    ModelCard,
    Whois,
    alternatives,
    card,
    format_alternatives,
    format_card,
    list_models,
    parse_max_params,
    whois,
)
from aicensus.api.policy import Policy, PolicyCheck, PolicyError, Violation, check_policy, load_policy
from aicensus.api.reports import (
    OBSERVATION_FORMATS,
    REPORT_FORMATS,
    Assessed,
    render_report,
    report,
    report_formats,
    terminal_safe,
    write_observation,
    write_observations,
    write_report,
)
from aicensus.api.scanning import (
    DEFAULT_USER_AGENT,
    PLAN_ARGS,
    EngineConfig,
    ResumeError,
    ScanSummary,
    Signature,
    TargetPlan,
    plan_targets,
    port_presets,
    resumable_scan,
    scan,
    scan_arguments,
    signatures,
)
from aicensus.api.studies import (
    STUDY_FORMATS,
    PersistenceRule,
    StudyOptions,
    export_parquet,
    study,
    write_study,
)
from aicensus.ingest.files import IngestSummary

__all__ = list(PUBLIC_NAMES)
