"""Signatures indexed by the request and status each matcher reads (pure, no network).

`identify` evaluates up to 104 signatures several times per target; most of them never
probed what the target was asked, or expect another status. The index maps each request
(method, path, body) to the matchers that read its answer, grouped by the statuses they
accept, so an answer is checked only against the matchers that could hold on it; every
other signature gets the result `evaluate` gives a signature whose matchers all fail.

The result equals `evaluate` signature by signature (tests/fingerprint/test_index.py checks
it on every signature case and on mixed answers); the declarative data is unchanged. Regexes
are compiled once, when a signature is first indexed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aicensus.fingerprint.evaluate import MatchResult, json_values, probe_label
from aicensus.fingerprint.probes import probe_request
from aicensus.fingerprint.schema import Conditions, Matcher, Signature
from aicensus.records import Evidence, Exchange, RequestKey

_CACHE_LIMIT = 256  # distinct signature sets indexed at once (a scan uses a handful)
_ENTRIES_LIMIT = 100_000  # matchers prepared at once (the built-in signatures: a few hundred)
_ANSWERS_LIMIT = 4_096  # distinct answers remembered across targets (oldest dropped first)


class _Answer:
    """One exchange as the matchers read it: text and lower-cased headers, made once."""

    __slots__ = ("_lower", "_text", "ex")

    def __init__(self, ex: Exchange) -> None:
        self.ex = ex
        self._text: str | None = None
        self._lower: dict[str, str] | None = None

    def text(self) -> str:
        if self._text is None:
            self._text = self.ex.text()
        return self._text

    def header(self, lname: str) -> str | None:
        if self._lower is None:  # the first header of each name, as Exchange.header finds it
            lower: dict[str, str] = {}
            for key, value in self.ex.headers.items():
                lower.setdefault(key.lower(), value)
            self._lower = lower
        return self._lower.get(lname)


@dataclass(frozen=True, slots=True)
class _Check:
    """A Conditions block with its regexes compiled and header names lower-cased."""

    status: frozenset[int] | None
    header: tuple[tuple[str, str], ...]  # (lower-cased name, lower-cased needle)
    header_regex: tuple[tuple[str, re.Pattern[str]], ...]
    header_absent: tuple[str, ...]
    body_contains: tuple[str, ...]
    body_any: tuple[str, ...]
    body_prefix: str | None
    body_regex: re.Pattern[str] | None
    json_keys: tuple[str, ...]
    json_equals: tuple[tuple[str, object], ...]

    @classmethod
    def of(cls, c: Conditions) -> _Check:
        return cls(
            status=frozenset(c.status) if c.status is not None else None,
            header=tuple((k.lower(), v.lower()) for k, v in (c.header or {}).items()),
            header_regex=tuple(
                (k.lower(), re.compile(v)) for k, v in (c.header_regex or {}).items()
            ),
            header_absent=tuple(k.lower() for k in c.header_absent or ()),
            body_contains=tuple(c.body_contains or ()),
            body_any=tuple(c.body_any or ()),
            body_prefix=c.body_prefix or None,
            body_regex=re.compile(c.body_regex) if c.body_regex else None,
            json_keys=tuple(c.json_keys or ()),
            json_equals=tuple((c.json_equals or {}).items()),
        )

    def header_names(self) -> set[str]:
        """The (lower-cased) header names this block reads."""
        return (
            {n for n, _ in self.header}
            | {n for n, _ in self.header_regex}
            | set(self.header_absent)
        )

    def holds(self, a: _Answer) -> bool:
        """evaluate.conditions_hold, over a prepared answer."""
        ex = a.ex
        if ex.status is None or (self.status is not None and ex.status not in self.status):
            return False
        for name, needle in self.header:
            value = a.header(name)
            if value is None or needle not in value.lower():
                return False
        for name, pattern in self.header_regex:
            value = a.header(name)
            if value is None or pattern.search(value) is None:
                return False
        if any(a.header(name) is not None for name in self.header_absent):
            return False
        if self.body_contains or self.body_any or self.body_prefix or self.body_regex:
            text = a.text()
            if not all(s in text for s in self.body_contains):
                return False
            if self.body_any and not any(s in text for s in self.body_any):
                return False
            if self.body_prefix and not text.lstrip().startswith(self.body_prefix):
                return False
            if self.body_regex is not None and self.body_regex.search(text) is None:
                return False
        if self.json_keys or self.json_equals:
            doc = ex.json()
            if doc is None:
                return False
            if not all(json_values(doc, path) for path in self.json_keys):
                return False
            return all(value in json_values(doc, path) for path, value in self.json_equals)
        return True


@dataclass(frozen=True, slots=True, eq=False)  # hashed by identity: a Memo's key
class _Entry:
    """One matcher of one signature, ready to check (one per matcher, shared by indexes)."""

    matcher_pos: int
    matcher: Matcher
    check: _Check
    not_: tuple[_Check, ...]
    evidence: Evidence  # the same text evaluate writes; copied for each result

    def fires(self, a: _Answer) -> bool:
        return self.check.holds(a) and not any(block.holds(a) for block in self.not_)

    def header_names(self) -> set[str]:
        return self.check.header_names().union(*(b.header_names() for b in self.not_))


_Slot = tuple[int, _Entry]  # (position of the signature in the index, its matcher)
_ENTRIES: dict[tuple[int, int], tuple[Signature, RequestKey, _Entry]] = {}


def _entry(sig: Signature, mpos: int) -> tuple[RequestKey, _Entry]:
    """The matcher's entry, built once per signature and shared by every index (so a Memo
    serves them all); the stored signature guards against a reused id()."""
    slot = (id(sig), mpos)
    cached = _ENTRIES.get(slot)
    if cached is None or cached[0] is not sig:
        if len(_ENTRIES) >= _ENTRIES_LIMIT:  # signatures loaded again and again: start over
            _ENTRIES.clear()
        m = sig.matchers[mpos]
        evidence = Evidence(
            kind="match", probe=probe_label(sig, m.probe), marker=f"{m.name}: {m.why}",
            weight=m.weight,
        )  # fmt: skip
        entry = _Entry(mpos, m, _Check.of(m), tuple(_Check.of(b) for b in m.not_), evidence)
        key = probe_request(sig, m.probe).key()
        cached = _ENTRIES[slot] = (sig, key, entry)
        _reads_headers(key, entry.header_names())
    return cached[1], cached[2]


# Identical answers recur across targets (every Ollama's "Ollama is running", equal
# /api/version bodies), and a matcher's verdict on an answer depends only on the request
# key, the status, the headers it reads and the body. So the verdicts are kept per such
# answer and shared by every target that gets it (what Memo keeps per target, across
# targets). The key holds the values of every header name any matcher of that request key
# reads (the first of each name, as _Answer.header finds it) and a digest of the body; a
# matcher that reads a header name not yet covered starts the memo afresh.
class _Verdicts:
    """What each matcher said of one answer (`holds`), and per index the matchers among
    that index's candidates for the answer's request and status that fired (`fired`)."""

    __slots__ = ("fired", "holds")

    def __init__(self) -> None:
        self.holds: dict[_Entry, bool] = {}
        self.fired: dict[SignatureIndex, tuple[_Slot, ...]] = {}


_HEADERS_READ: dict[RequestKey, tuple[str, ...]] = {}
_NO_HEADERS: tuple[str, ...] = ()
_ANSWERS: dict[tuple[object, ...], _Verdicts] = {}


def _reads_headers(key: RequestKey, names: set[str]) -> None:
    known = _HEADERS_READ.get(key, _NO_HEADERS)
    if names.issubset(known):
        return
    _HEADERS_READ[key] = tuple(sorted(names.union(known)))
    _ANSWERS.clear()  # keys made without these headers no longer say enough


def _shared_verdicts(key: RequestKey, a: _Answer, names: tuple[str, ...]) -> _Verdicts:
    """The verdicts recorded for an answer equal to this one (a new record if none);
    `names`: the header names read under this request key (_HEADERS_READ)."""
    ex = a.ex
    memo_key = (
        key,
        ex.status,
        tuple(a.header(name) for name in names),
        hashlib.blake2b(ex.body, digest_size=16).digest(),
    )
    verdicts = _ANSWERS.get(memo_key)
    if verdicts is None:
        if len(_ANSWERS) >= _ANSWERS_LIMIT:
            oldest: tuple[object, ...] | None = next(iter(_ANSWERS), None)
            if oldest is not None:
                _ANSWERS.pop(oldest, None)
        verdicts = _ANSWERS[memo_key] = _Verdicts()
    return verdicts


# What each matcher said about each answer of one target: request key → (the exchange, its
# verdicts, the header names they were shared under). A target's answers do not change once
# in, while identification runs several times as answers arrive (and once per answer group
# in canary_can_matter); with a memo, each matcher reads each answer once. The exchange is
# checked by identity, so an answer replaced under the same key (a retried scheme) is read
# afresh; so is one whose verdicts were shared under fewer header names than are read now.
Memo = dict[RequestKey, tuple[Exchange, _Verdicts, tuple[str, ...]]]


class SignatureIndex:
    """The matchers of a sequence of signatures, by request key and accepted status."""

    def __init__(self, sigs: Sequence[Signature]) -> None:
        self.sigs = tuple(sigs)
        # request key → (status → entries, entries that accept any status)
        self._by_key: dict[RequestKey, tuple[dict[int, list[_Slot]], list[_Slot]]] = {}
        for spos, sig in enumerate(self.sigs):
            for mpos in range(len(sig.matchers)):
                self._add(spos, sig, mpos)
        self._unmatched = tuple(_no_match(sig) for sig in self.sigs)

    def _add(self, spos: int, sig: Signature, mpos: int) -> None:
        key, entry = _entry(sig, mpos)
        by_status, any_status = self._by_key.setdefault(key, ({}, []))
        if entry.check.status is None:
            any_status.append((spos, entry))
        else:
            for status in entry.check.status:
                by_status.setdefault(status, []).append((spos, entry))

    @staticmethod
    def _fired(
        slot: tuple[dict[int, list[_Slot]], list[_Slot]], ex: Exchange, holds: dict[_Entry, bool]
    ) -> tuple[_Slot, ...]:
        """This index's candidates for the answer (its request's matchers that accept its
        status) that fire on it, each checked once per answer (`holds` keeps the verdicts)."""
        by_status, any_status = slot
        answer = _Answer(ex)
        fired: list[_Slot] = []
        for spos, entry in (*by_status.get(ex.status or 0, ()), *any_status):
            verdict = holds.get(entry)
            if verdict is None:
                verdict = holds[entry] = entry.fires(answer)
            if verdict:
                fired.append((spos, entry))
        return tuple(fired)

    def evaluate_all(
        self, view: Mapping[RequestKey, Exchange], memo: Memo | None = None
    ) -> list[MatchResult]:
        """evaluate(sig, exchanges_for(sig, view)) for every signature, in order. `memo`:
        one target's (see Memo), kept by the caller across calls for that target."""
        fired: dict[int, list[_Entry]] = {}
        for key, ex in view.items():
            slot = self._by_key.get(key)
            if slot is None or ex.status is None:
                continue
            names = _HEADERS_READ.get(key, _NO_HEADERS)
            seen = memo.get(key) if memo is not None else None
            if seen is not None and seen[0] is ex and seen[2] is names:
                verdicts = seen[1]
            else:
                verdicts = _shared_verdicts(key, _Answer(ex), names)
                if memo is not None:
                    memo[key] = (ex, verdicts, names)
            slots = verdicts.fired.get(self)
            if slots is None:
                slots = verdicts.fired[self] = self._fired(slot, ex, verdicts.holds)
            for spos, entry in slots:
                fired.setdefault(spos, []).append(entry)
        results = list(self._unmatched)
        for spos, entries in fired.items():
            results[spos] = _result(self.sigs[spos], entries)
        return results


