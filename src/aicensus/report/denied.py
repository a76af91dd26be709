"""The models a policy denies, each with its due-diligence card summary and the closest open
alternatives the policy would allow: the "Models your policy denies" part of `aicensus report
--policy` (table, json, html) and `aicensus audit --policy` (table, json).

    from aicensus.assess.policy import load_policy
    from aicensus.report.denied import denied_models

    for d in denied_models(assessed, load_policy("no-cn.yaml")):   # DeniedModel
        d.model, d.rule, d.card.developer, d.card.country, [a.name for a in d.alternatives]

A model is denied when a model rule of the policy (`countries`, `developers`, `licences`,
`capabilities`, `modalities`, `sanctioned_models`) rejects it; service rules (`require_auth`,
`products`, `sanctioned_hosts`, `max_severity`) are violations of the service, not of a model,
and stay in the violation list only.

Alternatives come from `aicensus.attribute.top_alternatives(name, exclude_countries=<the
policy's countries.deny>)` and are then held to every model rule of the same policy (an
excluded developer, a denied licence or capability, an allow list, `sanctioned_models`), so a
proposed replacement is never itself denied by the policy that denied the model.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from aicensus.assess.policy import (
    Policy,
    Violation,
    check_model,
    check_policy,
    denied_countries,
    in_scope,
    is_model_rule,
)
from aicensus.attribute import Alternative, attribute_name, model_card, top_alternatives
from aicensus.records import ModelRecord, ServiceObservation

if TYPE_CHECKING:
    from aicensus.attribute.diligence import FamilyRecord, ModelCard
    from aicensus.audit_records import AuditResult, ModelFile

TOP_N = 3
_POOL = 40  # alternatives ranked before the policy filter keeps the best TOP_N
_TEXT_LIMIT = 400  # a card message quotes the (server-provided) name: keep it bounded


class BaseSummary(msgspec.Struct, kw_only=True):
    """The family the denied model's weights derive from."""

    name: str
    family: str
    developer: str | None
    legal_entity: str | None
    country: str | None
    licence: str | None


class CardSummary(msgspec.Struct, kw_only=True):
    """The due-diligence card (`aicensus models card`) reduced to what a reader of a report
    needs: who is behind the model, where, under which licence, from which base, and where
    that was read. `status` is `attributed`, `ambiguous` or `unknown` (then `message` says
    why and the other fields are mostly empty)."""

    name: str
    status: str
    confidence: float = 0.0
    build: str | None = None
    family: str | None = None
    family_name: str | None = None
    developer: str | None = None
    legal_entity: str | None = None
    country: str | None = None
    headquarters: str | None = None
    licence: str | None = None
    licence_class: str | None = None
    licence_url: str | None = None
    restrictions: list[str] = msgspec.field(default_factory=list)  # "kind: text"
    restriction_lists: list[str] = msgspec.field(default_factory=list)  # government lists
    advisories: list[str] = msgspec.field(default_factory=list)
    guardrails_removed: bool = False
    base: BaseSummary | None = None
    sources: list[str] = msgspec.field(default_factory=list)
    candidates: list[str] = msgspec.field(default_factory=list)
    catalog_version: str | None = None
    message: str | None = None


class Reason(msgspec.Struct, kw_only=True):
    """One rule a denied model breaks, as the policy check words it."""

    rule: str
    message: str


class DeniedModel(msgspec.Struct, kw_only=True):
    """One model a policy denies, where it was found, why, its card and alternatives.

    `kind` is `service` (a model a server lists: `ip`, `port`, `product`) or `file` (a model
    file found by `aicensus audit`: `path`). `rule` is the first rule broken, `rules` and
    `reasons` all of them. `alternatives` are at most three, closest first, none from
    `alternatives_excluding` and none the policy denies; `alternatives_note` says why there
    are none (or fewer).
    """

    kind: str
    ip: str | None = None
    port: int | None = None
    product: str | None = None
    path: str | None = None
    model: str
    rule: str
    rules: list[str]
    reasons: list[Reason]
    card: CardSummary
    alternatives: list[Alternative]
    alternatives_excluding: list[str]
    alternatives_note: str | None = None

    @property
    def where(self) -> str:
        if self.kind == "file":
            return self.path or "-"
        ip = self.ip or ""
        return f"[{ip}]:{self.port}" if ":" in ip else f"{ip}:{self.port}"


