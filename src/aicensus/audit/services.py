"""This machine's listening sockets: who owns them, what they are bound to, who can reach them.

The socket table (psutil) tells a service bound to loopback from one bound to every interface
(0.0.0.0, ::) or to a LAN address — the difference between a private Ollama and an exposed one.
The probing itself is the scanner's (`api.scan`, read-only requests); this module only decides
which (address, port) pairs to probe — always addresses of this machine: a loopback address for
anything bound to loopback or to every interface, the bound address itself for a socket bound
to one of this machine's other addresses (never with `loopback_only`).
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from aicensus.assess.detectors import address_scope
from aicensus.assess.secrets import redact_secrets
from aicensus.audit.records import ProcessInfo
from aicensus.fingerprint.load import builtin_signatures
from aicensus.fingerprint.schema import Signature

try:  # psutil is a dependency; the audit still runs (probing only) where it cannot load
    import psutil
except ImportError:  # pragma: no cover
    psutil = None  # type: ignore[assignment]

WILDCARDS = ("0.0.0.0", "::")
MAX_BOUND_LISTED = 8

# The fix for a product without its own `remediation` in its signature file.
DEFAULT_FIX = (
    "bind the service to 127.0.0.1, or put it behind a reverse proxy that requires "
    "authentication, or restrict the port at the firewall"
)
_SECRET_FLAG = re.compile(r"^-{1,2}(?:api[-_]?key|token|password|passwd|secret|auth|key)$", re.I)
_SECRET_ASSIGN = re.compile(
    r"^(-{1,2}(?:api[-_]?key|token|password|passwd|secret|auth|key)=).+$", re.I
)


@dataclass(frozen=True)
class Listener:
    ip: str
    port: int
    pid: int | None


@dataclass
class SocketGroup:
    """The listening sockets one process holds on one port (often one, sometimes thousands)."""

    port: int
    pid: int | None
    binds: list[str] = field(default_factory=list)

    def binding(self) -> str:
        if any(b in WILDCARDS for b in self.binds):
            return "all-interfaces"
        if all(is_loopback(b) for b in self.binds):
            return "loopback"
        return "specific"


def is_loopback(ip: str) -> bool:
    return address_scope(ip) == "loopback"


def _family(ip: str) -> int:
    return 6 if ":" in ip else 4


def read_listeners() -> list[Listener] | None:
    """Every listening TCP socket of this machine, or None when the table cannot be read."""
    if psutil is None:
        return None
    try:
        conns = psutil.net_connections(kind="tcp")
    except (psutil.AccessDenied, PermissionError, OSError, NotImplementedError):
        return None
    out = []
    for c in conns:
        if c.status != psutil.CONN_LISTEN or not c.laddr:
            continue
        ip = str(c.laddr.ip).split("%", 1)[0]
        out.append(Listener(ip=ip, port=int(c.laddr.port), pid=c.pid))
    return out


def interface_addresses() -> list[str]:
    """This machine's own IP addresses (link-local IPv6 left out: it needs a scope to reach)."""
    if psutil is None:
        return []
    try:
        table = psutil.net_if_addrs()
    except (OSError, NotImplementedError):
        return []
    out: list[str] = []
    for addrs in table.values():
        for a in addrs:
            text = str(a.address).split("%", 1)[0]
            try:
                ip = ipaddress.ip_address(text)
            except ValueError:
                continue  # MAC addresses
            if ip.version == 6 and ip.is_link_local:
                continue
            if str(ip) not in out:
                out.append(str(ip))
    return out


def group_listeners(listeners: Iterable[Listener], ports: set[int] | None) -> list[SocketGroup]:
    groups: dict[tuple[int | None, int], SocketGroup] = {}
    for lst in listeners:
        if ports is not None and lst.port not in ports:
            continue
        group = groups.setdefault((lst.pid, lst.port), SocketGroup(port=lst.port, pid=lst.pid))
        if lst.ip not in group.binds:
            group.binds.append(lst.ip)
    return sorted(groups.values(), key=lambda g: (g.port, g.pid or 0))


def probe_address(group: SocketGroup, loopback_only: bool) -> str | None:
    """The address of this machine to probe the group's service at (None: do not probe)."""
    binds = group.binds
    if "0.0.0.0" in binds or "127.0.0.1" in binds:
        return "127.0.0.1"
    if "::" in binds or "::1" in binds:
        return "::1"
    loopbacks = [b for b in binds if is_loopback(b)]
    if loopbacks:
        return sorted(loopbacks, key=lambda b: (_family(b), b))[0]
    return None if loopback_only else binds[0]