def _no_match(sig: Signature) -> MatchResult:
    # What evaluate gives when no matcher holds (a threshold of 0 with nothing required
    # still matches, as there).
    return MatchResult(
        signature=sig, score=0.0, matched=sig.threshold <= 0.0 and not sig.require, evidence=[]
    )


def _result(sig: Signature, entries: list[_Entry]) -> MatchResult:
    entries.sort(key=lambda e: e.matcher_pos)  # evidence in the signature's matcher order
    score = 0.0
    for e in entries:
        score += e.matcher.weight
    score = min(1.0, round(score, 3))
    names = frozenset(e.matcher.name for e in entries)
    matched = score >= sig.threshold and all(r in names for r in sig.require)
    evidence = [
        Evidence(kind=e.evidence.kind, probe=e.evidence.probe, marker=e.evidence.marker,
                 weight=e.evidence.weight)
        for e in entries
    ]  # fmt: skip
    return MatchResult(signature=sig, score=score, matched=matched, evidence=evidence, fired=names)


_INDEXES: dict[tuple[int, ...], SignatureIndex] = {}
# A tuple of signatures (what a scan passes on every call) found by its identity first: the
# key above costs a walk over every signature, several times per target. The entry holds
# the tuple, so its id is not reused while the entry lives.
_BY_TUPLE: dict[int, tuple[tuple[Signature, ...], SignatureIndex]] = {}


def index_for(sigs: Sequence[Signature]) -> SignatureIndex:
    """The index of these signatures, built once per distinct sequence of signatures.

    Keyed by the signatures' identities; the index holds them, so no id is reused while
    its entry lives."""
    if type(sigs) is tuple:
        hit = _BY_TUPLE.get(id(sigs))
        if hit is not None and hit[0] is sigs:
            return hit[1]
    key = tuple(map(id, sigs))
    index = _INDEXES.get(key)
    if index is None:
        if len(_INDEXES) >= _CACHE_LIMIT:
            _INDEXES.clear()
        index = _INDEXES[key] = SignatureIndex(sigs)
    if type(sigs) is tuple:
        if len(_BY_TUPLE) >= _CACHE_LIMIT:
            _BY_TUPLE.clear()
        _BY_TUPLE[id(sigs)] = (sigs, index)
    return index
