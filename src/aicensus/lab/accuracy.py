"""Compare a scan of the lab with the lab's ground truth: precision and recall per product,
auth-state accuracy, honeypot and decoy handling, and every mismatch.

    report = compare(lab.ground_truth(), observations)
    print(render(report))

An observation is matched to a ground-truth entry by (address, port). A product counts
as reported when the observation's status is `identified`; a decoy is handled right when
no product is reported for it (and the honeypot comes out `suspected-honeypot`). A real
product the honeypot classifier (assess/honeypot.py) names `honeypot` is a mismatch too;
one it finds `suspicious` is counted apart.
Observations at addresses of the lab with no ground-truth entry count as false positives
if they report a product; observations outside the lab's addresses are listed apart.
A real product whose start failed (its ground-truth entry carries `failed`) is a miss of
its own kind, `failed`, with the reason: counted in recall, never dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aicensus.assess.honeypot import HONEYPOT as NAMED
from aicensus.assess.honeypot import SUSPICIOUS, host_verdict
from aicensus.records import ServiceObservation

IDENTIFIED = "identified"
HONEYPOT = "suspected-honeypot"


@dataclass
class Mismatch:
    name: str
    address: str
    port: int
    what: str  # product | auth | version | honeypot | decoy | unexpected | failed
    expected: object
    got: object
    detail: str = ""

    def line(self) -> str:
        where = f"{self.address}:{self.port}"
        extra = f"  ({self.detail})" if self.detail else ""
        return f"{self.what:<10} {self.name:<28} {where:<20} expected {self.expected!s:<22} got {self.got!s}{extra}"


@dataclass
class ProductScore:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


@dataclass
class Report:
    products: dict[str, ProductScore] = field(default_factory=dict)
    auth_checked: int = 0
    auth_correct: int = 0
    decoys: int = 0
    decoys_correct: int = 0
    honeypots: int = 0
    honeypots_flagged: int = 0
    # Real products the honeypot classifier finds suspicious, by service name.
    products_suspicious: list[str] = field(default_factory=list)
    mismatches: list[Mismatch] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    services: int = 0
    failed: list[str] = field(default_factory=list)  # services that failed to start
    # Versions, among correctly identified services whose version the lab knows: named
    # right, or not named (a product that hides it, e.g. behind its login). A wrong one is
    # a mismatch.
    versions_right: int = 0
    versions_unnamed: list[str] = field(default_factory=list)

    @property
    def overall(self) -> ProductScore:
        total = ProductScore()
        for score in self.products.values():
            total.tp += score.tp
            total.fp += score.fp
            total.fn += score.fn
        return total

    @property
    def auth_accuracy(self) -> float:
        return self.auth_correct / self.auth_checked if self.auth_checked else 1.0

    @property
    def perfect(self) -> bool:
        return not self.mismatches

    def as_dict(self) -> dict[str, Any]:
        o = self.overall
        return {
            "services": self.services,
            "overall": {
                "tp": o.tp,
                "fp": o.fp,
                "fn": o.fn,
                "precision": o.precision,
                "recall": o.recall,
            },
            "products": {
                p: {
                    "tp": s.tp,
                    "fp": s.fp,
                    "fn": s.fn,
                    "precision": s.precision,
                    "recall": s.recall,
                }
                for p, s in sorted(self.products.items())
            },
            "auth": {
                "checked": self.auth_checked,
                "correct": self.auth_correct,
                "accuracy": self.auth_accuracy,
            },
            "decoys": {"total": self.decoys, "correct": self.decoys_correct},
            "honeypots": {
                "total": self.honeypots,
                "flagged": self.honeypots_flagged,
                "products_suspicious": self.products_suspicious,
            },
            "versions": {"right": self.versions_right, "not_named": self.versions_unnamed},
            "failed_to_start": self.failed,
            "mismatches": [m.__dict__ for m in self.mismatches],
            "outside_lab": self.outside,
        }


def _get(obs: Any, key: str) -> Any:
    if isinstance(obs, Mapping):
        return obs.get(key)
    value = getattr(obs, key, None)
    return getattr(value, "value", value)


def compare(truth: Sequence[Mapping[str, Any]], observations: Iterable[Any]) -> Report:
    report = Report(services=len(truth))
    by_key = {(str(t["address"]), int(t["port"])): t for t in truth}
    lab_addresses = {str(t["address"]) for t in truth}
    seen: set[tuple[str, int]] = set()
    for obs in observations:
        key = (str(_get(obs, "ip")), int(_get(obs, "port")))
        status = str(_get(obs, "status"))
        product = _get(obs, "product") if status == IDENTIFIED else None
        entry = by_key.get(key)
        if entry is None:
            if product is None and status != HONEYPOT:
                continue  # nothing listening, or an unidentified answer: not a claim
            if key[0] in lab_addresses:
                report.products.setdefault(str(product), ProductScore()).fp += 1 if product else 0
                report.mismatches.append(
                    Mismatch(
                        "(not in the lab)", key[0], key[1], "unexpected", None, product or status
                    )
                )
            else:
                report.outside.append(f"{key[0]}:{key[1]} {status} {product or ''}".strip())
            continue
        seen.add(key)
        if entry.get("failed") and product is None:
            _failed_start(report, entry)  # nothing answers there: not the scanner's miss
            continue
        _score(report, entry, status, product, _get(obs, "auth"), _evidence(obs))
        if entry.get("product") is not None and product == entry.get("product"):
            _judge(report, entry, _verdict(obs))
            _version(report, entry, _get(obs, "version"))
    for key, entry in by_key.items():
        if key in seen:
            continue
        if entry.get("failed"):
            _failed_start(report, entry)
        else:
            _score(report, entry, "not-scanned", None, None, "no observation")
    return report


def _failed_start(report: Report, entry: Mapping[str, Any]) -> None:
    name, addr, port = str(entry["name"]), str(entry["address"]), int(entry["port"])
    report.failed.append(name)
    expected = entry.get("product")
    if expected is not None:
        report.products.setdefault(str(expected), ProductScore()).fn += 1
    report.mismatches.append(
        Mismatch(name, addr, port, "failed", expected, "failed to start", str(entry["failed"]))
    )


def _verdict(obs: Any) -> str:
    """The honeypot classifier's verdict on one observation (an object or its JSON)."""
    if isinstance(obs, ServiceObservation):
        return host_verdict(obs).verdict
    judged = obs.get("honeypot") if isinstance(obs, Mapping) else None
    return str(judged.get("verdict")) if isinstance(judged, Mapping) else "none"


