"""Any observation the store can hold exactly comes back exactly."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aicensus.records import (
    AuthState,
    BaseModelRef,
    Evidence,
    ModelRecord,
    RequestLogEntry,
    ScanStatus,
    ServiceObservation,
    TextDigest,
    TLSInfo,
)
from aicensus.store import Store

text = st.text(max_size=12)  # hypothesis leaves out lone surrogates by default
opt_text = st.none() | text
real = st.floats(allow_nan=False, allow_infinity=False)
int64 = st.integers(-(2**63), 2**63 - 1)
opt_int64 = st.none() | int64
texts = st.lists(text, max_size=3)
digest = st.none() | st.builds(TextDigest, sha256=text, length=int64, head=text)
base = st.none() | st.builds(BaseModelRef, developer=opt_text, country=opt_text, family=opt_text)
evidence = st.lists(
    st.builds(Evidence, kind=text, probe=text, marker=text, weight=real), max_size=2
)

model = st.builds(
    ModelRecord, name=text, digest=opt_text, size_bytes=opt_int64, format=opt_text,
    family=opt_text, families=texts, parameter_size=opt_text, parameter_count=opt_int64,
    quantization=opt_text, context_length=opt_int64, running=st.booleans(),
    vram_bytes=opt_int64, capabilities=texts, chat_template=digest, system_prompt=digest,
    licence_name=opt_text, architecture=opt_text, remote=st.booleans(), developer=opt_text,
    country=opt_text, licence=opt_text, base=base, guardrails_removed=st.booleans(),
    attribution_confidence=real,
)  # fmt: skip
tls = st.none() | st.builds(
    TLSInfo, subject=opt_text, issuer=opt_text, sans=texts, not_before=opt_text,
    not_after=opt_text, expired=st.none() | st.booleans(), self_signed=st.none() | st.booleans(),
)  # fmt: skip
log = st.builds(
    RequestLogEntry, method=text, path=text, status=st.none() | st.integers(-(2**31), 2**31 - 1),
    bytes=int64, ms=real, error=opt_text,
)  # fmt: skip
observation = st.builds(
    ServiceObservation, ip=text, port=st.integers(0, 65535), scheme=opt_text,
    status=st.sampled_from(ScanStatus), product=opt_text, version=opt_text, confidence=real,
    auth=st.sampled_from(AuthState), observed_at=text | st.datetimes().map(str),
    hostname=opt_text, tls=tls, models=st.lists(model, max_size=3), evidence=evidence,
    auth_evidence=evidence, request_log=st.lists(log, max_size=3), error=opt_text, source=text,
)  # fmt: skip


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.lists(observation, max_size=6))
def test_any_observation_round_trips(
    tmp_path_factory: pytest.TempPathFactory, batch: list[ServiceObservation]
) -> None:
    path = tmp_path_factory.mktemp("store") / "aicensus.duckdb"
    with Store.open(path) as store:
        scan_id = store.begin_scan("ingest", {})
        store.add_observations(scan_id, batch)
        back = list(store.observations(scan_id))
    assert msgspec.to_builtins(back) == msgspec.to_builtins(batch)
