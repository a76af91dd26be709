"""The study report, enrichment, the longitudinal model, Parquet export/merge and the synthetic
generator. Everything reads files; nothing touches the network."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from aicensus.cli.study import export_group, study_command
from aicensus.enrich import EmbeddedGeo, default_tiers, enrich
from aicensus.enrich.rank import rank_embedded_orgs
from aicensus.ingest.files import ingest_file, ingest_parquet
from aicensus.lab.synth import synthesize
from aicensus.records import (
    AuthState,
    ModelRecord,
    ScanStatus,
    ServiceObservation,
)
from aicensus.report.study import StudyOptions, compute_study
from aicensus.report.study_html import write_study_html
from aicensus.store import Store
from aicensus.store import longitudinal as lon

DATA = Path(__file__).parents[1] / "ingest_formats" / "data"
FIGURES = {
    "scale", "persistence", "persistence_histogram", "host_days", "tiers", "countries", "asns",
    "families", "codeployment", "developers", "developer_countries", "quantization_hosts",
    "quantization_bits", "parameter_bands", "capabilities", "models_per_host", "running",
    "uptime_subset", "auth", "prompts", "findings", "monthly",
}  # fmt: skip


def _figure(study: dict, fid: str) -> dict:  # type: ignore[type-arg]
    return next(f for f in study["figures"] if f["id"] == fid)


def _row(study: dict, fid: str, label: str) -> list:  # type: ignore[type-arg]
    figure = _figure(study, fid)
    return next(r for r in figure["rows"] if r[figure["label"]] == label)


# ---------------------------------------------------------------- acceptance


def test_acceptance_zgrab2_and_censys_to_html(tmp_path: Path) -> None:
    """Issue 8 acceptance: ingest a zgrab2 file and a Censys file, run
    `aicensus report study --format html -o study.html`, read every figure with its definition."""
    db = str(tmp_path / "a.duckdb")
    ingest_file(DATA / "zgrab2-http.jsonl", "zgrab2", db=db)
    ingest_file(DATA / "censys-platform.jsonl", "censys", db=db)
    out = tmp_path / "study.html"
    result = CliRunner().invoke(study_command, ["--db", db, "--format", "html", "-o", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text()
    for fid in FIGURES:
        assert f'<section id="{fid}">' in html, fid
    assert html.count('<p class="def"><b>Definition.</b>') == len(FIGURES)
    assert "Your figures beside the published ones" in html
    # each study's source, from report/data/published.yaml, as text (the page loads nothing)
    assert "Sources:" in html and "(2026-01-29)" in html and "sentinelone.com/labs/" in html
    assert "GeoLite2" in html and "2024-06-18" in html  # which database and date
    for figure in (
        "unique hosts", "observations", "window days", "countries", "seen once", "persistent",
        "telecom/residential", "llama", "qwen2", "Meta", "Q4_K_M", "8–14B", "tools",
        "exactly [completion, tools]", "running share (hosts)", "auth_required",
        "AIC-OLLAMA-UNAUTH-MGMT",
    ):  # fmt: skip
        assert f">{figure}<" in html, figure
    assert "<script" not in html.lower()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    study = json.loads(CliRunner().invoke(study_command, ["--db", db]).stdout)
    assert _row(study, "scale", "unique hosts")[1] == 5  # identified: 2 zgrab2 + 3 Censys
    families = {r[0]: r for r in _figure(study, "families")["rows"]}
    assert families["llama"][1] == 3  # hosts with a llama-family model


def test_every_figure_has_a_definition_and_the_comparison_rows_resolve(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    synthesize(tmp_path / "syn", hosts=400, days=20, seed=3)
    ingest_parquet(tmp_path / "syn", db=db)
    study = compute_study(db)
    assert {f["id"] for f in study["figures"]} == FIGURES
    for figure in study["figures"]:
        assert len(figure["definition"]) > 40, figure["id"]
        for row in figure["rows"]:
            assert len(row) == len(figure["columns"])
    ours = [c for c in study["comparison"] if c["ours"] is not None]
    assert len(ours) >= 25
    assert all(c["definition"] for c in study["comparison"])
    assert study["meta"]["synthetic"] is True
    assert study["meta"]["enrichment"]["date"] == "2024-06-18"
    assert study["meta"]["enrichment"]["asn_numbers"] is True
    assert "@ip-location-db/asn" in study["meta"]["enrichment"]["database"]
    assert _row(study, "scale", "ASNs")[1] > 10  # AS numbers of the embedded data
    assert any(c["label"] == "ASNs" and c["ours"] for c in study["comparison"])


# ---------------------------------------------------------------- figures on a crafted store


def _obs(ip: str, at: datetime, models: list[ModelRecord], **kw: object) -> ServiceObservation:
    return ServiceObservation(
        ip=ip,
        port=11434,
        scheme="http",
        status=ScanStatus.IDENTIFIED,
        product="ollama",
        auth=kw.pop("auth", AuthState.OPEN),  # type: ignore[arg-type]
        observed_at=at.isoformat(),
        models=models,
        source="test",
        **kw,  # type: ignore[arg-type]
    )


def _model(name: str, family: str, quant: str, size: str, caps: list[str], **kw: object):  # type: ignore[no-untyped-def]
    return ModelRecord(
        name=name, family=family, quantization=quant, parameter_size=size, capabilities=caps,
        **kw,  # type: ignore[arg-type]
    )  # fmt: skip


@pytest.fixture
def crafted(tmp_path: Path) -> Path:
    """4 hosts: one seen once, one transient (3 days), one persistent (5 observations with the
    threshold set to 5), one auth_required with no models."""
    t0 = datetime(2025, 3, 1, 12, tzinfo=UTC)
    llama = _model("llama3.1:8b", "llama", "Q4_K_M", "8.0B", ["completion", "tools"],
                   developer="Meta", country="US")  # fmt: skip
    qwen = _model("qwen2.5:7b", "qwen2", "Q4_K_M", "7.6B", ["completion", "tools", "vision"],
                  developer="Alibaba", country="CN", running=True)  # fmt: skip
    embed = _model("nomic-embed-text", "nomic-bert", "F16", "137M", ["embedding"],
                   developer="Nomic AI", country="US")  # fmt: skip
    rows = [_obs("8.8.8.8", t0, [llama])]
    rows += [_obs("1.1.1.1", t0 + timedelta(days=d), [llama, embed]) for d in range(3)]
    rows += [
        _obs("9.9.9.9", t0 + timedelta(days=d, hours=h), [qwen, llama] if d else [llama])
        for d, h in ((0, 0), (1, 0), (2, 0), (3, 0), (3, 6))
    ]
    rows.append(_obs("208.67.222.222", t0, [], auth=AuthState.AUTH_REQUIRED))
    rows.append(  # not identified: outside the population
        ServiceObservation(
            ip="4.4.4.4",
            port=80,
            scheme="http",
            status=ScanStatus.UNIDENTIFIED,
            observed_at=t0.isoformat(),
        )
    )
    db = tmp_path / "crafted.duckdb"
    with Store.open(db) as store:
        scan = store.begin_scan("ingest", {"format": "test"})
        store.add_observations(scan, rows)
        store.finish_scan(scan)
    return db


def test_study_figures_on_a_crafted_store(crafted: Path) -> None:
    rule = lon.PersistenceRule(persistent_min_observations=5)
    study = compute_study(crafted, StudyOptions(rule=rule))
    scale = {r[0]: r[1] for r in _figure(study, "scale")["rows"]}
    assert scale["observations"] == 10 and scale["unique hosts"] == 4
    assert scale["host-days"] == 1 + 3 + 4 + 1 and scale["window days"] == 4
    assert scale["countries"] == 2  # GeoLite2: 1.1.1.1 is AU, the other three US
    persistence = {r[0]: r for r in _figure(study, "persistence")["rows"]}
    assert persistence["seen once"][1:3] == [2, 0.5]
    assert persistence["transient"][1] == 1 and persistence["persistent"][1] == 1
    assert persistence["persistent"][4] == 0.5  # 5 of 10 observations
    families = {r[0]: r for r in _figure(study, "families")["rows"]}
    assert families["llama"][1:6] == [3, 0.75, 9, 0.9, 8]  # hosts, share, obs, share, host-days
    assert families["qwen2"][1] == 1 and families["qwen2"][3] == 4
    caps = {r[0]: r for r in _figure(study, "capabilities")["rows"]}
    assert caps["tools"][1:3] == [3, 0.75] and caps["vision"][1] == 1
    assert caps["exactly [completion, tools]"][1] == 3 and caps["embedding"][1] == 1
    inventory = {r[0]: r[1] for r in _figure(study, "models_per_host")["rows"]}
    assert inventory == {"0": 1, "1": 1, "2–3": 2, "4–9": 0, "10–19": 0, "≥20": 0}
    assert _row(study, "running", "running share (hosts)")[1] == 0.25
    assert _row(study, "running", "running share (observations)")[1] == 0.4
    auth = {r[0]: r for r in _figure(study, "auth")["rows"]}
    assert auth["open"][1] == 3 and auth["auth_required"][1] == 1
    quant = {r[0]: r for r in _figure(study, "quantization_bits")["rows"]}
    assert quant["4-bit"][1] == 4 and quant["16-bit"][1] == 1  # (host, model) instances
    bands = {r[0]: r[1] for r in _figure(study, "parameter_bands")["rows"]}
    assert bands["8–14B"] == 3 and bands["4–7B"] == 1 and bands["<1B"] == 1
    developers = {r[0]: r for r in _figure(study, "developers")["rows"]}
    assert developers["Meta"][1] == 3 and developers["Alibaba"][1] == 1
    tiers = {r[0]: r for r in _figure(study, "tiers")["rows"]}
    assert tiers["cloud/hosting"][1] >= 2  # Google and Cloudflare
    pair = _figure(study, "codeployment")["rows"][0]
    assert pair[0] == "llama + qwen2" or pair[0] == "llama + nomic-bert"


def test_product_and_window_filters(crafted: Path) -> None:
    since = datetime(2025, 3, 3, tzinfo=UTC)
    study = compute_study(crafted, StudyOptions(since=since))
    assert _row(study, "scale", "unique hosts")[1] == 2
    with pytest.raises(Exception, match="no identified observation"):
        compute_study(crafted, StudyOptions(products=["vllm"]))


def test_host_history_and_configurable_persistence(crafted: Path) -> None:
    with Store.open(crafted, read_only=True) as store:
        history = lon.host_history(store, "9.9.9.9")
        strict = lon.host_history(
            store, "9.9.9.9", lon.PersistenceRule(persistent_min_observations=5,
                                                  persistent_min_days=5)
        )  # fmt: skip
        loose = lon.host_history(
            store, "9.9.9.9", lon.PersistenceRule(persistent_min_observations=5)
        )
        assert lon.host_history(store, "203.0.113.1") is None
    assert history is not None and strict is not None and loose is not None
    assert (history.observations, history.days_observed, history.span_days) == (5, 4, 4)
    assert history.first_seen == datetime(2025, 3, 1, 12, tzinfo=UTC)
    assert history.persistence == "transient"  # default threshold: > 100 observations
    assert loose.persistence == "persistent" and strict.persistence == "transient"


# ---------------------------------------------------------------- HTML safety


def test_html_escapes_everything_a_server_controls(tmp_path: Path) -> None:
    hostile = '<script>alert(1)</script>\u202e"onload=x'
    db = tmp_path / "h.duckdb"
    with Store.open(db) as store:
        scan = store.begin_scan("ingest", {})
        store.add_observations(
            scan,
            [_obs("8.8.8.8", datetime(2025, 1, 1, tzinfo=UTC),
                  [_model(hostile, hostile, hostile, "7B", [hostile], developer=hostile)])],
        )  # fmt: skip
        store.finish_scan(scan)
    out = tmp_path / "h.html"
    with out.open("w") as handle:
        write_study_html(handle, compute_study(db))
    html = out.read_text()
    assert "<script>" not in html and "\u202e" not in html
    assert "&lt;script&gt;" in html and "\\u202e" in html
    assert "Content-Security-Policy" in html


# ---------------------------------------------------------------- enrichment


def test_embedded_geo_and_tiers() -> None:
    found = {e.ip: e for e in enrich(["8.8.8.8", "1.1.1.1", "192.0.2.1", "10.0.0.1"])}
    google = found["8.8.8.8"]
    assert (google.country, google.asn, google.org) == ("US", 15169, "Google LLC")
    assert google.as_key == "AS15169" and google.tier == "cloud/hosting" and google.hyperscaler
    assert found["1.1.1.1"].tier == "cloud/hosting" and found["1.1.1.1"].tier_basis == "asn"
    assert found["192.0.2.1"].country is None and found["192.0.2.1"].tier == "unknown"
    assert found["10.0.0.1"].org is None
    info = EmbeddedGeo().describe()
    assert info.date == "2024-06-18" and "GeoLite2" in info.name and info.has_asn_numbers


def test_tier_table_covers_the_300_largest_networks_with_sources() -> None:
    table = default_tiers()
    top = [name for name, _ in rank_embedded_orgs(300)]
    missing = [name for name in top if name.casefold() not in table.by_org]
    assert not missing, missing
    assert len(table.entries) >= 300
    for entry in table.entries:
        assert entry.source.startswith("https://"), entry
        assert entry.tier in ("cloud/hosting", "telecom/residential", "enterprise", "education",
                              "unknown")  # fmt: skip
    assert table.classify("Some University of Examples").tier == "education"
    assert table.classify("Example Hosting Ltd").tier == "cloud/hosting"
    assert table.classify("Nowhere Broadband").tier == "telecom/residential"
    assert table.classify(None).tier == "unknown"
    assert table.classify("whatever", asn=16509).hyperscaler  # AMAZON-02 by number


def test_mmdb_errors_are_one_line(tmp_path: Path) -> None:
    from aicensus.enrich import MmdbGeo
    from aicensus.errors import InputFileError

    bad = tmp_path / "x.mmdb"
    bad.write_bytes(b"not a database")
    with pytest.raises(InputFileError, match="cannot read MaxMind database"):
        MmdbGeo([bad])


# ---------------------------------------------------------------- Parquet and shards


def _counts(db: Path) -> tuple[int, int]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        row = con.execute("SELECT count(*), (SELECT count(*) FROM models) FROM observations")
        found = row.fetchone()
    finally:
        con.close()
    assert found is not None
    return int(found[0]), int(found[1])


def _two_shard_stores(tmp_path: Path, hosts: tuple[int, int], days: int) -> tuple[Path, Path, Path]:
    """Two synthetic datasets (seeds 1 and 2) ingested into stores of their own: (a's dataset,
    a's store, b's store)."""
    a, b = tmp_path / "a", tmp_path / "b"
    synthesize(a, hosts=hosts[0], days=days, seed=1)
    synthesize(b, hosts=hosts[1], days=days, seed=2)
    shard_a, shard_b = tmp_path / "shard-a.duckdb", tmp_path / "shard-b.duckdb"
    ingest_parquet(a, db=shard_a)
    ingest_parquet(b, db=shard_b)
    return a, shard_a, shard_b


def test_export_and_merge_shards_without_duplicates(tmp_path: Path) -> None:
    a, shard_a, shard_b = _two_shard_stores(tmp_path, (150, 120), days=10)
    ingest_file(DATA / "zgrab2-http.jsonl", "zgrab2", db=shard_b)  # with a request log
    runner = CliRunner()
    for shard, out in ((shard_a, "ea"), (shard_b, "eb")):
        done = runner.invoke(export_group, ["parquet", str(tmp_path / out), "--db", str(shard)])
        assert done.exit_code == 0, done.output
    assert list((tmp_path / "ea" / "observations").glob("month=*/*.parquet"))
    merged = tmp_path / "merged.duckdb"
    first = ingest_parquet(tmp_path / "ea", db=merged)
    second = ingest_parquet(tmp_path / "eb", db=merged)
    assert first.duplicates == 0 and second.duplicates == 0
    again = ingest_parquet(tmp_path / "eb", db=merged)
    assert again.already_ingested is not None
    forced = ingest_parquet(tmp_path / "eb", db=merged, force=True)
    assert forced.observations == 0 and forced.duplicates == _counts(shard_b)[0]
    # an overlapping shard: a's raw synthetic data again, merged into the store built from its export
    overlap = ingest_parquet(a, db=merged)
    assert overlap.observations == 0
    obs_a, models_a = _counts(shard_a)
    obs_b, models_b = _counts(shard_b)
    assert _counts(merged) == (obs_a + obs_b, models_a + models_b)
    with Store.open(shard_b, read_only=True) as store:
        original = {(o.ip, o.port, o.observed_at): o for o in store.observations()}
    with Store.open(merged, read_only=True) as store:
        back = {
            (o.ip, o.port, o.observed_at): o
            for o in store.observations()
            if o.source != "synthetic"
        }
    assert back == {k: v for k, v in original.items() if v.source != "synthetic"}
    assert any(o.request_log for o in back.values())


def test_a_dataset_of_two_shards_with_the_same_refs_merges_each_row_once(tmp_path: Path) -> None:
    """Two exports copied into one dataset: their refs (each store's obs_ids) overlap. When
    every row of one shard is already stored, the other's new rows must still be joined on
    (shard, ref), not on ref alone, or they would pick up the known shard's rows too."""
    import shutil

    _, shard_a, shard_b = _two_shard_stores(tmp_path, (60, 50), days=5)
    runner = CliRunner()
    both = tmp_path / "both"
    for shard, out in ((shard_a, "ea"), (shard_b, "eb")):
        done = runner.invoke(export_group, ["parquet", str(tmp_path / out), "--db", str(shard)])
        assert done.exit_code == 0, done.output
        for f in (tmp_path / out).rglob("*.parquet"):
            target = both / f.relative_to(tmp_path / out)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(f, target.with_name(f"{out}-{f.name}"))
    merged = tmp_path / "merged.duckdb"
    ingest_parquet(tmp_path / "ea", db=merged)
    result = ingest_parquet(both, db=merged)
    (obs_a, models_a), (obs_b, models_b) = _counts(shard_a), _counts(shard_b)
    assert (result.observations, result.duplicates) == (obs_b, obs_a)
    assert _counts(merged) == (obs_a + obs_b, models_a + models_b)

    def rows(db: Path) -> list[tuple[object, ...]]:
        with Store.open(db, read_only=True) as store:
            return [(o.ip, o.port, o.observed_at, o.product, tuple(m.name for m in o.models))
                    for o in store.observations()]  # fmt: skip

    original, back = sorted(rows(shard_a) + rows(shard_b)), sorted(rows(merged))
    assert back == original


def _format_1_dataset(store_path: Path, out: Path) -> None:
    """What aicensus 0.2 exported: models/ with one row per model of every observation."""
    con = duckdb.connect(str(store_path), read_only=True)
    obs = ", ".join(f"o.{f}" for f in lon.OBS_FIELDS)
    month = "strftime(o.observed_at, '%Y-%m') AS month"
    queries = {
        "observations": f"SELECT 'old' AS shard, o.obs_id AS ref, {obs}, {month} FROM observations o",
        "models": "SELECT 'old' AS shard, m.obs_id AS ref, "
        + ", ".join(f"m.{f}" for f in lon.MODEL_FIELDS)
        + f", {month} FROM models m JOIN observations o USING (obs_id)",
    }
    months = [r[0] for r in con.execute(f"SELECT DISTINCT {month} FROM observations o").fetchall()]
    lon.write_dataset(con, out, queries, months, {"aicensus_parquet": "1"})
    con.close()


def test_a_format_1_dataset_still_imports_into_shared_model_sets(tmp_path: Path) -> None:
    source = tmp_path / "source.duckdb"
    synthesize(tmp_path / "syn", hosts=80, days=20, seed=3)
    ingest_parquet(tmp_path / "syn", db=source)
    _format_1_dataset(source, tmp_path / "v1")
    assert not (tmp_path / "v1" / "model_sets").exists()
    merged = tmp_path / "merged.duckdb"
    result = ingest_parquet(tmp_path / "v1", db=merged)
    assert result.observations == _counts(source)[0] and result.duplicates == 0
    assert _counts(merged) == _counts(source)
    with Store.open(source, read_only=True) as a, Store.open(merged, read_only=True) as b:
        before = {(o.ip, o.observed_at): o.models for o in a.observations()}
        after = {(o.ip, o.observed_at): o.models for o in b.observations()}
        sets_a = a._con.execute("SELECT count(*) FROM model_sets").fetchone()
        sets_b = b._con.execute("SELECT count(*) FROM model_sets").fetchone()
    assert after == before
    # The same inventories hash to the same sets whichever format carried them.
    assert sets_a == sets_b and sets_b is not None and sets_b[0] < len(before)


def test_a_dataset_missing_its_model_sets_stores_observations_and_says_so(
    tmp_path: Path,
) -> None:
    import aicensus.cli.ingest_formats  # noqa: F401 - attaches `ingest parquet`
    from aicensus.cli.scan import ingest_group

    synthesize(tmp_path / "syn", hosts=40, days=5, seed=4)
    for part in (tmp_path / "syn" / "model_sets").glob("*.parquet"):
        part.unlink()
    db = tmp_path / "m.duckdb"
    result = CliRunner().invoke(ingest_group, ["parquet", str(tmp_path / "syn"), "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "model sets named by observations are missing from the dataset" in result.output
    observations, models = _counts(db)
    assert observations > 0 and models == 0


def test_export_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    db = tmp_path / "e.duckdb"
    ingest_file(DATA / "censys-platform.jsonl", "censys", db=db)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("x")
    result = CliRunner().invoke(export_group, ["parquet", str(tmp_path / "out"), "--db", str(db)])
    assert result.exit_code != 0


# ---------------------------------------------------------------- synthetic data


def test_synth_is_labelled_deterministic_and_shaped(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    s1 = synthesize(one, hosts=2000, days=120, seed=5)
    s2 = synthesize(two, hosts=2000, days=120, seed=5)
    assert (s1.observations, s1.models) == (s2.observations, s2.models)
    con = duckdb.connect()
    files = [str(p) for p in one.rglob("observations/**/*.parquet")]
    meta = dict(
        (k.decode(), v.decode())
        for _, k, v in con.execute("SELECT * FROM parquet_kv_metadata($1)", [files]).fetchall()
    )
    assert meta["aicensus_synthetic"] == "true"
    sources, markers = con.execute(
        "SELECT list(DISTINCT source), list(DISTINCT evidence::VARCHAR) FROM read_parquet($1)",
        [files],
    ).fetchone() or ([], [])
    assert sources == ["synthetic"] and all("SYNTHETIC" in m for m in markers)
    db = tmp_path / "syn.duckdb"
    ingest_parquet(one, db=db)
    study = compute_study(db)
    persistence = {r[0]: r for r in _figure(study, "persistence")["rows"]}
    assert 0.30 < persistence["seen once"][2] < 0.42
    assert 0.09 < persistence["persistent"][2] < 0.17
    countries = {r[0]: r[2] for r in _figure(study, "countries")["rows"]}
    assert 0.24 < countries["CN"] < 0.36 and 0.15 < countries["US"] < 0.25
    inventory = {r[0]: r[2] for r in _figure(study, "models_per_host")["rows"]}
    assert 0.35 < inventory["2–3"] < 0.47
    html = tmp_path / "syn.html"
    with html.open("w") as out:
        write_study_html(out, study)
    assert "SYNTHETIC DATA" in html.read_text()


def test_cli_synth_ingest_parquet_and_study(tmp_path: Path) -> None:
    import aicensus.cli.ingest_formats
    import aicensus.cli.lab_synth  # noqa: F401
    from aicensus.cli.lab import lab_group
    from aicensus.cli.scan import ingest_group

    runner = CliRunner()
    out, db = tmp_path / "syn", str(tmp_path / "c.duckdb")
    done = runner.invoke(lab_group, ["synth", "--hosts", "50", "--days", "5", "-o", str(out)])
    assert done.exit_code == 0 and "SYNTHETIC data: 50 hosts" in done.stderr, done.output
    again = runner.invoke(lab_group, ["synth", "--hosts", "5", "--days", "2", "-o", str(out)])
    assert again.exit_code != 0  # never writes into a non-empty directory
    merged = runner.invoke(ingest_group, ["parquet", str(out), "--db", db])
    assert merged.exit_code == 0 and "observations stored" in merged.stderr, merged.output
    study = runner.invoke(
        study_command, ["--db", db, "--persistent-min", "3", "--once-max", "1", "--top", "5"]
    )
    assert study.exit_code == 0, study.output
    doc = json.loads(study.stdout)
    assert doc["meta"]["persistence_rule"]["persistent_min_observations"] == 3
    assert len(_figure(doc, "countries")["rows"]) <= 5
    bad = runner.invoke(study_command, ["--db", db, "--persistent-min", "1"])
    assert bad.exit_code != 0
