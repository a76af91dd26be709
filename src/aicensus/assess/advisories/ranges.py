"""OSV range evaluation (https://ossf.github.io/osv-schema/#affectedranges-field).

A version is affected when it is listed in `versions`, or when some range's events place it in
an affected interval: events are sorted by version; `introduced` opens an interval, `fixed`
closes it before that version, `last_affected` closes it after, and `limit` bounds the whole
range from above. "0" as `introduced` means "from the beginning".

`evaluate` answers True (affected), False (not affected) or None (this entry cannot be judged
for this version: a GIT range of commit hashes, or boundaries the product's versions cannot be
compared with). GIT ranges are judged only where their events are build tags (llama.cpp's
"b4000" tags, under the "llamacpp-build" scheme).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from packaging.version import Version

from aicensus.assess.advisories.versions import parse

_ORDER = {"introduced": 0, "fixed": 1, "last_affected": 2, "limit": 3}
_ZERO = Version("0")


def _parsed(
    events: Sequence[Mapping[str, str]], scheme: str
) -> list[tuple[str, Version | None]] | None:
    """(kind, version) per event, None standing for introduced "0" (before every version);
    None overall when an event is malformed or its version unparseable."""
    out: list[tuple[str, Version | None]] = []
    for event in events:
        if not isinstance(event, Mapping) or len(event) != 1:
            return None
        kind, raw = next(iter(event.items()))
        value = str(raw)  # a record from `update --from` may carry numbers
        if kind not in _ORDER:
            return None
        if kind == "limit" and "*" in value:
            continue  # "*" is infinity: no limit at all
        if kind == "introduced" and value == "0":
            out.append((kind, None))
            continue
        v = _boundary(scheme, value)
        if v is None:
            return None
        out.append((kind, v))
    return out


def _boundary(scheme: str, value: str) -> Version | None:
    """A range boundary. "0.0.0" is a placeholder as a reported version (versions.parse) but a
    real boundary in a record (an aggregator's "version >= 0.0.0"): the first version of all."""
    v = parse(scheme, value)
    if v is None and scheme != "llamacpp-build" and value.strip() == "0.0.0":
        return _ZERO
    return v


def in_events(
    version: Version, events: Sequence[Mapping[str, str]], scheme: str, exclusive: bool = False
) -> bool | None:
    """The spec's IncludedInRanges for one range (BeforeLimits, then the sorted timeline).

    `exclusive` makes a non-zero `introduced` exclude its own version (an aggregator's "> x").
    None when a boundary cannot be parsed.
    """
    parsed = _parsed(events, scheme)
    if parsed is None:
        return None
    limits = [v for kind, v in parsed if kind == "limit" and v is not None]
    if limits and not any(version < v for v in limits):
        return False
    vulnerable = False
    # "0" sorts before any version; on equal versions introduced goes first.
    for kind, at in sorted(parsed, key=lambda e: (e[1] is not None, e[1] or _ZERO, _ORDER[e[0]])):
        if at is None or (
            kind == "introduced" and (version > at or (version == at and not exclusive))
        ):
            vulnerable = True
        elif (kind == "fixed" and version >= at) or (kind == "last_affected" and version > at):
            vulnerable = False
    return vulnerable


def evaluate(affected: Mapping[str, Any], version: Version, raw: str, scheme: str) -> bool | None:
    """Is `version` (printed as `raw`) affected by one OSV `affected` entry?"""
    for listed in affected.get("versions") or ():
        if str(listed) == raw or parse(scheme, str(listed)) == version:
            return True
    ranges = affected.get("ranges") or ()
    if not ranges:
        return False if affected.get("versions") else None
    undecided = False
    # A record giving both numbered and commit ranges describes one fix twice: the numbered
    # ranges decide. Commit ranges alone cannot be judged from a version (except build tags).
    numbered = any(isinstance(r, Mapping) and r.get("type") != "GIT" for r in ranges)
    for rng in ranges:
        if not isinstance(rng, Mapping) or not isinstance(rng.get("events"), list):
            undecided = True  # malformed: judged as "cannot tell", never as "not affected"
            continue
        kind = rng.get("type")
        if kind == "GIT" and scheme != "llamacpp-build":
            undecided = undecided or not numbered
            continue
        exclusive = bool((rng.get("database_specific") or {}).get("introduced_exclusive"))
        verdict = in_events(version, rng.get("events") or (), scheme, exclusive)
        if verdict:
            return True
        if verdict is None:
            undecided = True
    return None if undecided else False