def classify(group: SocketGroup | None, own: list[str]) -> tuple[str, str, list[str]]:
    """(binding, exposure, reachable_on) of a service from the socket table."""
    if group is None:
        return "unknown", "unknown", []
    binding = group.binding()
    if binding == "loopback":
        return binding, "loopback", []
    if binding == "all-interfaces":
        families = {_family(b) for b in group.binds if b in WILDCARDS}
        if "::" in group.binds:
            families.add(4)  # dual-stack unless IPV6_V6ONLY: assume the wider
        reach = [a for a in own if not is_loopback(a) and _family(a) in families]
    else:
        reach = [b for b in group.binds if not is_loopback(b)]
    scopes = {address_scope(a) for a in reach}
    exposure = "public" if "public" in scopes else ("lan" if reach else "loopback")
    return binding, exposure, reach


def target_exposure(ip: str) -> str:
    """Exposure of a network target given on the command line: the scope of its address."""
    scope = address_scope(ip)
    return {"loopback": "loopback", "public": "public", "private": "lan"}.get(scope, "unknown")


def find_group(groups: list[SocketGroup], ip: str, port: int) -> SocketGroup | None:
    """The socket group that answered a probe of ip:port (exact bind, then a wildcard)."""
    on_port = [g for g in groups if g.port == port]
    for g in on_port:
        if ip in g.binds:
            return g
    wild = "0.0.0.0" if _family(ip) == 4 else "::"
    for g in on_port:
        if wild in g.binds:
            return g
    if _family(ip) == 4:
        for g in on_port:
            if "::" in g.binds:
                return g
    return None


def redact_argv(argv: list[str], limit: int = 32) -> list[str]:
    out: list[str] = []
    hide_next = False
    for arg in argv[:limit]:
        if hide_next:
            out.append("[REDACTED]")
            hide_next = False
            continue
        if _SECRET_FLAG.match(arg):
            hide_next = True
            out.append(arg)
            continue
        assigned = _SECRET_ASSIGN.match(arg)
        if assigned:
            out.append(assigned.group(1) + "[REDACTED]")
            continue
        out.append((redact_secrets(arg) or "")[:200])
    if len(argv) > limit:
        out.append(f"… ({len(argv) - limit} more)")
    return out


def process_info(pid: int | None) -> ProcessInfo | None:
    if pid is None or psutil is None:
        return None
    info = ProcessInfo(pid=pid)
    try:
        proc = psutil.Process(pid)
    except (psutil.NoSuchProcess, psutil.AccessDenied, OSError):
        return info
    for attr, getter in (
        ("name", proc.name),
        ("exe", proc.exe),
        ("user", proc.username),
    ):
        with contextlib.suppress(psutil.Error, OSError):
            setattr(info, attr, str(getter())[:200] or None)
    with contextlib.suppress(psutil.Error, OSError):
        info.cmdline = redact_argv([str(a) for a in proc.cmdline()])
    return info


def process_hint(
    process: ProcessInfo | None, sigs: Sequence[Signature] | None = None
) -> str | None:
    """The product a process looks like, from the signatures' `processes` needles (the
    longest matching needle wins, so `llama_cpp.server` is not taken for something shorter)."""
    if process is None:
        return None
    words = " ".join([process.name or "", *process.cmdline[:4]]).lower()
    hits = [
        (len(needle), sig.id)
        for sig in (builtin_signatures() if sigs is None else sigs)
        for needle in sig.processes
        if needle in words
    ]
    return max(hits)[1] if hits else None


def fix_for(
    product: str | None, process: ProcessInfo | None, sigs: Sequence[Signature] | None = None
) -> str:
    """How to make the service private: the product's remediation (known from the probe, else
    guessed from its process), or the generic advice."""
    remedies = {s.id: s.remediation for s in (builtin_signatures() if sigs is None else sigs)}
    for candidate in (product, process_hint(process, sigs)):
        remedy = remedies.get(candidate or "")
        if remedy:
            return remedy
    return DEFAULT_FIX


def shorten_binds(binds: list[str]) -> list[str]:
    ordered = sorted(binds, key=lambda b: (b not in WILDCARDS, is_loopback(b), _family(b), b))
    return ordered[:MAX_BOUND_LISTED]
