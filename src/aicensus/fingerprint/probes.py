"""From a signature's probe ids to the requests the engine sends, and back.

The engine keys what it fetched by (method, path, body); a signature names its probes by id.
These functions translate between the two (pure, no network).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from aicensus.fingerprint.schema import Signature
from aicensus.records import Exchange, ProbeRequest, RequestKey

__all__ = [
    "RequestKey",
    "conditional_probes",
    "exchanges_for",
    "identity_probes",
    "probe_request",
]

_PROBES: dict[tuple[int, str], tuple[Signature, ProbeRequest, RequestKey]] = {}


def _probe(sig: Signature, probe_id: str) -> tuple[ProbeRequest, RequestKey]:
    # Built once per signature; the stored signature guards against a reused id().
    slot = (id(sig), probe_id)
    cached = _PROBES.get(slot)
    if cached is None or cached[0] is not sig:
        probe = sig.probes[probe_id]
        request = ProbeRequest(
            method=probe.method, path=probe.path, json_body=probe.json,
            max_body=probe.max_body, wait=probe.wait,
        )  # fmt: skip
        cached = _PROBES[slot] = (sig, request, request.key())
    return cached[1], cached[2]


def probe_request(sig: Signature, probe_id: str) -> ProbeRequest:
    return _probe(sig, probe_id)[0]


def identity_probes(sigs: Iterable[Signature]) -> Iterator[ProbeRequest]:
    """Probes that may go to a service whose product is not known yet (those sent only
    `unless` a matcher fired come from `conditional_probes`)."""
    for sig in sigs:
        for pid, probe in sig.probes.items():
            if probe.when == "identify" and probe.unless is None:
                yield probe_request(sig, pid)


def conditional_probes(
    sigs: Iterable[Signature], fired: Mapping[str, frozenset[str]]
) -> Iterator[ProbeRequest]:
    """Identity probes whose `unless` matcher did not fire (`fired`: signature id → names of
    its matchers that held, over the answers in hand, which include the matcher's probe)."""
    for sig in sigs:
        for pid, probe in sig.probes.items():
            unless = probe.unless
            if probe.when == "identify" and unless and unless not in fired.get(sig.id, ()):
                yield probe_request(sig, pid)


_KEYS: dict[int, tuple[Signature, frozenset[RequestKey]]] = {}


def exchanges_for(sig: Signature, cache: Mapping[RequestKey, Exchange]) -> dict[str, Exchange]:
    """The signature's view of what was sent: probe id → exchange."""
    view: dict[str, Exchange] = {}
    keys = _KEYS.get(id(sig))
    if keys is None or keys[0] is not sig:
        keys = _KEYS[id(sig)] = (sig, frozenset(_probe(sig, pid)[1] for pid in sig.probes))
    if keys[1].isdisjoint(cache.keys()):  # most signatures, at most targets: nothing to look up
        return view
    for pid in sig.probes:
        ex = cache.get(_probe(sig, pid)[1])
        if ex is not None:
            view[pid] = ex
    return view
