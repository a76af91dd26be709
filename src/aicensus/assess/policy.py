"""Policy-as-code: a YAML policy checked against observations and their findings.

    name: no-cn-models-on-production
    scope: [10.20.0.0/16]                 # optional: only these hosts are evaluated
    require_auth: true                     # open or partial auth is a violation
    max_severity: medium                   # any finding above this is a violation
    countries: {deny: [CN], include_base: true}
    developers: {allow: [Meta, Mistral AI], unknown: deny}
    licences: {deny: [cc-by-nc-4.0]}
    capabilities: {deny: [tools]}          # also `modalities`
    products: {deny: [ray]}
    sanctioned_hosts: [10.20.1.0/24]       # AI services elsewhere are violations
    sanctioned_models: ["llama3.2:*"]      # glob patterns; other models are violations
    advisories: {deny_severity: high, known_exploited: deny, deny_ids: [CVE-2024-37032],
                 unknown_version: deny}    # see assess/advisories/policy.py

Comparison is case-insensitive. A value the scan could not determine (e.g. an unattributed
model's country) passes a deny list and fails an allow list unless `unknown: allow`.
"""

from __future__ import annotations

import fnmatch
import ipaddress
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Literal

import msgspec
import yaml

from aicensus.assess.advisories.policy import AdvisoryRule, check_advisories
from aicensus.assess.finding import Finding, Severity
from aicensus.errors import PolicyError
from aicensus.records import AuthState, ModelRecord, ScanStatus, ServiceObservation

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ListRule(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    allow: list[str] | None = None
    deny: list[str] = msgspec.field(default_factory=list)
    unknown: Literal["allow", "deny"] = "allow"
    include_base: bool = True  # countries/developers: also judge the base model's


class Policy(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: str
    description: str = ""
    scope: list[str] = msgspec.field(default_factory=list)
    require_auth: bool = False
    max_severity: Severity | None = None
    countries: ListRule | None = None
    developers: ListRule | None = None
    licences: ListRule | None = None
    capabilities: ListRule | None = None
    modalities: ListRule | None = None
    products: ListRule | None = None
    sanctioned_hosts: list[str] | None = None
    sanctioned_models: list[str] | None = None
    advisories: AdvisoryRule | None = None  # assess/advisories/policy.py

    def networks(self, field: str) -> list[Network]:
        return [ipaddress.ip_network(c, strict=False) for c in getattr(self, field) or []]


class Violation(msgspec.Struct, kw_only=True):
    rule: str  # the policy field that was broken, e.g. "countries.deny"
    ip: str
    port: int
    product: str | None
    model: str | None
    message: str
    evidence: list[str] = msgspec.field(default_factory=list)


def parse_policy(path: str, text: str) -> Policy:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1})" if mark is not None else ""
        raise PolicyError(f"policy {path}: not valid YAML{at}") from exc
    if not isinstance(data, dict):
        raise PolicyError(f"policy {path}: must be a mapping with at least `name`")
    try:
        policy = msgspec.convert(data, Policy)
    except msgspec.ValidationError as exc:
        raise PolicyError(f"policy {path}: {exc}") from exc
    for field in ("scope", "sanctioned_hosts"):
        for i, cidr in enumerate(getattr(policy, field) or []):
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError as exc:
                raise PolicyError(f"policy {path}: {field}[{i}]: {cidr!r} is not a CIDR") from exc
    return policy


def load_policy(path: str | Path) -> Policy:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"policy {path}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise PolicyError(f"policy {path}: not UTF-8 text") from exc
    return parse_policy(str(path), text)


# ---------------------------------------------------------------- evaluation


def _in(ip: str, networks: Sequence[Network]) -> bool:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return any(addr.version == n.version and addr in n for n in networks)


def _norm(values: Iterable[str]) -> set[str]:
    return {v.strip().lower() for v in values}


def _judge(rule: ListRule, values: Sequence[str | None]) -> tuple[str, str | None] | None:
    """(rule suffix, offending value) for the first value the rule rejects, else None."""
    deny, allow = _norm(rule.deny), None if rule.allow is None else _norm(rule.allow)
    known = [v for v in values if v]
    for v in known:
        if v.lower() in deny:
            return "deny", v
    if allow is not None:
        for v in known:
            if v.lower() not in allow:
                return "allow", v
    if not known and rule.unknown == "deny":
        return "unknown", None
    return None


def _who(m: ModelRecord) -> str:
    base = ""
    if m.base is not None and (m.base.developer or m.base.country):
        base = f"; base model by {m.base.developer or 'unknown'} ({m.base.country or '??'})"
    return (
        f"developer {m.developer or 'unknown'} ({m.country or '??'}), "
        f"licence {m.licence or m.licence_name or 'unknown'}{base}"
    )


class _Ctx:
    def __init__(self, ip: str, port: int, product: str | None) -> None:
        self.ip, self.port, self.product = ip, port, product
        self.out: list[Violation] = []

    def add(self, rule: str, message: str, evidence: list[str], model: str | None = None) -> None:
        self.out.append(
            Violation(
                rule=rule,
                ip=self.ip,
                port=self.port,
                product=self.product,
                model=model,
                message=message,
                evidence=evidence,
            )
        )


