"""Load and validate every signature file shipped in aicensus/signatures/."""

from __future__ import annotations

import functools
import importlib.resources
import re
from collections.abc import Sequence
from pathlib import Path

import msgspec
import yaml

from aicensus.engine import readonly
from aicensus.errors import ReadOnlyViolation, SignatureError
from aicensus.fingerprint.schema import Signature, validate_knowledge, validate_references
from aicensus.records import ProbeRequest

# libyaml's parser where PyYAML was built with it: the same documents, ~10x faster (loading
# the 104 built-in signatures was ~1 s of every scan process's start).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_signature(text: str, source: str) -> Signature:
    """Parse one signature file's text; errors name the file and the field."""
    try:
        raw = yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        raise SignatureError(f"{source}: not valid YAML: {_one_line(exc)}") from None
    if not isinstance(raw, dict):
        raise SignatureError(f"{source}: expected a mapping at the top level")
    raw.pop("cases", None)  # fixtures live beside the signature; the tests read them
    try:
        sig = msgspec.convert(raw, Signature)
    except msgspec.ValidationError as exc:
        raise SignatureError(f"{source}: {exc}") from None
    problems = []  # a write comes first: it is the problem that matters most
    for pid, probe in sig.probes.items():
        try:
            readonly.check(to_request(probe.method, probe.path, probe.json), product=sig.id)
        except ReadOnlyViolation as exc:
            problems.append(f"probes.{pid}: {exc}")
    problems += validate_references(sig)
    stem = Path(source).stem
    if stem != sig.id:
        problems.append(f"id: {sig.id!r} differs from the file name {stem!r}")
    for pattern in _regexes(sig):
        try:
            re.compile(pattern)
        except re.error as exc:
            problems.append(f"regex {pattern!r}: {exc}")
    problems += validate_knowledge(sig)
    if problems:
        raise SignatureError(f"{source}: {problems[0]}")
    return sig


def to_request(method: str, path: str, body: dict[str, object] | None) -> ProbeRequest:
    return ProbeRequest(method=method, path=path, json_body=body)


def _regexes(sig: Signature) -> list[str]:
    found: list[str] = []
    for m in sig.matchers:
        for cond in (m, *m.not_):
            if cond.body_regex:
                found.append(cond.body_regex)
            found += list((cond.header_regex or {}).values())
    found += [ex.regex for ex in sig.version if ex.regex]
    return found


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


def load_directory(path: Path) -> list[Signature]:
    sigs = [
        parse_signature(p.read_text(encoding="utf-8"), str(p)) for p in sorted(path.glob("*.yaml"))
    ]
    _check_unique(sigs)
    return sigs


@functools.cache
def builtin_signatures() -> tuple[Signature, ...]:
    root = importlib.resources.files("aicensus") / "signatures"
    sigs = []
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            sigs.append(parse_signature(entry.read_text(encoding="utf-8"), entry.name))
    _check_unique(sigs)
    return tuple(sigs)


def _check_unique(sigs: list[Signature]) -> None:
    seen: set[str] = set()
    services: set[str] = set()
    for sig in sigs:
        if sig.id in seen:
            raise SignatureError(f"two signature files claim the product {sig.id!r}")
        seen.add(sig.id)
        for launch in sig.lab.real if sig.lab else []:
            if launch.name in services:
                raise SignatureError(f"{sig.id}: lab service {launch.name!r} named twice")
            services.add(launch.name)


def product_ids(sigs: Sequence[Signature] | None = None) -> tuple[str, ...]:
    """Every product the scanner knows: one per signature file (the built-in ones by default)."""
    return tuple(sig.id for sig in (builtin_signatures() if sigs is None else sigs))


def product_names(sigs: Sequence[Signature] | None = None) -> dict[str, str]:
    """Product id → display name."""
    return {sig.id: sig.name for sig in (builtin_signatures() if sigs is None else sigs)}


def ai_ports(sigs: Sequence[Signature] | None = None) -> list[int]:
    """The `ai` port preset: every default port of every supported product."""
    sigs = builtin_signatures() if sigs is None else sigs
    return sorted({port for sig in sigs for port in sig.ports})
