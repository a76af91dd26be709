"""The targets stage: what to scan, minus what must never be scanned, in what order, on which shard.

targets = parse_targets(["192.0.2.0/24", "@hosts.txt"])
excludes = parse_targets(["192.0.2.128/25"])
ports = parse_ports("ai,8080", presets={"ai": [11434, 8000]})
for target in plan(targets, excludes, ports, seed=7, shard=parse_shard("1/4")):
    ...
"""

from __future__ import annotations

from aicensus.targets.order import parse_shard
from aicensus.targets.parse import TargetSet, parse_targets
from aicensus.targets.plan import Resolver, ScanPlan, plan, resolve_host
from aicensus.targets.ports import parse_ports

__all__ = [
    "Resolver",
    "ScanPlan",
    "TargetSet",
    "parse_ports",
    "parse_shard",
    "parse_targets",
    "plan",
    "resolve_host",
]
