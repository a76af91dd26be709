"""Property: whatever redirect chain a server answers with and whatever probe path is asked
for, no write route ever reaches the server (issue 14).

A loopback server (tests/support/wire_recorder.Recorder) records every raw request target it
receives; it answers each path of a generated chain with a 3xx to the next one. Paths are
built from write-route words, read paths, dot segments, percent-encodings, case changes,
trailing dots and slashes, `;params`, fragments, backslashes and invisible characters. The
engine may refuse a probe (ReadOnlyViolation) or decline a hop; the server's record is the
evidence, judged by the normalising `readonly.route_of`, and a control request proves the
server records at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aicensus.engine.client import HttpClient
from aicensus.engine.config import EngineConfig
from aicensus.errors import ReadOnlyViolation
from aicensus.records import ProbeRequest
from tests.support.wire_recorder import Recorder

WORDS = ["api", "pull", "generate", "chat", "v1", "models", "shutdown", "tags", "show",
         "completions", "load_lora_adapter", "..", ".", "", "x", "PULL", "Generate"]  # fmt: skip
_ENCODED = {"a": "%61", "e": "%65", "l": "%6c", "u": "%75", "/": "%2f", ".": "%2e"}


@st.composite
def segment(draw: st.DrawFn) -> str:
    word = draw(st.sampled_from(WORDS))
    if word and draw(st.booleans()):  # percent-encode some letters, once or twice
        i = draw(st.integers(0, len(word) - 1))
        enc = _ENCODED.get(word[i].lower())
        if enc:
            twice = draw(st.booleans())
            word = word[:i] + (enc.replace("%", "%25") if twice else enc) + word[i + 1 :]
    return word + draw(st.sampled_from(["", "", ".", ";p=1", "\u200b", "%00"]))


@st.composite
def paths(draw: st.DrawFn) -> str:
    segments = draw(st.lists(segment(), min_size=1, max_size=5))
    sep = draw(st.sampled_from(["/", "/", "//", "\\"]))
    tail = draw(st.sampled_from(["", "", "/", "?q=1", "#frag", "/.", "\t", " "]))
    return "/" + sep.join(segments) + tail


# A bounded run in the suite; AICENSUS_FUZZ_EXAMPLES=1000 for a longer campaign.
EXAMPLES = int(os.environ.get("AICENSUS_FUZZ_EXAMPLES", "120"))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(start=paths(), chain=st.lists(paths(), min_size=1, max_size=4))
def test_no_write_route_ever_reaches_the_server(start: str, chain: list[str]) -> None:
    with Recorder("127.31.4.1") as server:
        hops = [start, *chain]
        for here, there in itertools.pairwise(hops):
            server.redirects.setdefault(here, there)
        server.redirects.setdefault("/", chain[0])

        async def run() -> None:
            config = EngineConfig(max_redirects=5, total_timeout=5.0)
            async with HttpClient(config) as client:
                for method, path in (("GET", start), ("HEAD", "/control"), ("GET", "/")):
                    with contextlib.suppress(ReadOnlyViolation):  # refused: nothing is sent
                        probe = ProbeRequest(method, path)
                        await client.fetch(server.address, server.port, "http", probe)

        asyncio.run(run())
    assert ("HEAD", "/control") in server.received  # the server did record
    assert server.writes() == [], (start, chain, server.received)
