"""`run_audit`: this machine's AI estate — its AI services and who can reach them, its model
stores and model files — as one AuditResult. The CLI only parses arguments and renders.

Network safety: without targets, only this machine's own addresses are probed: the loopback
addresses, and (unless `loopback_only`) an address a listening socket is bound to. With
targets, those targets are scanned exactly like `aicensus scan` would (read-only requests).
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import msgspec

from aicensus import scanning
from aicensus import targets as target_parser
from aicensus.assess import Finding, Severity, assess, sort_key
from aicensus.audit import services as svc
from aicensus.audit.checking import check_host
from aicensus.audit.files import DEFAULT_HASH_LIMIT, analyse_file
from aicensus.audit.records import AuditResult, LocalService
from aicensus.audit.stores import default_locations, discover
from aicensus.engine.config import EngineConfig
from aicensus.records import ScanStatus, ServiceObservation, Target

Progress = Callable[[str], None]
LOOPBACK_V4 = "127.0.0.1"
LOOPBACK_V6 = "::1"
# assess() findings about where the probe reached the service: the socket table says it better.
_PROBE_SCOPE_FINDINGS = ("AIC-EXPOSURE-", "AIC-CLEARTEXT-")


def _config(timeout: float) -> EngineConfig:
    return EngineConfig(
        connect_timeout=min(1.0, timeout),
        read_timeout=timeout,
        total_timeout=max(timeout, 1.0) * 2,
        target_timeout=max(10.0, timeout * 6),
        concurrency=64,
    )


def _scan(plan: scanning.TargetPlan, timeout: float) -> list[ServiceObservation]:
    found: list[ServiceObservation] = []

    def keep(obs: ServiceObservation) -> None:
        if obs.status == ScanStatus.IDENTIFIED:
            found.append(obs)

    scanning.scan(plan, config=_config(timeout), db=None, on_observation=keep)
    return found


def _lower_on_loopback(f: Finding, exposure: str) -> Finding:
    """The scan's finding, its severity lowered to low for a service bound to loopback only."""
    if exposure != "loopback" or f.cve or f.severity.rank <= Severity.LOW.rank:
        return f
    note = (
        f"severity lowered from {f.severity} to low: the service is bound to loopback only "
        "(reachable by local users and processes, not from the network)"
    )
    return msgspec.structs.replace(f, severity=Severity.LOW, evidence=[*f.evidence, note])


def _service(
    obs: ServiceObservation,
    group: svc.SocketGroup | None,
    placement: tuple[str, str, list[str]],
) -> LocalService:
    binding, exposure, reach = placement
    process = svc.process_info(group.pid) if group is not None else None
    s = LocalService(
        ip=obs.ip,
        port=obs.port,
        product=obs.product,
        version=obs.version,
        auth=str(obs.auth),
        binding=binding,
        exposure=exposure,
        bound_to=svc.shorten_binds(group.binds) if group else [],
        bound_count=len(group.binds) if group else 0,
        reachable_on=reach[:16],
        process=process,
        observation=obs,
    )
    if exposure in ("lan", "public"):
        s.fix = svc.fix_for(obs.product, process)
    found = [
        _lower_on_loopback(f, exposure)
        for f in assess(obs)
        if not f.id.startswith(_PROBE_SCOPE_FINDINGS)
    ]
    found += check_host(s, svc.DEFAULT_FIX)
    s.findings = sorted(found, key=sort_key)
    return s


def _probe_placement(answered: list[str]) -> tuple[str, str, list[str]]:
    """Binding, exposure and reach judged only from which of this machine's addresses
    answered (no socket table)."""
    reach = [ip for ip in answered if svc.target_exposure(ip) != "loopback"]
    if not reach:
        return "unknown", "unknown", []
    scopes = {svc.target_exposure(ip) for ip in reach}
    return "unknown", "public" if "public" in scopes else "lan", reach


