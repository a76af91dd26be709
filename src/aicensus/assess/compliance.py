"""Compliance policy packs: published rules (government bans, licence terms) as data.

A pack (assess/packs/*.yaml) is a user policy (`policy:`, the schema of assess/policy.py) plus the
rule's metadata: issuer, jurisdiction, date, status, source and a scope note that says exactly what the
rule covers (a vendor's hosted app or service is not its open weights). Licence packs add `clauses`:
licence terms matched by licence class or restriction kind, quoted, with the profile (commercial,
research) they bind. `check_packs` judges assessed services against packs and keeps the evidence chain
(model -> developer -> country, attribution confidence and how it was matched).

Honest attribution: a model whose developer is unknown is reported `unknown` (never passing), and one
attributed below the pack's `min_confidence` is reported `undetermined`, not as a violation.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import functools
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import msgspec
import yaml

from aicensus.assess.finding import Finding
from aicensus.assess.frameworks import Refs, invalid_refs, rule_refs
from aicensus.assess.policy import Policy, PolicyError, check_observation, denied_countries
from aicensus.records import ModelRecord, ScanStatus, ServiceObservation

Status = Literal["in force", "guidance", "bill", "licence", "baseline"]
Covers = Literal["app", "web-service", "hosted-api", "weights", "any-model", "servers"]
Verdict = Literal["violation", "review", "undetermined", "unknown"]


class Clause(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """One licence term: which models it binds (by licence class, restriction kind, licence-name or
    model-name glob), under which profiles, and what the licence says (quoted)."""

    id: str
    title: str
    quote: str
    source: str
    verdict: Literal["violation", "review"] = "review"
    profiles: list[str] = msgspec.field(default_factory=list)  # empty: every profile
    licence_classes: list[str] = msgspec.field(default_factory=list)
    restriction_kinds: list[str] = msgspec.field(default_factory=list)
    licences: list[str] = msgspec.field(default_factory=list)  # globs over the licence name
    models: list[str] = msgspec.field(default_factory=list)  # globs over the model name
    except_licences: list[str] = msgspec.field(default_factory=list)  # globs: never these
    # Only models with one of these capabilities (e.g. vision for a multimodal-only term); a model
    # whose capabilities were not reported stays bound (it cannot be shown to be exempt).
    capabilities: list[str] = msgspec.field(default_factory=list)
    refs: Refs = msgspec.field(default_factory=Refs)


class Param(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    description: str
    default: list[str]


class Pack(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    name: str
    title: str
    issuer: str
    jurisdiction: str
    date: str  # YYYY-MM-DD the rule was issued (or the licence released)
    status: Status
    source: str
    covers: list[Covers]
    scope_note: str
    verification: str  # how each fact was checked here; what stays unverified
    sources: list[str] = msgspec.field(default_factory=list)  # further reports
    refs: Refs = msgspec.field(default_factory=Refs)
    advisory: bool = False  # the rule binds the vendor, not you: matches are `review`
    min_confidence: float = 0.0
    unknown: Literal["report", "deny", "ignore"] = "report"  # unattributed models
    remediation: str = ""
    params: dict[str, Param] = msgspec.field(default_factory=dict)
    profiles: list[str] = msgspec.field(default_factory=list)
    default_profile: str | None = None
    policy: dict[str, Any] = msgspec.field(default_factory=dict)
    clauses: list[Clause] = msgspec.field(default_factory=list)

    @property
    def weights_covered(self) -> bool:
        """Whether the rule's text reaches self-hosted models (not only the vendor's own service)."""
        return bool({"weights", "any-model", "servers"} & set(self.covers))


class Chain(msgspec.Struct, kw_only=True):
    """model -> developer -> country, with how sure the attribution is."""

    model: str
    developer: str | None
    country: str | None
    base_developer: str | None = None
    base_country: str | None = None
    licence: str | None = None
    confidence: float = 0.0
    matched_by: str = "unknown"

    def describe(self) -> str:
        base = ""
        if self.base_developer or self.base_country:
            base = f" (base: {self.base_developer or 'unknown'}, {self.base_country or '??'})"
        return (
            f"{self.model} -> {self.developer or 'unknown developer'} -> "
            f"{self.country or 'unknown country'}{base}; attribution confidence "
            f"{self.confidence:.2f}, matched by {self.matched_by}"
        )


class PackViolation(msgspec.Struct, kw_only=True):
    pack: str
    title: str
    source: str
    date: str
    status: str
    rule: str
    verdict: Verdict
    ip: str
    port: int
    product: str | None
    model: str | None
    message: str
    evidence: list[str] = msgspec.field(default_factory=list)
    chain: Chain | None = None
    reading: str = ""  # why the rule reaches this service (scope note, conservatively read)
    refs: Refs = msgspec.field(default_factory=Refs)
    remediation: str = ""

    @property
    def where(self) -> str:
        host = f"[{self.ip}]" if ":" in self.ip else self.ip
        return f"{host}:{self.port}"


# ---------------------------------------------------------------- loading


def _fail(path: str, message: str) -> PolicyError:
    return PolicyError(f"pack {path}: {message}")


def parse_pack(path: str, text: str) -> Pack:
    """A validated pack; PolicyError (one line, naming the file and field) otherwise."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise _fail(path, "not valid YAML") from exc
    except ValueError as exc:  # PyYAML raises this for an impossible date such as 2025-13-01
        raise _fail(path, f"date: not a valid date ({exc})") from exc
    if not isinstance(data, dict):
        raise _fail(path, "must be a mapping")
    if isinstance(data.get("date"), dt.date):  # an unquoted YAML date
        data["date"] = data["date"].isoformat()
    try:
        pack = msgspec.convert(data, Pack)
    except msgspec.ValidationError as exc:
        raise _fail(path, str(exc)) from exc
    try:
        dt.date.fromisoformat(pack.date)
    except ValueError as exc:
        raise _fail(path, f"date: {pack.date!r} is not YYYY-MM-DD") from exc
    for i, url in enumerate([pack.source, *pack.sources]):
        if not url.startswith(("https://", "http://")):
            raise _fail(
                path, f"{'source' if i == 0 else f'sources[{i - 1}]'}: {url!r} is not a URL"
            )
    for where, refs in [
        ("refs", pack.refs),
        *((f"clauses.{c.id}.refs", c.refs) for c in pack.clauses),
    ]:
        bad = invalid_refs(refs)
        if bad:
            raise _fail(path, f"{where}: unknown framework reference {bad[0]}")
    if pack.default_profile is not None and pack.default_profile not in pack.profiles:
        raise _fail(path, f"default_profile: {pack.default_profile!r} is not in profiles")
    for c in pack.clauses:
        unknown = [p for p in c.profiles if p not in pack.profiles]
        if unknown:
            raise _fail(path, f"clauses.{c.id}.profiles: {unknown[0]!r} is not in profiles")
    resolve_policy(pack, {}, path=path)  # the embedded policy must validate too
    return pack


