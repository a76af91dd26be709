"""Evaluate signatures over recorded exchanges: pure functions, no network."""

from __future__ import annotations

import re
from collections.abc import Mapping

import msgspec

from aicensus.fingerprint.schema import Conditions, Extractor, Signature
from aicensus.records import AuthState, Evidence, Exchange

Exchanges = Mapping[str, Exchange]  # probe id → exchange


class MatchResult(msgspec.Struct, kw_only=True):
    signature: Signature
    score: float
    matched: bool
    evidence: list[Evidence]
    fired: frozenset[str] = frozenset()  # names of the matchers that held


def json_values(doc: object, path: str) -> list[object]:
    """Every value at a dotted path; `key[]` descends into each item of a list."""
    current: list[object] = [doc]
    for part in path.split("."):
        each = part.endswith("[]")
        key = part[:-2] if each else part
        nxt: list[object] = []
        for node in current:
            if isinstance(node, dict) and key in node:
                value = node[key]
                if each and isinstance(value, list):
                    nxt.extend(value)
                elif not each:
                    nxt.append(value)
        current = nxt
    return current


def _header(ex: Exchange, name: str) -> str | None:
    return ex.header(name)


def conditions_hold(cond: Conditions, ex: Exchange) -> bool:
    if ex.status is None:
        return False
    return all(check(cond, ex) for check in _CHECKS)


def _status(c: Conditions, ex: Exchange) -> bool:
    return c.status is None or ex.status in c.status


def _headers(c: Conditions, ex: Exchange) -> bool:
    for name, needle in (c.header or {}).items():
        value = _header(ex, name)
        if value is None or needle.lower() not in value.lower():
            return False
    for name, pattern in (c.header_regex or {}).items():
        value = _header(ex, name)
        if value is None or re.search(pattern, value) is None:
            return False
    return all(_header(ex, name) is None for name in c.header_absent or ())


def _body(c: Conditions, ex: Exchange) -> bool:
    if not (c.body_contains or c.body_any or c.body_regex or c.body_prefix):
        return True
    text = ex.text()
    if c.body_contains and not all(s in text for s in c.body_contains):
        return False
    if c.body_any and not any(s in text for s in c.body_any):
        return False
    if c.body_prefix and not text.lstrip().startswith(c.body_prefix):
        return False
    return not (c.body_regex and re.search(c.body_regex, text) is None)


def _json(c: Conditions, ex: Exchange) -> bool:
    if not (c.json_keys or c.json_equals):
        return True
    doc = ex.json()
    if doc is None:
        return False
    if c.json_keys and not all(json_values(doc, path) for path in c.json_keys):
        return False
    return all(value in json_values(doc, path) for path, value in (c.json_equals or {}).items())


_CHECKS = (_status, _headers, _body, _json)


def probe_label(sig: Signature, probe_id: str) -> str:
    probe = sig.probes[probe_id]
    return f"{probe.method} {probe.path}"


def evaluate(sig: Signature, exchanges: Exchanges) -> MatchResult:
    fired: set[str] = set()
    evidence: list[Evidence] = []
    score = 0.0
    for m in sig.matchers:
        ex = exchanges.get(m.probe)
        if ex is None or not conditions_hold(m, ex):
            continue
        if any(conditions_hold(block, ex) for block in m.not_):
            continue
        fired.add(m.name)
        score += m.weight
        evidence.append(
            Evidence(
                kind="match",
                probe=probe_label(sig, m.probe),
                marker=f"{m.name}: {m.why}",
                weight=m.weight,
            )
        )
    score = min(1.0, round(score, 3))
    matched = score >= sig.threshold and all(r in fired for r in sig.require)
    return MatchResult(
        signature=sig, score=score, matched=matched, evidence=evidence, fired=frozenset(fired)
    )


def extract_version(sig: Signature, exchanges: Exchanges) -> tuple[str | None, Evidence | None]:
    for ex_spec in sig.version:
        ex = exchanges.get(ex_spec.probe)
        if ex is None or ex.status is None or not 200 <= ex.status < 300:
            continue
        value = _extract(ex_spec, ex)
        if value:
            ev = Evidence(
                kind="version",
                probe=probe_label(sig, ex_spec.probe),
                marker=_describe_extractor(ex_spec),
            )
            return value[:100], ev
    return None, None