def _judge(report: Report, entry: Mapping[str, Any], verdict: str) -> None:
    if verdict == SUSPICIOUS:
        report.products_suspicious.append(str(entry["name"]))
    elif verdict == NAMED:
        name, addr, port = str(entry["name"]), str(entry["address"]), int(entry["port"])
        report.mismatches.append(
            Mismatch(name, addr, port, "honeypot", "a real product", "named honeypot")
        )


def _plain(version: object) -> str:
    return str(version).strip().removeprefix("v").removeprefix("V")


def _version(report: Report, entry: Mapping[str, Any], got: object) -> None:
    want = entry.get("version")
    if not want:
        return
    if not got:
        report.versions_unnamed.append(str(entry["name"]))
    elif _plain(got) == _plain(want):
        report.versions_right += 1
    else:
        name, addr, port = str(entry["name"]), str(entry["address"]), int(entry["port"])
        report.mismatches.append(Mismatch(name, addr, port, "version", want, got))


def _evidence(obs: Any) -> str:
    err = _get(obs, "error")
    return str(err) if err else ""


def _score(
    report: Report,
    entry: Mapping[str, Any],
    status: str,
    product: str | None,
    auth: str | None,
    detail: str,
) -> None:
    name, addr, port = str(entry["name"]), str(entry["address"]), int(entry["port"])
    expected = entry.get("product")
    honeypot = bool(entry.get("suspected_honeypot"))
    if expected is None:
        if honeypot:
            report.honeypots += 1
            if status == HONEYPOT:
                report.honeypots_flagged += 1
            else:
                report.mismatches.append(
                    Mismatch(name, addr, port, "honeypot", HONEYPOT, product or status, detail)
                )
        else:
            report.decoys += 1
            if product is None and status != HONEYPOT:
                report.decoys_correct += 1
            else:
                report.mismatches.append(
                    Mismatch(name, addr, port, "decoy", "no product", product or status, detail)
                )
        if product is not None:
            report.products.setdefault(product, ProductScore()).fp += 1
        return
    score = report.products.setdefault(str(expected), ProductScore())
    if product == expected:
        score.tp += 1
        want = entry.get("auth")
        if want is not None:
            report.auth_checked += 1
            if auth == want:
                report.auth_correct += 1
            else:
                report.mismatches.append(Mismatch(name, addr, port, "auth", want, auth, detail))
        return
    score.fn += 1
    if product is not None:
        report.products.setdefault(product, ProductScore()).fp += 1
    report.mismatches.append(
        Mismatch(name, addr, port, "product", expected, product or status, detail)
    )


def _named(names: Sequence[str]) -> str:
    """` (a, b)` after a count, or nothing."""
    return f" ({', '.join(names)})" if names else ""


def render(report: Report) -> str:
    lines = [f"{'product':<24} {'tp':>3} {'fp':>3} {'fn':>3} {'precision':>10} {'recall':>8}"]
    for name, s in sorted(report.products.items()):
        lines.append(
            f"{name:<24} {s.tp:>3} {s.fp:>3} {s.fn:>3} {s.precision:>10.1%} {s.recall:>8.1%}"
        )
    o = report.overall
    lines.append(
        f"{'OVERALL':<24} {o.tp:>3} {o.fp:>3} {o.fn:>3} {o.precision:>10.1%} {o.recall:>8.1%}"
    )
    lines.append("")
    lines.append(
        f"auth state: {report.auth_correct}/{report.auth_checked} correct "
        f"({report.auth_accuracy:.1%}) among correctly identified services"
    )
    lines.append(
        f"versions: {report.versions_right} right, {sum(m.what == 'version' for m in report.mismatches)}"
        f" wrong, {len(report.versions_unnamed)} not named{_named(report.versions_unnamed)}"
        " among identified services whose version the lab knows"
    )  # fmt: skip
    lines.append(f"decoys: {report.decoys_correct}/{report.decoys} reported as no product")
    lines.append(
        f"honeypots: {report.honeypots_flagged}/{report.honeypots} suspected-honeypot; "
        f"real products found suspicious: {len(report.products_suspicious)}"
        f"{_named(report.products_suspicious)}"
    )
    if report.failed:
        lines.append(f"failed to start (counted as missed): {', '.join(report.failed)}")
    lines.append(f"mismatches: {len(report.mismatches)}")
    lines += ["  " + m.line() for m in report.mismatches]
    if report.outside:
        lines.append(f"outside the lab's addresses (ignored): {len(report.outside)}")
        lines += ["  " + o for o in report.outside]
    return "\n".join(lines)
