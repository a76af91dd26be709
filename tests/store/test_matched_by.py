"""What a model's attribution rests on (`matched_by`, schema 6) is stored with it and read back."""

from __future__ import annotations

from pathlib import Path

import duckdb

from aicensus.ingest.files import ingest_file, ingest_parquet
from aicensus.lab.synth import synthesize
from aicensus.store import Store

REAL = Path(__file__).parents[1] / "ingest_formats" / "real"


def _models(db: Path) -> dict[str, tuple[str | None, str | None, float]]:
    with Store.open(db, read_only=True) as store:
        return {
            m.name: (m.matched_by, m.developer, m.attribution_confidence)
            for o in store.observations()
            for m in o.models
        }


def test_an_ingested_family_match_is_stored_as_such_below_a_name_match(tmp_path: Path) -> None:
    db = tmp_path / "c.duckdb"
    ingest_file(REAL / "censys-platform-host-view.json", "censys", db=db)
    models = _models(db)
    by_name, by_family = models["llama3.2:3b"], models["my-assistant:latest"]
    assert by_name[0] == "name" and by_name[1] == "Meta"
    # A custom name: only Ollama's details.family (qwen3) says anything, so no developer.
    assert by_family[0] == "family" and by_family[1] is None
    assert 0 < by_family[2] < by_name[2]


def test_a_dataset_written_before_matched_by_imports_with_it_unrecorded(tmp_path: Path) -> None:
    synthesize(tmp_path / "syn", hosts=30, days=3, seed=5)
    fresh = tmp_path / "fresh.duckdb"
    ingest_parquet(tmp_path / "syn", db=fresh)
    assert any(v[0] is not None for v in _models(fresh).values())
    # The same dataset as written before schema 6: model_sets without the column.
    con = duckdb.connect()
    for part in (tmp_path / "syn" / "model_sets").rglob("*.parquet"):
        old = part.with_suffix(".old")
        part.rename(old)
        con.execute(
            f"COPY (SELECT * EXCLUDE (matched_by) FROM read_parquet('{old}')) "
            f"TO '{part}' (FORMAT parquet)"
        )
        old.unlink()
    con.close()
    older = tmp_path / "older.duckdb"
    result = ingest_parquet(tmp_path / "syn", db=older)
    assert result.observations > 0
    back = _models(older)
    assert back.keys() == _models(fresh).keys()
    assert {v[0] for v in back.values()} == {None}
    assert {k: v[1:] for k, v in back.items()} == {k: v[1:] for k, v in _models(fresh).items()}


def test_reports_say_what_a_stored_attribution_rests_on(tmp_path: Path) -> None:
    import io

    from aicensus.assess.compliance import chain_of
    from aicensus.report.cyclonedx import _model_component
    from aicensus.report.html import _host_section
    from aicensus.report.render import write_table

    db = tmp_path / "c.duckdb"
    ingest_file(REAL / "censys-platform-host-view.json", "censys", db=db)
    with Store.open(db, read_only=True) as store:
        [obs] = [o for o in store.observations() if o.models]
    out = io.StringIO()
    write_table(out, [obs], explain=True)
    lines = {ln.split()[1]: ln for ln in out.getvalue().splitlines() if "    model " in ln}
    assert "[matched by family, 0.40]" in lines["my-assistant:latest"]
    assert "[matched by name, " in lines["llama3.2:3b"]
    family = next(m for m in obs.models if m.name == "my-assistant:latest")
    props = {p.name: p.value for p in _model_component(obs, 0, family).properties}
    assert props["aicensus:matched_by"] == "family"
    assert chain_of(family).matched_by.startswith("model family only")
    page = _host_section(obs, [])
    assert any("unknown <small>(matched by family, 0.40)</small>" in part for part in page)


def test_the_study_counts_family_only_models_apart_from_unattributed(tmp_path: Path) -> None:
    from aicensus.store import longitudinal as lon
    from aicensus.store.study import StudyQueries

    db = tmp_path / "c.duckdb"
    ingest_file(REAL / "censys-platform-host-view.json", "censys", db=db)
    with Store.open(db, read_only=True) as store:
        q = StudyQueries(store)
        q.select_population()
        q.prepare(lon.PersistenceRule())
        found = {k: n for k, _, n in q.attribution("developer", 10)}
    assert found == {"Meta": 1, "(family only, developer unknown)": 1}


def test_the_dashboard_model_list_says_family_only(tmp_path: Path) -> None:
    from aicensus.store.dashboard import models_seen

    db = tmp_path / "c.duckdb"
    ingest_file(REAL / "censys-platform-host-view.json", "censys", db=db)
    with Store.open(db, read_only=True) as store:
        seen = {m.name: m for m in models_seen(store)}
    assert seen["my-assistant:latest"].matched_by == "family"
    assert seen["my-assistant:latest"].developer is None
    assert (seen["llama3.2:3b"].matched_by, seen["llama3.2:3b"].developer) == ("name", "Meta")
