"""The choice between candidate products: which signature a service is, if any.

Every signature is evaluated over what the service answered; then two policies decide:

* the catch-all discount: an answer identical to the service's 2xx answer for a random path
  (the canary) proves nothing, so it is dropped before evaluating;
* the honeypot rule: a service that claims to be several specific products at once (beyond
  the winner's known look-alikes) is a decoy, not any of them.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence

import msgspec

from aicensus.fingerprint.evaluate import MatchResult
from aicensus.fingerprint.index import Memo, index_for
from aicensus.fingerprint.probes import RequestKey
from aicensus.fingerprint.schema import Signature
from aicensus.records import Evidence, Exchange, ProbeRequest

CANARY_PREFIX = "aicensus-canary-"
HONEYPOT_MIN_PRODUCTS = 3  # distinct products one service claims to be at once


class Choice(msgspec.Struct, kw_only=True):
    """The winner (None: no product), every signature's result, and the rival claims."""

    best: MatchResult | None
    results: list[MatchResult]
    claimed: list[str]  # specific products that match besides the winner's look-alikes

    @property
    def honeypot(self) -> bool:
        return len(self.claimed) >= HONEYPOT_MIN_PRODUCTS

    def honeypot_evidence(self) -> Evidence:
        return Evidence(
            kind="honeypot",
            probe="(all probes)",
            marker=f"claims to be {len(self.claimed)} products at once: {', '.join(self.claimed)}",
        )


def canary_probe() -> ProbeRequest:
    """A random path: a catch-all app's answer to it is what "no route" looks like there."""
    return ProbeRequest(method="GET", path=f"/{CANARY_PREFIX}{secrets.token_hex(6)}")


def choose(results: Iterable[MatchResult]) -> MatchResult | None:
    """The best match: specific products beat generic ones; `beats` settles look-alikes."""
    matched = [r for r in results if r.matched]
    if not matched:
        return None
    specific = [r for r in matched if not r.signature.generic] or matched
    ids = {r.signature.id for r in specific}
    beaten = {b for r in specific for b in r.signature.beats if b in ids}
    survivors = [r for r in specific if r.signature.id not in beaten] or specific
    return max(survivors, key=lambda r: (r.score, len(r.evidence)))


def without_catch_all(
    cache: Mapping[RequestKey, Exchange], canary: Exchange | None
) -> Mapping[RequestKey, Exchange]:
    """Drop answers identical to a random path's 2xx answer: they prove nothing."""
    if canary is None or canary.status is None or not 200 <= canary.status < 300:
        return cache
    return {
        k: ex
        for k, ex in cache.items()
        if not (ex.status == canary.status and ex.body == canary.body)
    }


def canary_can_matter(
    choice: Choice, cache: Mapping[RequestKey, Exchange], memo: Memo | None = None
) -> bool:
    """Whether a canary's answer could change this choice (then it is worth a request).

    A canary drops the answers equal to its own 2xx answer, so it can only ever take away
    one group of identical 2xx answers; removing answers only takes matches away, so only
    the signatures that match now can change. The canary matters iff dropping some such
    group changes the winner or the honeypot verdict (a real Ollama: never, its answers
    differ and each alone keeps it over the threshold; a catch-all: always).
    """
    if choice.best is None:
        return False
    matched = [r.signature for r in choice.results if r.matched]
    verdict = (choice.best.signature.id, choice.honeypot)
    groups = {
        (ex.status, ex.body)
        for ex in cache.values()
        if ex.status is not None and 200 <= ex.status < 300
    }
    for status, body in groups:
        view = {k: ex for k, ex in cache.items() if not (ex.status == status and ex.body == body)}
        alt = identify(matched, view, memo=memo)
        if (alt.best.signature.id if alt.best else None, alt.honeypot) != verdict:
            return True
    return False


def identify(
    sigs: Sequence[Signature],
    cache: Mapping[RequestKey, Exchange],
    canary: Exchange | None = None,
    *,
    memo: Memo | None = None,
) -> Choice:
    """The choice among sigs over the answers in hand. `memo`: one target's record of what
    each matcher said of each answer (fingerprint.index.Memo), kept across its calls."""
    view = without_catch_all(cache, canary)
    # evaluate(sig, exchanges_for(sig, view)) for each sig, checking only the matchers that
    # read an answer in hand with its status (fingerprint/index.py)
    results = index_for(sigs).evaluate_all(view, memo)
    best = choose(results)
    return Choice(best=best, results=results, claimed=claimed_products(best, results))


def claimed_products(best: MatchResult | None, results: Sequence[MatchResult]) -> list[str]:
    """Specific products that match besides the winner's known look-alikes."""
    if best is None:
        return []
    specific = {r.signature.id for r in results if r.matched and not r.signature.generic}
    return sorted(specific - set(best.signature.beats))