def _local_services(
    result: AuditResult,
    ports: str | None,
    *,
    loopback_only: bool,
    timeout: float,
    progress: Progress,
) -> None:
    port_list = target_parser.parse_ports(ports or "ai", scanning.port_presets())
    listeners = svc.read_listeners()
    own = svc.interface_addresses()
    result.sockets_read = listeners is not None
    groups = svc.group_listeners(listeners or [], set(port_list) if ports else None)
    result.listening = sum(len(g.binds) for g in groups)

    loopbacks = [LOOPBACK_V4]
    if LOOPBACK_V6 in own or any(b in ("::", LOOPBACK_V6) for g in groups for b in g.binds):
        loopbacks.append(LOOPBACK_V6)
    tokens = list(loopbacks)
    if listeners is None and not loopback_only:
        # No socket table: probe this machine's own interface addresses on the ports instead.
        tokens += [a for a in own if a not in tokens]
        result.notes.append(
            "the listening-socket table could not be read (try as root): exposure is judged "
            "from probes of this machine's own addresses"
        )
    plan = scanning.plan_targets(tokens, ports=",".join(map(str, port_list)))
    planned = {(ip, p) for ip in tokens for p in port_list}
    extra: list[Target] = []
    for g in groups:
        ip = svc.probe_address(g, loopback_only)
        if ip is None:
            result.notes.append(
                f"port {g.port} (pid {g.pid}) is bound to {', '.join(g.binds[:4])} only: "
                "not probed (--loopback-only)"
            )
            continue
        if (ip, g.port) not in planned:
            planned.add((ip, g.port))
            extra.append(Target(ip=ip, port=g.port))
    plan = scanning.TargetPlan(
        count=plan.count + len(extra), iterator=itertools.chain(plan.iterator, extra)
    )
    result.probed = plan.count
    progress(f"probing {plan.count} address:port pairs of this machine")
    observations = _scan(plan, timeout)
    # One service per listening process and port (or per port, without a socket table),
    # described by the observation from a loopback address where there is one.
    chosen: dict[object, list[ServiceObservation]] = {}
    for obs in sorted(observations, key=lambda o: (o.port, not svc.is_loopback(o.ip), o.ip)):
        group = svc.find_group(groups, obs.ip, obs.port)
        key: object = (group.pid, group.port) if group is not None else obs.port
        chosen.setdefault(key, []).append(obs)
    out = []
    for same in chosen.values():
        obs = same[0]
        group = svc.find_group(groups, obs.ip, obs.port)
        if group is not None:
            placement = svc.classify(group, own)
        else:
            placement = _probe_placement([o.ip for o in same])
        out.append(_service(obs, group, placement))
    result.services = sorted(out, key=lambda s: (s.port, s.ip))


def _network_services(
    result: AuditResult,
    tokens: Sequence[str],
    ports: str | None,
    timeout: float,
    progress: Progress,
) -> None:
    plan = scanning.plan_targets(tokens, ports=ports or "ai")
    result.probed = plan.count
    progress(f"scanning {plan.count} address:port pairs")
    observations = _scan(plan, timeout)
    out = []
    for obs in observations:
        exposure = svc.target_exposure(obs.ip)
        reach = [obs.ip] if exposure in ("lan", "public") else []
        out.append(_service(obs, None, ("unknown", exposure, reach)))
    result.services = sorted(out, key=lambda s: (s.ip, s.port))


def _count(result: AuditResult) -> None:
    """Each store's model count and size, from the files that really were models."""
    for store in result.stores:
        mine = [m for m in result.files if m.store_path == store.path]
        store.models = len(mine)
        store.size_bytes = sum(m.size_bytes for m in mine)


def run_audit(
    targets: Sequence[str] = (),
    *,
    paths: Sequence[str | os.PathLike[str]] = (),
    ports: str | None = None,
    services: bool = True,
    stores: bool = True,
    all_users: bool = False,
    loopback_only: bool = False,
    hash_all: bool = False,
    hash_limit: int = DEFAULT_HASH_LIMIT,
    timeout: float = 2.0,
    max_entries: int = 500_000,
    env: Mapping[str, str] | None = None,
    home: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
) -> AuditResult:
    """Audit this machine (or, with `targets`, those hosts over the network plus this
    machine's model files).

    - `ports`: None probes the `ai` preset on loopback and every listening socket of this
      machine; a port spec (`11434,8000-8010`, `ai`) limits both to those ports.
    - `paths`: extra folders or files to inventory (Ollama stores and Hugging Face caches
      inside them are recognised).
    - `stores`: look in the usual model stores (Ollama, Hugging Face, LM Studio, GPT4All,
      llama.cpp) of `home` (default: the user's home) and the Ollama service account.
    - `loopback_only`: never probe a non-loopback address, even one of this machine's own.
    - `hash_all`: sha256 every model file; otherwise only files up to `hash_limit` bytes.
    """
    progress = progress or (lambda _msg: None)
    env = os.environ if env is None else env
    started = time.monotonic()
    result = AuditResult(
        host=socket.gethostname(),
        started_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        seconds=0.0,
        mode="targets" if targets else "local",
        targets=list(targets),
        services_checked=services,
    )
    if services:
        if targets:
            _network_services(result, targets, ports, timeout, progress)
        else:
            _local_services(
                result, ports, loopback_only=loopback_only, timeout=timeout, progress=progress
            )
    locations = (
        default_locations(env, Path(home) if home else Path.home(), all_users=all_users)
        if stores
        else []
    )
    found = discover(locations, [Path(p).expanduser() for p in paths], max_entries=max_entries)
    result.stores = found.stores
    result.searched = found.searched
    result.notes += found.notes
    progress(f"reading {len(found.candidates)} candidate model files")
    for cand in found.candidates:
        try:
            model = analyse_file(cand, hash_all=hash_all, hash_limit=hash_limit, notes=result.notes)
        except Exception as exc:  # never lose the other files' report to one file
            result.notes.append(f"{cand.path}: not audited ({type(exc).__name__}: {exc})"[:400])
            continue
        if model is not None:
            result.files.append(model)
    _count(result)
    result.files.sort(key=lambda m: (m.store, m.name, m.path))
    result.seconds = round(time.monotonic() - started, 3)
    return result
