"""Scan: plan targets, scan them (resumable), read signatures.

The scan core is `aicensus.scanning`, below the features so that audit/ can scan without
importing the library's front door; these are its names, unchanged."""

from __future__ import annotations

from aicensus.scanning import (
    DEFAULT_USER_AGENT,
    PLAN_ARGS,
    ClusterError,
    EngineConfig,
    ObservationCallback,
    ResumeError,
    ScanSummary,
    Signature,
    TargetPlan,
    cluster_workers,
    default_workers,
    plan_targets,
    port_presets,
    resumable_scan,
    scan,
    scan_arguments,
    signatures,
)

__all__ = [
    "DEFAULT_USER_AGENT",
    "PLAN_ARGS",
    "ClusterError",
    "EngineConfig",
    "ObservationCallback",
    "ResumeError",
    "ScanSummary",
    "Signature",
    "TargetPlan",
    "cluster_workers",
    "default_workers",
    "plan_targets",
    "port_presets",
    "resumable_scan",
    "scan",
    "scan_arguments",
    "signatures",
]
