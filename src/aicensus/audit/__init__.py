"""`aicensus audit`: this machine's AI estate — its AI services and who can reach them, its
model stores and model files with their provenance and risks. See docs/audit.md.

    from aicensus.audit import run_audit
    result = run_audit(paths=["~/models"])       # AuditResult
    for f in result.findings: ...                # Finding (aicensus.assess), most severe first

Everything is read-only: services are probed with the scanner's read-only requests on this
machine's own addresses; files are read (headers, opcodes, configs), never executed or loaded.
"""

from aicensus.audit.files import DEFAULT_HASH_LIMIT, analyse_file
from aicensus.audit.records import (
    AuditError,
    AuditResult,
    GGUFInfo,
    LocalService,
    ModelFile,
    ModelStore,
    PickleScan,
    ProcessInfo,
)
from aicensus.audit.run import run_audit
from aicensus.audit.template import scan_template

__all__ = [
    "DEFAULT_HASH_LIMIT",
    "AuditError",
    "AuditResult",
    "GGUFInfo",
    "LocalService",
    "ModelFile",
    "ModelStore",
    "PickleScan",
    "ProcessInfo",
    "analyse_file",
    "run_audit",
    "scan_template",
]