def _model_rules(policy: Policy, ctx: _Ctx, m: ModelRecord) -> None:
    base = m.base
    attrs: list[tuple[str, ListRule | None, list[str | None]]] = [
        ("countries", policy.countries, [m.country]),
        ("developers", policy.developers, [m.developer]),
        ("licences", policy.licences, [m.licence or m.licence_name]),
    ]
    for field, rule, values in attrs:
        if rule is None:
            continue
        if field in ("countries", "developers") and rule.include_base and base is not None:
            values = [*values, base.country if field == "countries" else base.developer]
        verdict = _judge(rule, values)
        if verdict is None:
            continue
        kind, value = verdict
        what = field[:-3] + "y" if field == "countries" else field[:-1]
        message = {
            "deny": f"model {m.name}: {what} {value} is denied",
            "allow": f"model {m.name}: {what} {value} is not in the allow list",
            "unknown": f"model {m.name}: {what} unknown and `unknown: deny` is set",
        }[kind]
        ctx.add(f"{field}.{kind}", message, [_who(m)], model=m.name)
    for field in ("capabilities", "modalities"):
        rule = getattr(policy, field)
        if rule is None:
            continue
        caps = list(m.capabilities)
        deny = _norm(rule.deny)
        bad = [c for c in caps if c.lower() in deny]
        if rule.allow is not None:
            allow = _norm(rule.allow)
            bad += [c for c in caps if c.lower() not in allow and c.lower() not in deny]
        for cap in bad:
            kind = "deny" if cap.lower() in deny else "allow"
            ctx.add(
                f"{field}.{kind}",
                f"model {m.name}: capability {cap} is not permitted",
                [f"capabilities: {', '.join(caps)}"],
                model=m.name,
            )
    if policy.sanctioned_models is not None:
        patterns = [p.lower() for p in policy.sanctioned_models]
        if not any(fnmatch.fnmatchcase(m.name.lower(), p) for p in patterns):
            ctx.add(
                "sanctioned_models",
                f"model {m.name} is not on the sanctioned list",
                [_who(m)],
                model=m.name,
            )


def check_observation(
    policy: Policy, obs: ServiceObservation, findings: Sequence[Finding]
) -> list[Violation]:
    """Violations of one identified observation (none when it is outside the policy scope)."""
    if obs.status != ScanStatus.IDENTIFIED:
        return []
    if not in_scope(policy, obs.ip):
        return []
    ctx = _Ctx(obs.ip, obs.port, obs.product)
    sanctioned = policy.networks("sanctioned_hosts")
    if policy.sanctioned_hosts is not None and not _in(obs.ip, sanctioned):
        ctx.add(
            "sanctioned_hosts",
            f"{obs.product} service on a host outside the sanctioned ranges",
            [f"sanctioned: {', '.join(policy.sanctioned_hosts)}"],
        )
    if policy.products is not None:
        verdict = _judge(policy.products, [obs.product])
        if verdict is not None:
            ctx.add(f"products.{verdict[0]}", f"product {obs.product} is not permitted", [])
    if policy.require_auth and obs.auth in (AuthState.OPEN, AuthState.PARTIAL):
        evidence = [f"auth state: {obs.auth}"]
        evidence += [f"{e.kind}: {e.probe} — {e.marker}" for e in obs.auth_evidence]
        ctx.add(
            "require_auth", f"{obs.product} answers without authentication ({obs.auth})", evidence
        )
    if policy.max_severity is not None:
        limit = policy.max_severity.rank
        for f in findings:
            if f.severity.rank > limit:
                ctx.add(
                    "max_severity",
                    f"{f.severity} finding {f.id}: {f.title}",
                    f.evidence,
                    model=f.model,
                )
    if policy.advisories is not None:
        check_advisories(policy.advisories, findings, lambda r, m, e: ctx.add(r, m, e))
    for m in obs.models:
        _model_rules(policy, ctx, m)
    return ctx.out


def check_policy(
    policy: Policy, assessed: Iterable[tuple[ServiceObservation, Sequence[Finding]]]
) -> Iterator[Violation]:
    for obs, findings in assessed:
        yield from check_observation(policy, obs, findings)


# ---------------------------------------------------------------- model rules

# The rules that judge a model itself (wherever it runs): a violation of one of these denies
# the model. The others judge the service (auth, product, host) or its findings.
MODEL_RULES = ("countries", "developers", "licences", "capabilities", "modalities",
               "sanctioned_models")  # fmt: skip


def is_model_rule(rule: str) -> bool:
    """True for a violation rule (``countries.deny`` …) that denies a model itself."""
    return rule.split(".", 1)[0] in MODEL_RULES


def in_scope(policy: Policy, ip: str) -> bool:
    """Whether the policy's `scope` covers this address (always, when it has no scope)."""
    scope = policy.networks("scope")
    return not scope or _in(ip, scope)


def denied_countries(policy: Policy) -> list[str]:
    """The country codes the policy's `countries.deny` names, upper-cased, in order."""
    if policy.countries is None:
        return []
    return list(dict.fromkeys(c.strip().upper() for c in policy.countries.deny if c.strip()))


def check_model(
    policy: Policy,
    model: ModelRecord,
    *,
    ip: str = "",
    port: int = 0,
    product: str | None = None,
) -> list[Violation]:
    """Violations of the policy's model rules (MODEL_RULES) by one model, whatever its place:
    no scope and no service rule is applied. ``ip``, ``port`` and ``product`` only label the
    violations (a model file has none)."""
    ctx = _Ctx(ip, port, product)
    _model_rules(policy, ctx, model)
    return ctx.out
