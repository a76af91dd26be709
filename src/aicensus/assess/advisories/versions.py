"""Versions as products print them, made comparable.

Two orderings:
- "pep440": PEP 440 via `packaging`, which also orders SemVer and Go tags once normalised:
  "v0.8.5.post1", "0.6.2-rc1", "0.11.0+cu124", "1.2.3-beta.1", Docker-style suffixes
  ("0.5.1-rocm", "0.6.0-cuda12") and Go pseudo-versions ("v0.0.0-20240101…-abcdef") are accepted;
- "llamacpp-build": llama.cpp's build numbers ("b6000", "b6000-abcdef12", "6000 (abcdef12)",
  "version: 6000 (abcdef12)").
A placeholder ("0.0.0", "dev", "unknown") is not a version: it would match every range.
"""

from __future__ import annotations

import functools
import re

from packaging.version import InvalidVersion, Version

Scheme = str  # "pep440" | "llamacpp-build"

_PLACEHOLDERS = {"", "0.0.0", "0.0.0-dev", "dev", "unknown", "latest", "main", "none", "null"}
_BUILD = re.compile(r"^(?:version:\s*)?b?(\d+)(?:[-\s(].*)?$", re.I)
_LEAD = re.compile(r"^(?:version\s*[:=]?\s*|v(?=\d))", re.I)
# The release part, then an optional pre/post/dev tail PEP 440 understands; the rest is a
# build or distribution suffix ("-cuda12", "-rocm", "-ubuntu22.04", "-gpu").
_PEPISH = re.compile(
    r"^(\d+(?:\.\d+)*)"
    r"((?:[-_.]?(?:alpha|beta|preview|pre|rc|a|b|c)(?![a-z])[-_.]?\d*)?"
    r"(?:[-_.]?(?:post|rev|r)(?![a-z])[-_.]?\d*)?"
    r"(?:[-_.]?dev(?![a-z])[-_.]?\d*)?)"
    r"(\+[a-z0-9.]+)?",
    re.I,
)
_HEX = re.compile(r"^(?=.*[a-f])[0-9a-f]{7,40}$", re.I)
_PSEUDO = re.compile(r"^(\d+\.\d+\.\d+)-(?:0\.)?(\d{14})-[0-9a-f]{12}$")


@functools.lru_cache(maxsize=65536)
def parse(scheme: Scheme, text: str | None) -> Version | None:
    """A comparable version, or None when the text holds none (never raises)."""
    if text is None:
        return None
    value = text.strip()
    if value.lower() in _PLACEHOLDERS:
        return None
    if scheme == "llamacpp-build":
        m = _BUILD.match(value)
        return Version(m.group(1)) if m else None
    return _pep440(value)


def _pep440(value: str) -> Version | None:
    value = _LEAD.sub("", value)
    pseudo = _PSEUDO.match(value)
    if pseudo:  # Go pseudo-version: a development build before the named release
        return Version(f"{pseudo.group(1)}.dev{pseudo.group(2)}")
    try:
        return Version(value)
    except InvalidVersion:
        pass
    m = _PEPISH.match(value)
    # What follows the version must be a separated suffix ("-rocm"), never more digits or
    # letters glued on: "41bd3645…" is a commit hash, not version 41.
    if not m or (value[m.end() :][:1] not in ("", "-", "_", ".", "+", " ")):
        return None
    if _HEX.match(value):
        return None
    candidates = [m.group(1) + m.group(2) + (m.group(3) or ""), m.group(1) + m.group(2)]
    for candidate in candidates:
        try:
            return Version(candidate)
        except InvalidVersion:
            continue
    return None