def _substitute(value: Any, params: dict[str, list[str]]) -> Any:
    if isinstance(value, str) and value.startswith("$"):
        return params[value[1:]]
    if isinstance(value, dict):
        return {k: _substitute(v, params) for k, v in value.items()}
    if isinstance(value, list):
        out: list[Any] = []
        for v in value:
            sub = _substitute(v, params)
            out.extend(sub) if isinstance(v, str) and v.startswith("$") else out.append(sub)
        return out
    return value


def resolve_policy(pack: Pack, params: dict[str, list[str]], *, path: str = "") -> Policy | None:
    """The pack's `policy:` block as a Policy, with `$param` values filled in (defaults first)."""
    if not pack.policy:
        return None
    unknown = [k for k in params if k not in pack.params]
    if unknown:
        raise _fail(path or pack.name, f"params: {unknown[0]!r} is not a parameter of this pack")
    values = {k: p.default for k, p in pack.params.items()} | params
    try:
        data = _substitute({"name": pack.name, **pack.policy}, values)
        return msgspec.convert(data, Policy)
    except KeyError as exc:
        raise _fail(path or pack.name, f"policy: undefined parameter ${exc.args[0]}") from exc
    except msgspec.ValidationError as exc:
        raise _fail(path or pack.name, f"policy: {exc}") from exc


@functools.cache
def builtin_packs() -> tuple[Pack, ...]:
    folder = resources.files(__package__).joinpath("packs")
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".yaml"))
    packs = []
    for name in names:
        text = folder.joinpath(name).read_text(encoding="utf-8")
        pack = parse_pack(f"aicensus/assess/packs/{name}", text)
        if pack.name != name.removesuffix(".yaml"):
            raise _fail(name, f"name: {pack.name!r} differs from the file name")
        packs.append(pack)
    return tuple(packs)


