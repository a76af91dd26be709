"""Version ordering for the CVE range table: PEP 440, or build numbers for llama.cpp."""

from __future__ import annotations

import re

from packaging.version import InvalidVersion, Version

_BUILD = re.compile(r"^\s*b?(\d+)(?:[-\s(].*)?$")
# Development builds report placeholder versions that would match every "< x" range.
_PLACEHOLDERS = {"0.0.0", "0.0.0-dev", "dev", "unknown", ""}


def parse_version(scheme: str, text: str | None) -> Version | None:
    """A comparable version, or None when the text cannot be ordered (never raises).

    - pep440: "0.1.30", "v0.12.6-rc1", "0.11.0+cu124" (a leading v is dropped);
    - llamacpp-build: "b6000-abcdef12", "b6000", "6000 (abcdef12)" → 6000.
    """
    if text is None:
        return None
    value = text.strip()
    if value.lower() in _PLACEHOLDERS:
        return None
    if scheme == "llamacpp-build":
        m = _BUILD.match(value)
        return Version(m.group(1)) if m else None
    if scheme == "pep440":
        try:
            return Version(value[1:] if value[:1] in "vV" else value)
        except InvalidVersion:
            return None
    raise ValueError(f"unknown version scheme {scheme!r}")


def in_range(
    version: Version, introduced: Version | None, fixed: Version | None, last: Version | None
) -> bool:
    """introduced <= version < fixed (or <= last_affected); a missing bound is open."""
    if introduced is not None and version < introduced:
        return False
    if fixed is not None:
        return version < fixed
    if last is not None:
        return version <= last
    return True
