"""Property: no parser or extractor raises on random or mutated input.

Every signature's matchers, version extractors and auth rules, every model dialect (listing,
follow-ups, details), the recorded-responses reader, the offline pipeline, the JSON decoder
and the target, port, shard and scanner-output parsers get hostile input; a bounded run of
each is part of the suite. Target parsers may refuse input, but only with TargetError or
InputFileError (a one-line message and exit status 2), never anything else.
"""

from __future__ import annotations

import contextlib
import io
import os

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aicensus import pipeline
from aicensus.enumerate.registry import DIALECTS
from aicensus.errors import InputFileError, TargetError
from aicensus.fingerprint.choose import choose
from aicensus.fingerprint.evaluate import auth_state, evaluate, extract_version
from aicensus.fingerprint.load import builtin_signatures
from aicensus.ingest.responses import read_responses
from aicensus.records import Exchange, ModelRecord, RecordedService, Target
from aicensus.targets import formats, parse_ports, parse_shard, parse_targets
from tests.support.strategies import bodies, exchanges, keyed_json, mutated, seed_corpus

SIGS = builtin_signatures()
# A bounded run in the suite; AICENSUS_FUZZ_EXAMPLES=5000 for a longer campaign.
EXAMPLES = int(os.environ.get("AICENSUS_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=False,
)


@st.composite
def signature_views(draw: st.DrawFn) -> tuple[object, dict[str, Exchange]]:
    """One signature and a random exchange for some of its probes."""
    sig = draw(st.sampled_from(SIGS))
    view = {}
    for pid, probe in sig.probes.items():
        if draw(st.integers(0, 3)):
            view[pid] = draw(exchanges(probe.method, probe.path))
    return sig, view


@FUZZ
@given(signature_views())
def test_signature_evaluation_never_raises(case: tuple[object, dict[str, Exchange]]) -> None:
    sig, view = case
    result = evaluate(sig, view)  # type: ignore[arg-type]
    assert 0 <= result.score <= 1
    version, _ = extract_version(sig, view)  # type: ignore[arg-type]
    assert version is None or isinstance(version, str)
    auth_state(sig, view)  # type: ignore[arg-type]
    choose([result])


@st.composite
def recorded(draw: st.DrawFn) -> list[Exchange]:
    """Exchanges at the paths the signatures probe, as if recorded from one service."""
    probes = {(p.method, p.path) for s in SIGS for p in s.probes.values()}
    chosen = draw(st.lists(st.sampled_from(sorted(probes)), min_size=1, max_size=8, unique=True))
    return [draw(exchanges(method, path)) for method, path in chosen]


@FUZZ
@given(recorded())
def test_offline_pipeline_never_raises(found: list[Exchange]) -> None:
    """Identification, version, auth, enumeration and attribution over one recorded service."""
    recorded = RecordedService(
        target=Target("127.0.0.1", 11434), source="responses", scheme="http", exchanges=found
    )
    obs = pipeline.observe_recorded(recorded, SIGS)
    msgspec.json.encode(obs)  # and the result can always be written out


DIALECT_PROBES = {
    sig.models.dialect: sorted(sig.models.probes) for sig in SIGS if sig.models is not None
}


@st.composite
def dialect_inputs(draw: st.DrawFn) -> tuple[str, dict[str, Exchange], Exchange]:
    name = draw(st.sampled_from(sorted(DIALECT_PROBES)))
    view = {}
    for pid in DIALECT_PROBES[name]:
        body = draw(st.one_of(bodies(), keyed_json().map(msgspec.json.encode)))
        status = draw(st.sampled_from([200, 200, 200, 404, None]))
        view[pid] = Exchange(method="GET", path=f"/{pid}", status=status, body=body)
    followup = draw(exchanges("POST", "/details"))
    return name, view, followup


@FUZZ
@given(dialect_inputs())
def test_dialects_never_raise(case: tuple[str, dict[str, Exchange], Exchange]) -> None:
    name, view, followup = case
    dialect = DIALECTS[name]
    models = dialect.parse(view)
    assert all(isinstance(m, ModelRecord) for m in models)
    for model, probe in dialect.followups(models)[:8]:
        assert probe.method in ("GET", "HEAD", "POST")
        dialect.apply_followup(model, followup)
    msgspec.json.encode(models)


def test_every_dialect_is_fuzzed() -> None:
    assert set(DIALECT_PROBES) <= set(DIALECTS)
    assert len(DIALECT_PROBES) >= 5


@FUZZ
@given(st.one_of(bodies(), st.binary(max_size=200)))
def test_exchange_json_never_raises(body: bytes) -> None:
    ex = Exchange(method="GET", path="/", body=body)
    doc = ex.json()
    assert doc is None or isinstance(doc, dict | list)
    ex.text()


LINE_KEYS = ["ip", "port", "scheme", "path", "status", "headers", "body", "method", "observed_at"]


@st.composite
def response_lines(draw: st.DrawFn) -> list[bytes]:
    good = msgspec.json.encode(
        {
            "ip": draw(st.sampled_from(["127.0.0.1", "::1", "192.0.2.7"])),
            "port": draw(st.sampled_from([11434, 8080, 0, 70000, -1])),
            "scheme": "http",
            "path": draw(st.sampled_from(["/", "/api/tags", "nope"])),
            "status": 200,
            "headers": {"Server": "x"},
            "body": draw(bodies()).decode("utf-8", "replace"),
        }
    )
    lines = draw(
        st.lists(
            st.one_of(
                st.just(good),
                mutated(good),
                st.binary(max_size=120),
                keyed_json().map(msgspec.json.encode),
                st.dictionaries(
                    st.sampled_from(LINE_KEYS), st.none() | st.integers() | st.text()
                ).map(msgspec.json.encode),
            ),
            max_size=6,
        )
    )
    return [line.replace(b"\n", b" ") for line in lines]


@FUZZ
@given(response_lines())
def test_ingest_reader_never_raises(lines: list[bytes]) -> None:
    groups, bad = read_responses(lines)
    assert len(bad) <= len(lines)
    for group in groups:
        pipeline.observe_recorded(group, SIGS)


target_text = st.one_of(
    st.text(max_size=40),
    st.from_regex(r"127\.[0-9]{1,4}\.[0-9]{1,3}\.[0-9]{1,3}(/[0-9]{1,3})?", fullmatch=True),
    st.from_regex(r"127\.0\.0\.[0-9]{1,3}-127\.0\.[0-9]\.[0-9]{1,3}", fullmatch=True),
    st.from_regex(r"[0-9a-f:]{2,20}(/[0-9]{1,3})?", fullmatch=True),
    st.from_regex(r"\[?[0-9a-f:.]{2,20}\]?:[0-9]{1,6}", fullmatch=True),
).filter(lambda t: not t.lstrip().startswith(("@", "-")))  # no files, no stdin


@FUZZ
@given(st.lists(target_text, max_size=4))
def test_target_parsing_fails_only_with_target_errors(tokens: list[str]) -> None:
    try:
        parse_targets(tokens, stdin=None)
    except (TargetError, InputFileError) as exc:
        assert "\n" not in str(exc).strip()


@FUZZ
@given(st.text(max_size=30), st.text(max_size=10))
def test_port_and_shard_parsing_fail_only_with_target_errors(ports: str, shard: str) -> None:
    for parse, arg in ((lambda s: parse_ports(s, {"ai": [11434]}), ports), (parse_shard, shard)):
        with contextlib.suppress(TargetError):
            parse(arg)


scanner_lines = st.one_of(
    st.text(max_size=60),
    st.from_regex(r"open tcp [0-9]{1,6} 127\.0\.0\.[0-9]{1,3} [0-9]{1,12}", fullmatch=True),
    st.from_regex(
        r'\{"ip": ?"[0-9.]{1,20}", ?"ports": ?\[\{"port": ?[0-9e.-]{1,8}\}\]\},?', fullmatch=True
    ),
    st.from_regex(r"saddr,sport\n[0-9.]{1,16},[0-9]{0,6}", fullmatch=True),
)


@FUZZ
@given(st.lists(scanner_lines, max_size=5))
def test_scanner_output_parsing_fails_only_with_input_errors(lines: list[str]) -> None:
    text = "\n".join(lines)
    try:
        list(formats.read_lines(io.StringIO(text), "fuzz.txt"))
    except (TargetError, InputFileError) as exc:
        assert str(exc)


def test_corpus_is_not_empty() -> None:
    corpus_bodies, corpus_headers = seed_corpus()
    assert len(corpus_bodies) > 50 and len(corpus_headers) > 10