class PolicyReport(msgspec.Struct, kw_only=True):
    """A policy's verdict attached to a report or an audit: `violations` are JSON-ready
    (`Violation` objects for a report; `{kind, subject, model, rule, message, evidence}` for
    an audit, whose model files have no address)."""

    name: str
    description: str = ""
    file: str | None = None
    violations: list[dict[str, Any]] = msgspec.field(default_factory=list)
    denied_models: list[DeniedModel] = msgspec.field(default_factory=list)

    @property
    def compliant(self) -> bool:
        return not self.violations

    def to_builtins(self) -> dict[str, object]:
        return {
            "name": self.name,
            "description": self.description,
            "file": self.file,
            "compliant": self.compliant,
            "violations": self.violations,
            "denied_models": msgspec.to_builtins(self.denied_models),
        }


# ---------------------------------------------------------------- card summary


def _known(value: str | None) -> str | None:
    return None if value in (None, "", "unknown") else value


def _bounded(text: str | None) -> str | None:
    if text is None or len(text) <= _TEXT_LIMIT:
        return text
    return text[: _TEXT_LIMIT - 1] + "…"


def summarize_card(card: ModelCard) -> CardSummary:
    """A `CardSummary` of a full `ModelCard` (`aicensus.attribute.model_card`)."""
    out = CardSummary(
        name=_bounded(card.name) or "",
        status=card.status,
        confidence=card.confidence,
        build=card.build,
        developer=card.developer,
        country=card.country,
        guardrails_removed=card.guardrails_removed,
        candidates=list(card.candidates),
        catalog_version=card.catalog_version,
        message=_bounded(card.message),
    )
    rec = card.model
    if rec is None:
        return out
    out.family, out.family_name = rec.family, rec.name
    dev = rec.developer
    if dev is not None:
        out.developer = out.developer or dev.name
        out.legal_entity = _known(dev.legal_name.value)
        out.country = out.country or _known(dev.country.value)
        out.headquarters = _known(dev.headquarters.value)
        out.restriction_lists = [
            f"{item.list}: {item.entity}, {item.status} {item.date}" for item in dev.listings
        ]
    lic = rec.licence
    out.licence = _known(lic.name.value)
    out.licence_class = lic.licence_class
    out.licence_url = lic.url
    out.restrictions = [f"{r.kind}: {r.text}" for r in lic.restrictions]
    out.advisories = [f"{a.date} {a.kind}: {a.title}" for a in rec.advisories]
    out.base = _base(card.base)
    sources = list(rec.sources)
    if card.base is not None:
        sources += card.base.sources
    out.sources = list(dict.fromkeys(sources))
    return out


def _base(rec: FamilyRecord | None) -> BaseSummary | None:
    if rec is None:
        return None
    dev = rec.developer
    return BaseSummary(
        name=rec.name,
        family=rec.family,
        developer=dev.name if dev is not None else None,
        legal_entity=_known(dev.legal_name.value) if dev is not None else None,
        country=_known(dev.country.value) if dev is not None else None,
        licence=_known(rec.licence.name.value),
    )


# ---------------------------------------------------------------- alternatives


def _as_record(alt: Alternative) -> ModelRecord:
    """An alternative as the policy would see it served: developer, country, licence, base
    (developer and country, from the attribution engine for the exact tag), capabilities."""
    att = attribute_name(alt.name)
    base = att.base if att.family == alt.family else None
    return ModelRecord(
        name=alt.name,
        developer=alt.developer,
        country=alt.country,
        licence=alt.licence,
        base=base,
        capabilities=list(alt.capabilities),
    )


def policy_alternatives(
    name: str, policy: Policy, n: int = TOP_N
) -> tuple[list[Alternative], list[str], str | None]:
    """The `n` closest alternatives to `name` that the policy allows: (alternatives, the
    countries excluded, a note when there are fewer than `n`)."""
    excluded = denied_countries(policy)
    ranked = top_alternatives(name, exclude_countries=excluded, n=_POOL)
    if not ranked:
        return [], excluded, "no comparable open model in the catalog"
    kept = [a for a in ranked if not check_model(policy, _as_record(a))]
    if not kept:
        return [], excluded, "no comparable open model in the catalog passes this policy"
    note = None
    if len(kept) < n:
        note = f"only {len(kept)} comparable open model(s) in the catalog pass this policy"
    return kept[:n], excluded, note


