"""store/study.py: the study report's queries answer typed records, from the store alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from aicensus.records import ModelRecord, ScanStatus, ServiceObservation
from aicensus.store import Store
from aicensus.store import longitudinal as lon
from aicensus.store.study import StudyQueries
from aicensus.store.study_records import Scale

T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)


def _obs(
    ip: str, day: int, models: list[ModelRecord], product: str = "ollama"
) -> ServiceObservation:
    return ServiceObservation(
        ip=ip, port=11434, scheme="http", status=ScanStatus.IDENTIFIED, product=product,
        observed_at=(T0 + timedelta(days=day)).isoformat(), models=models, source="test",
    )  # fmt: skip


def test_population_geo_and_figure_answers(tmp_path: Path) -> None:
    llama = ModelRecord(name="llama3.1:8b", family="llama", quantization="q4_k_m",
                        parameter_size="8.0B", capabilities=["tools", "completion"], running=True)  # fmt: skip
    db = tmp_path / "q.duckdb"
    with Store.open(db) as store:
        scan = store.begin_scan("ingest")
        store.add_observations(
            scan,
            [_obs("10.0.0.1", d, [llama]) for d in range(3)]
            + [_obs("10.0.0.2", 0, []), _obs("10.0.0.3", 1, [], product="vllm")],
        )
        store.finish_scan(scan)
    with Store.open(db, read_only=True) as store:
        q = StudyQueries(store)
        where = q.select_population(["ollama"], since=T0 + timedelta(hours=1))
        assert "product IN" in where and "observed_at >=" in where
        assert q.size() == (2, 1)  # day 0 and the vllm host are outside
        q.select_population()
        assert q.size() == (5, 3) and q.hosts_by_product() == {"ollama": 2, "vllm": 1}
        assert sorted(q.ips()) == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
        q.add_geo([("10.0.0.1", "DE", 3320, "DTAG", "AS3320", "telecom/residential", False,
                    "asn"), ("10.0.0.2", "DE", None, None, None, "unknown", False, "none")])  # fmt: skip
        q.prepare(lon.PersistenceRule(persistent_min_observations=3))
        scale = q.scale()
        assert isinstance(scale, Scale)
        assert (scale.observations, scale.hosts, scale.host_days, scale.countries) == (5, 3, 5, 1)
        assert scale.first == T0.replace(tzinfo=None)
        persistence = q.persistence(window_days=3)
        assert persistence.classes["persistent"].hosts == 1
        assert persistence.classes["seen_once"].hosts == 2
        assert q.running().hosts == 1 and q.inventory().bins == {"0": 2, "1": 1}
        caps = q.capabilities(["tools", "vision"], ["tools", "completion"])
        assert caps.hosts == {"tools": 1, "vision": 0} and caps.exact == 1
        assert q.quantization(5).levels == [("Q4_K_M", 1)]
        assert q.parameter_bands() == {"8–14B": 1}
        assert q.tiers().tiers["telecom/residential"].hosts == 1
        services = q.latest_services(sample=2)
        assert services.services == 3 and len(services.latest) == 2
        assert all(isinstance(o, ServiceObservation) for o in services.latest)