def _extract(spec: Extractor, ex: Exchange) -> str | None:
    if spec.json is not None:
        doc = ex.json()
        values = json_values(doc, spec.json) if doc is not None else []
        first = next((v for v in values if isinstance(v, str | int | float) and v != ""), None)
        text = None if first is None else str(first)
        if text is not None and spec.regex:
            found = re.search(spec.regex, text)
            return found.group(1) if found else None
        return text
    source = _header(ex, spec.header) if spec.header else ex.text()
    if source is None:
        return None
    if spec.regex is None:
        return source.strip() or None
    found = re.search(spec.regex, source)
    return found.group(1) if found else None


def _describe_extractor(spec: Extractor) -> str:
    if spec.json:
        return f"json {spec.json}"
    return f"header {spec.header}" if spec.header else f"body /{spec.regex}/"


def auth_state(sig: Signature, exchanges: Exchanges) -> tuple[AuthState, list[Evidence]]:
    """open / auth_required / partial from the gate probes, with the statuses as evidence."""
    if sig.auth is None:
        return AuthState.UNKNOWN, []
    spec = sig.auth
    evidence: list[Evidence] = []
    verdicts: list[str] = []
    for pid in spec.gate:
        ex = exchanges.get(pid)
        if ex is None or ex.status is None:
            continue
        verdict = _verdict(spec.protected, spec.open, ex)
        verdicts.append(verdict)
        evidence.append(_auth_evidence(sig, pid, ex, verdict))
    declared = _declared_open(sig, exchanges)
    if declared:
        return AuthState.OPEN, evidence + declared
    if not verdicts or set(verdicts) == {"unknown"}:
        return AuthState.UNKNOWN, evidence
    if all(v == "open" for v in verdicts if v != "unknown"):
        return AuthState.OPEN, evidence
    if any(v == "open" for v in verdicts):
        return AuthState.PARTIAL, evidence
    for pid in spec.bypass:
        ex = exchanges.get(pid)
        if ex is not None and ex.status is not None and conditions_hold(spec.open, ex):
            evidence.append(_auth_evidence(sig, pid, ex, "open despite the gate"))
            return AuthState.PARTIAL, evidence
    unanswered = _unanswered_declarations(sig, exchanges)
    if unanswered:
        # Where the product refuses signed-out callers even with its login off (Open WebUI
        # WEBUI_AUTH=False), only its own statement tells the two apart: without an answer
        # (a fresh Open WebUI under load timed out), the refusals prove nothing.
        return AuthState.UNKNOWN, evidence + unanswered
    return AuthState.AUTH_REQUIRED, evidence


def _declared_open(sig: Signature, exchanges: Exchanges) -> list[Evidence]:
    """The product's own public statement that its login is off (AuthSpec.declared_open)."""
    assert sig.auth is not None
    found: list[Evidence] = []
    for decl in sig.auth.declared_open:
        ex = exchanges.get(decl.probe)
        if ex is not None and ex.status is not None and conditions_hold(decl, ex):
            marker = f"{decl.name}: {decl.why}"
            found.append(Evidence(kind="auth", probe=probe_label(sig, decl.probe), marker=marker))
    return found


def _unanswered_declarations(sig: Signature, exchanges: Exchanges) -> list[Evidence]:
    """The auth.declared_open probes that were sent and got no answer (timeout, reset)."""
    assert sig.auth is not None
    found: list[Evidence] = []
    for decl in sig.auth.declared_open:
        ex = exchanges.get(decl.probe)
        if ex is not None and ex.status is None:
            marker = f"{decl.name}: no answer ({ex.error or 'failed'}) → auth undetermined"
            found.append(Evidence(kind="auth", probe=probe_label(sig, decl.probe), marker=marker))
    return found


def _verdict(protected: Conditions, open_: Conditions, ex: Exchange) -> str:
    if conditions_hold(protected, ex):
        return "protected"
    if conditions_hold(open_, ex):
        return "open"
    return "unknown"


def _auth_evidence(sig: Signature, pid: str, ex: Exchange, verdict: str) -> Evidence:
    marker = f"status {ex.status} → {verdict}"
    challenge = ex.header("WWW-Authenticate")
    if challenge:
        marker += f"; WWW-Authenticate: {challenge[:120]}"
    return Evidence(kind="auth", probe=probe_label(sig, pid), marker=marker)
