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