class _Advisor:
    """Cards and alternatives, computed once per model name."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._cards: dict[tuple[str, ...], tuple[str, CardSummary]] = {}
        self._alts: dict[str, tuple[list[Alternative], list[str], str | None]] = {}

    def card(self, names: Sequence[str]) -> tuple[str, CardSummary]:
        """The card of the first name the catalog attributes (else of the first name), and
        the name it was made for."""
        key = tuple(names)
        if key not in self._cards:
            first: tuple[str, CardSummary] | None = None
            for name in names:
                summary = summarize_card(model_card(name))
                if summary.status == "attributed":
                    first = (name, summary)
                    break
                first = first or (name, summary)
            assert first is not None, "a denied model has a name"
            self._cards[key] = first
        return self._cards[key]

    def alternatives(
        self, name: str, card: CardSummary
    ) -> tuple[list[Alternative], list[str], str | None]:
        if card.status != "attributed":
            why = "ambiguous name" if card.status == "ambiguous" else "not in the catalog"
            return [], denied_countries(self.policy), f"{why}: no alternatives proposed"
        if name not in self._alts:
            self._alts[name] = policy_alternatives(name, self.policy)
        return self._alts[name]

    def entry(self, names: Sequence[str], violations: list[Violation], **where: Any) -> DeniedModel:
        query, card = self.card(names)
        alts, excluded, note = self.alternatives(query, card)
        rules = list(dict.fromkeys(v.rule for v in violations))
        return DeniedModel(
            model=names[0],
            rule=rules[0],
            rules=rules,
            reasons=[Reason(rule=v.rule, message=v.message) for v in violations],
            card=card,
            alternatives=alts,
            alternatives_excluding=excluded,
            alternatives_note=note,
            **where,
        )


# ---------------------------------------------------------------- scans


def _pairs(source: object) -> list[tuple[ServiceObservation, Sequence[Any]]]:
    services: Any = getattr(source, "services", source)
    out: list[tuple[ServiceObservation, Sequence[Any]]] = []
    for item in services:
        if isinstance(item, ServiceObservation):
            out.append((item, []))
        else:
            obs, findings = item
            out.append((obs, findings))
    return out


def denied_models(
    source: Any, policy: Policy, violations: Iterable[Violation] | None = None
) -> list[DeniedModel]:
    """Every (service, model) the policy's model rules deny, in service order.

    `source` is an `Assessed`, or (observation, findings) pairs, or observations. The policy
    is applied as `aicensus policy check` applies it (identified services, inside `scope`).
    `violations` may pass check_policy's result when the caller has it already.
    """
    pairs = _pairs(source)
    if violations is None:
        violations = check_policy(policy, pairs)
    models = {(o.ip, o.port): o for o, _ in pairs}
    grouped: dict[tuple[str, int, str], list[Violation]] = {}
    for v in violations:
        if v.model is not None and is_model_rule(v.rule):
            grouped.setdefault((v.ip, v.port, v.model), []).append(v)
    advisor = _Advisor(policy)
    out = []
    for (ip, port, model), vs in grouped.items():
        obs = models.get((ip, port))
        out.append(
            advisor.entry(
                [model],
                vs,
                kind="service",
                ip=ip,
                port=port,
                product=obs.product if obs is not None else vs[0].product,
            )
        )
    return out


def policy_report(source: Any, policy: Policy, file: str | None = None) -> PolicyReport:
    """The policy's verdict on a report's services: all violations, and the denied models."""
    pairs = _pairs(source)
    violations = list(check_policy(policy, pairs))
    return PolicyReport(
        name=policy.name,
        description=policy.description,
        file=file,
        violations=msgspec.to_builtins(violations),
        denied_models=denied_models(pairs, policy, violations),
    )


# ---------------------------------------------------------------- audits


def file_record(m: ModelFile) -> ModelRecord:
    """A model file as the policy judges it: its attribution (developer, country, licence,
    base) and the licence its header declares. A file lists no capabilities."""
    att = m.attribution
    return ModelRecord(
        name=m.name,
        developer=att.developer,
        country=att.country,
        licence=att.licence or m.licence_declared,
        base=att.base,
        guardrails_removed=att.guardrails_removed,
    )


def _file_names(m: ModelFile) -> list[str]:
    """Names to look the file's card up by: its display name, its aliases, then (when the
    header attributed it) family:size and the family."""
    names = [m.name, *m.aliases]
    family = m.attribution.family
    if family:
        size = m.gguf.size_label if m.gguf is not None else None
        size = size or m.parameter_size
        if size:
            names.append(f"{family}:{size.lower()}")
        names.append(family)
    return list(dict.fromkeys(n for n in names if n))


def audit_policy_report(
    result: AuditResult, policy: Policy, file: str | None = None
) -> PolicyReport:
    """The policy's model rules over everything an audit found: the models its services list
    and its model files. Local services and files are this machine's and are judged whatever
    the policy's `scope`; services of network targets only inside `scope`."""
    advisor = _Advisor(policy)
    violations: list[dict[str, Any]] = []
    denied: list[DeniedModel] = []

    def record(kind: str, subject: str, vs: list[Violation]) -> None:
        for v in vs:
            violations.append({
                "kind": kind, "subject": subject, "model": v.model, "rule": v.rule,
                "message": v.message, "evidence": list(v.evidence),
            })  # fmt: skip

    for s in result.services:
        if result.mode != "local" and not in_scope(policy, s.ip):
            continue
        for m in s.observation.models:
            vs = check_model(policy, m, ip=s.ip, port=s.port, product=s.product)
            if vs:
                record("service", f"{s.ip}:{s.port}", vs)
                denied.append(advisor.entry([m.name], vs, kind="service", ip=s.ip,
                                            port=s.port, product=s.product))  # fmt: skip
    for f in result.files:
        vs = check_model(policy, file_record(f))
        if vs:
            record("file", f.path, vs)
            denied.append(advisor.entry(_file_names(f), vs, kind="file", path=f.path))
    return PolicyReport(
        name=policy.name,
        description=policy.description,
        file=file,
        violations=violations,
        denied_models=denied,
    )