def load_pack(name_or_path: str) -> Pack:
    """A bundled pack by name, or a pack file by path."""
    for pack in builtin_packs():
        if pack.name == name_or_path:
            return pack
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") and path.exists():
        try:
            return parse_pack(str(path), path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise _fail(str(path), f"cannot read: {exc}") from exc
    names = ", ".join(p.name for p in builtin_packs())
    raise PolicyError(f"no pack named {name_or_path!r} (known: {names})")


# ---------------------------------------------------------------- evaluation


def _matched_by(model: ModelRecord) -> str:
    """How the attribution was made, from the attribution's own first evidence line (re-derived:
    the attribution is cached): an exact library name, a name pattern, a digest ..."""
    from aicensus.attribute.attribution import attribute_model

    if model.matched_by == "family" and not model.developer:  # as stored (schema 6)
        return "model family only: the name matches no catalog entry (weaker than a name)"
    if not model.developer:
        return "unattributed"
    evidence = attribute_model(model).evidence
    if not evidence:
        return "declared by the server"
    first = evidence[0]
    kind = (
        "exact library name"
        if "library name" in first
        else (
            "digest"
            if "digest" in first.lower()
            else "name pattern"
            if "contains" in first
            else "name"
        )
    )
    return f"{kind}: {first}" if len(first) <= 120 else f"{kind}: {first[:117]}..."


def chain_of(model: ModelRecord) -> Chain:
    return Chain(
        model=model.name,
        developer=model.developer,
        country=model.country,
        base_developer=model.base.developer if model.base else None,
        base_country=model.base.country if model.base else None,
        licence=model.licence or model.licence_name,
        confidence=model.attribution_confidence,
        matched_by=_matched_by(model),
    )


def _reading(pack: Pack) -> str:
    if pack.weights_covered:
        return "the rule covers models run on your own servers"
    covered = ", ".join(pack.covers)
    return (
        f"the rule names the vendor's {covered}; a self-hosted copy of its open weights is flagged "
        "on a conservative reading (see the pack's scope note)"
    )


def _base(pack: Pack, obs: ServiceObservation, **kw: Any) -> PackViolation:
    return PackViolation(
        pack=pack.name, title=pack.title, source=pack.source, date=pack.date, status=pack.status,
        ip=obs.ip, port=obs.port, product=obs.product, reading=_reading(pack), refs=pack.refs,
        remediation=pack.remediation, **kw,
    )  # fmt: skip


def _policy_verdicts(
    pack: Pack, policy: Policy, obs: ServiceObservation, findings: Sequence[Finding]
) -> list[PackViolation]:
    models = {m.name: m for m in obs.models}
    out: list[PackViolation] = []
    for v in check_observation(policy, obs, findings):
        model = models.get(v.model or "")
        chain = chain_of(model) if model is not None else None
        verdict: Verdict = "violation"
        message = v.message
        if v.rule.endswith(".unknown"):
            verdict = "unknown"
        elif pack.advisory:
            verdict = "review"
        elif chain is not None and chain.confidence < pack.min_confidence:
            verdict = "undetermined"
            message += (
                f" (attribution confidence {chain.confidence:.2f} is below the pack's "
                f"{pack.min_confidence:.2f})"
            )
        evidence = [chain.describe()] if chain else []
        found = _base(pack, obs, rule=v.rule, verdict=verdict, model=v.model, message=message,
                      evidence=evidence + v.evidence, chain=chain)  # fmt: skip
        found.refs = pack.refs.merged(rule_refs(v.rule))
        out.append(found)
    if pack.unknown == "report" and _judges_models(policy):
        for m in obs.models:
            if not m.developer and not any(x.model == m.name for x in out):
                out.append(
                    _base(pack, obs, rule="attribution.unknown", verdict="unknown", model=m.name,
                          message=f"model {m.name}: developer unknown, so the rule cannot be "
                          "shown to pass", evidence=[chain_of(m).describe()], chain=chain_of(m))
                )  # fmt: skip
    return out


def _judges_models(policy: Policy) -> bool:
    return policy.countries is not None or policy.developers is not None


def _globbed(value: str, globs: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(value.lower(), g.lower()) for g in globs)


def _clause_applies(clause: Clause, model: ModelRecord) -> str | None:
    """Why the clause binds this model (a short reason), or None."""
    from aicensus.attribute.licences import find_licence, licence_class

    licence = model.licence or model.licence_name
    if licence is not None and _globbed(licence, clause.except_licences):
        return None
    reported = set(model.capabilities)
    if clause.capabilities and reported and not reported & set(clause.capabilities):
        return None  # e.g. a text-only model under a multimodal-only term
    if clause.models and any(
        fnmatch.fnmatchcase(model.name.lower(), g.lower()) for g in clause.models
    ):
        return f"model name {model.name} matches {', '.join(clause.models)}"
    if licence is None:
        return None
    if clause.licences and any(
        fnmatch.fnmatchcase(licence.lower(), g.lower()) for g in clause.licences
    ):
        return f"licence {licence}"
    klass = licence_class(licence)
    if klass in clause.licence_classes:
        return f"licence {licence} is {klass}"
    entry = find_licence(licence)
    if entry is not None and clause.restriction_kinds:
        kinds = {r.kind for r in entry.restrictions}
        hit = sorted(kinds & set(clause.restriction_kinds))
        if hit:
            return f"licence {licence} carries a {'/'.join(hit)} restriction"
    return None


def _clause_verdicts(
    pack: Pack, profile: str | None, obs: ServiceObservation
) -> list[PackViolation]:
    from aicensus.attribute.licences import find_licence

    out: list[PackViolation] = []
    for m in obs.models:
        for clause in pack.clauses:
            if clause.profiles and profile not in clause.profiles:
                continue
            why = _clause_applies(clause, m)
            if why is None:
                continue
            # The quote is one licence's wording of the term (say where), not this model's text.
            worded = clause.source or pack.source
            quote = f"clause as worded at {worded}: \u201c{clause.quote}\u201d"
            evidence = [chain_of(m).describe(), f"{why}", quote]
            if clause.capabilities and not m.capabilities:
                evidence.append(
                    f"the term covers models with {'/'.join(clause.capabilities)} capability; "
                    "this model's capabilities were not reported"
                )
            entry = find_licence(m.licence or m.licence_name)
            if entry is not None:
                evidence += [f"licence catalogue ({r.kind}): {r.text}" for r in entry.restrictions
                             if r.kind in clause.restriction_kinds]  # fmt: skip
            out.append(_clause_violation(pack, obs, clause, m, evidence))
        if not (m.licence or m.licence_name) and pack.clauses and pack.unknown == "report":
            out.append(
                _base(pack, obs, rule="licence.unknown", verdict="unknown", model=m.name,
                      message=f"model {m.name}: licence unknown, its terms cannot be checked",
                      evidence=[chain_of(m).describe()], chain=chain_of(m))
            )  # fmt: skip
    return out


def _clause_violation(
    pack: Pack, obs: ServiceObservation, clause: Clause, m: ModelRecord, evidence: list[str]
) -> PackViolation:
    v = _base(pack, obs, rule=f"clauses.{clause.id}", verdict=clause.verdict, model=m.name,
              message=f"model {m.name}: {clause.title}", evidence=evidence, chain=chain_of(m))  # fmt: skip
    v.refs = pack.refs.merged(clause.refs)
    v.source = clause.source or pack.source
    return v


class PackRun(msgspec.Struct, kw_only=True):
    """A pack with its parameters and profile, ready to judge services."""

    pack: Pack
    params: dict[str, list[str]] = msgspec.field(default_factory=dict)
    profile: str | None = None

    @property
    def policy(self) -> Policy | None:
        return resolve_policy(self.pack, self.params)

    def denied_countries(self) -> list[str]:
        policy = self.policy
        return denied_countries(policy) if policy is not None else []


def prepare(
    pack: Pack, params: dict[str, list[str]] | None = None, profile: str | None = None
) -> PackRun:
    """Validate the parameters and profile for this pack (PolicyError when they do not fit)."""
    profile = profile or pack.default_profile
    if profile is not None and pack.profiles and profile not in pack.profiles:
        raise PolicyError(
            f"pack {pack.name}: profile {profile!r} is not one of {', '.join(pack.profiles)}"
        )
    run = PackRun(pack=pack, params=dict(params or {}), profile=profile)
    run.policy  # noqa: B018 - validates the parameters now, not mid-report
    return run


def check_pack(
    run: PackRun, assessed: Iterable[tuple[ServiceObservation, Sequence[Finding]]]
) -> list[PackViolation]:
    """Every verdict of one pack over identified services: violations, review items (licence
    terms that depend on facts a scan cannot see), undetermined and unknown attributions."""
    policy = run.policy
    out: list[PackViolation] = []
    for obs, findings in assessed:
        if obs.status != ScanStatus.IDENTIFIED:
            continue
        if policy is not None:
            out.extend(_policy_verdicts(run.pack, policy, obs, findings))
        if run.pack.clauses:
            out.extend(_clause_verdicts(run.pack, run.profile, obs))
    return out


def check_packs(
    runs: Sequence[PackRun], assessed: Sequence[tuple[ServiceObservation, Sequence[Finding]]]
) -> dict[str, list[PackViolation]]:
    return {run.pack.name: check_pack(run, assessed) for run in runs}


def parse_params(items: Iterable[str]) -> dict[str, list[str]]:
    """`countries=CN,RU` items from the command line."""
    out: dict[str, list[str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise PolicyError(f"--param {item!r}: expected NAME=VALUE[,VALUE…]")
        out[key.strip()] = [v.strip() for v in value.split(",") if v.strip()]
    return out
