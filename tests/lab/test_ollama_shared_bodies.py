"""Parts of Ollama bodies shared across profiles (ollama_profiles._SHOW_HEADS, _DETAILS)
give byte for byte the body each profile's own full encoding gives."""

from __future__ import annotations

import ipaddress

import pytest

from aicensus.lab.emulators import ollama_profiles as op
from aicensus.lab.emulators.common import go_json_bytes


def _plain_tags(p: op.Profile) -> bytes:
    new = p.has("0.30.0")
    entries = []
    for m in p.models:
        entry: dict[str, object] = {
            "name": m.name, "model": m.name, "modified_at": p.modified_at(m), "size": m.size,
            "digest": m.digest, "details": p.details(m, lengths=new),
        }  # fmt: skip
        if new:
            entry["capabilities"] = p.capabilities(m)
        entries.append(entry)
    return go_json_bytes({"models": entries})


@pytest.mark.parametrize("version", [None, "0.1.48", "0.6.1", "0.6.4", "0.9.0", "0.30.0"])
def test_shared_parts_give_each_profiles_own_bytes(version: str | None) -> None:
    addresses = ["127.0.0.1", *map(str, ipaddress.ip_network("127.9.0.0/25"))]
    shows = 0
    for address in addresses:
        p = op.profile_for(address, single=False, version=version)
        assert p.tags_body == _plain_tags(p)
        for m in p.models:
            assert p.show_body(m) == go_json_bytes(p._show(m))
            shows += 1
    assert shows > 100
    assert op._SHOW_HEADS and op._DETAILS  # the shared parts were used


_REQUESTS = [
    ("GET", "/", b""), ("HEAD", "/", b""), ("GET", "/api/version", b""),
    ("HEAD", "/api/pull", b""), ("POST", "/api/pull", b'{"model":"x"}'),
    ("DELETE", "/api/delete", b'{"model":"x"}'), ("GET", "/nope", b""),
    ("GET", "/api/tags/", b""), ("POST", "/api/version", b""), ("GET", "/api/status", b""),
    ("GET", "/api/tags", b""), ("POST", "/api/show", b'{"model":"llama3.2:latest"}'),
    ("GET", "/v1/models", b""), ("GET", "/api/version?x=1", b""),
]  # fmt: skip


@pytest.mark.parametrize("http10", [False, True])
def test_answers_shared_by_version_equal_each_addresss_own(http10: bool) -> None:
    """Every address's answer, with answers shared across addresses of one version (banner,
    /api/version, refused and unrouted paths), equals a fresh emulator's for that address."""
    from aicensus.lab.emulators.ollama import OllamaEmulator, _Request

    addresses = [str(a) for a in ipaddress.ip_network("127.9.1.0/26")]
    shared = OllamaEmulator(addresses)
    versions = set()
    for address in addresses:
        for method, target, body in _REQUESTS:
            path, _, query = target.partition("?")
            request = _Request(method, target, path, query, {}, http10, not http10, body)
            fresh = OllamaEmulator(addresses)._answer(address, method, request, body)
            assert shared._answer(address, method, request, body) == fresh, (address, target)
        versions.add(shared.profile(address).version)
    assert len(versions) > 3
    assert len(versions) <= len(shared._by_version) < len(addresses) * 4  # shared ones