# ---------------------------------------------------------------- terminal


def _t(value: object, limit: int = 160) -> str:
    from aicensus.assess import redact_secrets
    from aicensus.report.text import terminal_safe

    return terminal_safe(redact_secrets("" if value is None else str(value)), limit)


def _who(name: str | None, country: str | None) -> str:
    return f"{_t(name or 'unknown', 60)} ({_t(country or '??', 8)})"


def card_lines(card: CardSummary, indent: str = "    ") -> list[str]:
    """The card summary as short terminal lines."""
    pad = indent + " " * 18
    if card.family is None:
        return [f"{indent}{'card':<18}{_t(card.message or card.status, 200)}"]
    lines = [f"{indent}{'developer':<18}{_who(card.developer, card.country)}"]
    if card.status != "attributed":
        lines.append(f"{pad}{_t(card.message or card.status, 200)}")
    if card.legal_entity:
        lines.append(f"{indent}{'legal entity':<18}{_t(card.legal_entity, 200)}")
    licence = card.licence or "unknown"
    cls = f" ({card.licence_class})" if card.licence_class else ""
    lines.append(f"{indent}{'licence':<18}{_t(licence, 80)}{cls}")
    lines.extend(f"{pad}- {_t(r, 160)}" for r in card.restrictions)
    for item in card.restriction_lists:
        lines.append(f"{indent}{'restriction list':<18}{_t(item, 200)}")
    for item in card.advisories:
        lines.append(f"{indent}{'advisory':<18}{_t(item, 200)}")
    if card.guardrails_removed:
        lines.append(f"{indent}{'guardrails':<18}removed")
    if card.base is not None:
        b = card.base
        lines.append(f"{indent}{'base model':<18}{_t(b.name, 80)}: {_who(b.developer, b.country)}")
    if card.sources:
        more = f" (+{len(card.sources) - 2})" if len(card.sources) > 2 else ""
        lines.append(
            f"{indent}{'sources':<18}{'; '.join(_t(x, 100) for x in card.sources[:2])}{more}"
        )
    return lines


def write_denied_table(out: Any, report: PolicyReport) -> None:
    """The "models your policy denies" block of the table outputs."""
    denied = report.denied_models
    n = len(denied)
    head = f"Models your policy denies (policy {_t(report.name, 80)}: "
    head += f"{n} model{'s' if n != 1 else ''}, {len(report.violations)} violation"
    head += "s)" if len(report.violations) != 1 else ")"
    out.write(head + "\n")
    if not denied:
        out.write("    none\n")
        return
    for d in denied:
        out.write(f"{_t(d.where, 120)}  {_t(d.model, 60)}\n")
        for reason in d.reasons:
            out.write(f"    {'denied':<18}[{reason.rule}] {_t(reason.message, 160)}\n")
        for line in card_lines(d.card):
            out.write(line + "\n")
        excluding = (
            f" (excluding {_t(', '.join(d.alternatives_excluding), 80)})"
            if d.alternatives_excluding
            else ""
        )
        if not d.alternatives:
            out.write(f"    {'alternatives':<18}none{excluding}: {_t(d.alternatives_note, 120)}\n")
            continue
        out.write(f"    alternatives{excluding}\n")
        for i, a in enumerate(d.alternatives, 1):
            out.write(
                f"      {i}. {_t(a.name, 40)}  {_who(a.developer, a.country)}  "
                f"{_t(a.licence or 'licence unknown', 60)}  closeness {a.closeness:.2f}\n"
                f"         {_t(a.reason, 200)}\n"
            )
        if d.alternatives_note:
            out.write(f"      ({_t(d.alternatives_note, 120)})\n")


__all__ = [
    "BaseSummary",
    "CardSummary",
    "DeniedModel",
    "PolicyReport",
    "Reason",
    "audit_policy_report",
    "denied_models",
    "file_record",
    "policy_alternatives",
    "policy_report",
    "summarize_card",
    "write_denied_table",
]
