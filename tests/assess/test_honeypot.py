"""The honeypot classifier (assess/honeypot.py): each evidence kind with a positive case and a
near miss, the verdict rules, the data file, and the store's reading of the same evidence."""

from __future__ import annotations

from pathlib import Path

import pytest

from aicensus.assess import honeypot as hp
from aicensus.records import (
    Evidence,
    Exchange,
    ModelRecord,
    RequestLogEntry,
    ScanStatus,
    ServiceObservation,
)
from aicensus.store import Store
from aicensus.store.honeypots import store_honeypot_rows

CANARY = "/aicensus-canary-0123456789ab"


def ex(path: str, body: str, status: int = 200, **headers: str) -> Exchange:
    return Exchange(method="GET", path=path, status=status, body=body.encode(), headers=headers)


def kinds(evidence: list[Evidence]) -> dict[str, float]:
    out: dict[str, float] = {}
    for ev in evidence:
        item = hp.from_evidence(ev)
        assert item is not None
        out[item.kind] = max(out.get(item.kind, 0.0), item.weight)
    return out


def verdict(evidence: list[Evidence]) -> str:
    items = [i for i in map(hp.from_evidence, evidence) if i is not None]
    return hp.verdict_of(items)[0]


# ---------------------------------------------------------------- the data file


def test_every_marker_cites_its_source_and_matches_something() -> None:
    know = hp.knowledge()
    assert {m.honeypot for m in know.markers} >= {"Beelzebub", "Galah", "Lophiid"}
    for m in know.markers:
        assert m.source.repo and m.source.path and len(m.source.commit or "") == 40, m.id
    for rule in know.version_routes:
        assert rule.source.doc or rule.source.commit, rule.product


# ---------------------------------------------------------------- known markers


def test_beelzebub_default_page_is_a_honeypot() -> None:
    page = (
        "<html>\n  <header>\n    <title>Wordpress 6 test page</title>\n  </header>\n  <body>\n"
        "    <h1>Hello from Wordpress</h1>\n  </body>\n</html>"
    )
    found = hp.host_evidence([ex("/", page, Server="Apache/2.4.53 (Debian)")])
    assert kinds(found) == {"known-marker": 1.0}
    assert "Beelzebub" in found[0].marker and found[0].probe == "GET /"
    assert verdict(found) == hp.HONEYPOT


def test_galah_example_answer_is_a_honeypot() -> None:
    body = "<!DOCTYPE html><html><head><title>Login Page</title></head><body>test</body></html>"
    assert verdict(hp.host_evidence([ex("/login", body)])) == hp.HONEYPOT


def test_real_wordpress_and_a_lone_empty_page_are_not() -> None:
    page = "<html><head><title>My blog</title></head><body><h1>Hello from my blog</h1></body>"
    assert hp.host_evidence([ex("/", page, Server="Apache/2.4.53 (Debian)")]) == []
    # Lophiid's fallback `<html></html>`: one page is nothing (KoboldCpp's / is that too) …
    assert hp.host_evidence([ex("/", "<html></html>")]) == []
    # … the same on every path counts, but too plain to name anything alone …
    found = hp.host_evidence([ex(p, "<html></html>") for p in ("/", "/api/tags", "/v1/models")])
    assert kinds(found) == {"known-marker": 0.25} and verdict(found) == hp.NONE
    # … nor to make shared inventories (population evidence) a honeypot
    population = [hp.inventory_item(30), hp.banner_item(30)]
    weak = [i for i in map(hp.from_evidence, found) if i is not None]
    assert hp.verdict_of(weak + population)[0] == hp.SUSPICIOUS
    # a marker's status must match: the Galah page as a 404 is not the example answer
    body = "<!DOCTYPE html><html><head><title>Login Page</title></head><body>test</body></html>"
    assert hp.host_evidence([ex("/login", body, status=404)]) == []


# ---------------------------------------------------------------- echo


def test_canary_echoed_with_success_is_a_honeypot() -> None:
    page = f"<html><h1>Index of {CANARY}</h1></html>"
    found = hp.host_evidence([ex("/", "Ollama is running"), ex(CANARY, page)])
    assert kinds(found) == {"echo": 1.0} and verdict(found) == hp.HONEYPOT


def test_canary_echo_near_misses() -> None:
    # A 404 page that names the missing path (Express, Django) is ordinary.
    assert hp.host_evidence([ex(CANARY, f"Cannot GET {CANARY}", status=404)]) == []
    # A single-page app's index for every path is ordinary too.
    assert hp.host_evidence([ex(CANARY, "<html><div id=app></div></html>")]) == []
    # A JSON success for a random path is odd for an API, but only suspicious.
    found = hp.host_evidence([ex(CANARY, '{"status": "ok"}')])
    assert kinds(found) == {"echo": 0.5} and verdict(found) == hp.SUSPICIOUS


def test_many_paths_reflected_is_a_honeypot_a_self_link_is_not() -> None:
    paths = ["/api/tags", "/v1/models", "/api/version", "/props", "/server_info"]
    llm_pages = [ex(p, f"<html><title>{p}</title><p>Listing for {p}</p></html>") for p in paths]
    assert verdict(hp.host_evidence(llm_pages)) == hp.HONEYPOT
    assert verdict(hp.host_evidence(llm_pages[:3])) == hp.SUSPICIOUS
    # Spring's actuator links to itself: one route echoing its path names nothing.
    actuator = ex("/actuator", '{"_links":{"self":{"href":"http://h/actuator"}}}')
    assert hp.host_evidence([actuator, ex("/api/tags", '{"models": []}')]) == []


def test_a_server_rendered_app_linking_to_its_own_routes_is_not() -> None:
    # Jupyter-like pages: each route's page links to itself (nav, form action)
    routes = ["/login", "/tree", "/lab", "/api/kernelspecs", "/hub/home"]
    pages = [ex(r, f'<html><form action="{r}?next=%2F"><a href="{r}">x</a></form>{i}</html>')
             for i, r in enumerate(routes)]  # fmt: skip
    assert hp.host_evidence(pages, product="jupyter", own_paths=set(routes)) == []
    # … while the same answers to routes that are not the product's own are reflection
    assert verdict(hp.host_evidence(pages, product="jupyter", own_paths={"/login"})) == (
        hp.SUSPICIOUS
    )


def test_identical_json_on_many_routes_is_suspicious() -> None:
    same = '{"object":"list","data":[]}'
    routes = ["/v1/models", "/api/tags", "/info", "/server_info"]
    found = hp.host_evidence([ex(r, same) for r in routes])
    assert kinds(found) == {"echo": 0.5} and verdict(found) == hp.SUSPICIOUS
    assert hp.host_evidence([ex(r, same) for r in routes[:3]]) == []


def test_one_document_under_many_prefixes_of_one_route_is_not() -> None:
    """Label Studio 1.23.2 (real server, lab, 2026-12-05) answers every path ending in
    `version` with its version document: its `re_path(r'version/', ...)` is unanchored
    (HumanSignal/label-studio label_studio/core/urls.py @ea6bebb)."""
    doc = '{"release": "1.23.2", "label-studio-os-package": {"version": "1.23.2"}}'
    prefixes = ["/api/version", "/api/v1/version", "/api/v2/version", "/backend-api/v2/version"]
    assert hp.host_evidence([ex(r, doc) for r in prefixes]) == []
    # The same document on four routes that name four different things still counts.
    others = ["/api/version", "/api/tags", "/v1/models", "/api/ps/"]
    found = hp.host_evidence([ex(r, doc) for r in others])
    assert kinds(found) == {"echo": 0.5} and verdict(found) == hp.SUSPICIOUS


# ---------------------------------------------------------------- contradictions


def test_rival_products() -> None:
    found = hp.host_evidence([], claimed=["ollama", "vllm"])
    assert kinds(found) == {"contradiction": 0.5} and verdict(found) == hp.SUSPICIOUS
    assert hp.host_evidence([], claimed=["ollama"]) == []
    # fingerprint.choose's own rule (three or more products) reads back as decisive
    legacy = Evidence(kind="honeypot", probe="(all probes)", marker="claims to be 3 products")
    assert verdict([legacy]) == hp.HONEYPOT


# ---------------------------------------------------------------- version and route


def test_version_older_than_a_route_it_serves() -> None:
    answers = [ex("/api/version", '{"version":"0.1.32"}'), ex("/api/ps", '{"models":[]}')]
    found = hp.host_evidence(answers, product="ollama", version="0.1.32")
    assert kinds(found) == {"version-route": 1.0} and verdict(found) == hp.HONEYPOT
    assert "0.1.38" in found[0].marker


@pytest.mark.parametrize(
    ("version", "status", "product"),
    [("0.1.38", 200, "ollama"), ("0.12.6", 200, "ollama"), ("0.1.32", 404, "ollama"),
     ("not-a-version", 200, "ollama"), ("0.1.32", 200, "vllm")],
)  # fmt: skip
def test_version_route_near_misses(version: str, status: int, product: str) -> None:
    answers = [ex("/api/ps", '{"models":[]}', status=status)]
    assert hp.host_evidence(answers, product=product, version=version) == []


# ---------------------------------------------------------------- population


def model(name: str = "llama3.2:latest", digest: str | None = "a80c4f17") -> ModelRecord:
    return ModelRecord(name=name, digest=digest, size_bytes=2019393189 if digest else None)


def service(
    ip: str,
    models: list[ModelRecord],
    *,
    evidence: list[Evidence] | None = None,
    tags_bytes: int = 337,
    observed_at: str = "2026-11-01T00:00:00+00:00",
) -> ServiceObservation:
    log = [
        RequestLogEntry(method="GET", path="/", status=200, bytes=17, ms=1.0),
        RequestLogEntry(method="GET", path="/api/version", status=200, bytes=20, ms=1.0),
        RequestLogEntry(method="GET", path="/api/tags", status=200, bytes=tags_bytes, ms=1.0),
        RequestLogEntry(method="GET", path=f"/aicensus-canary-{ip[-6:]}", status=200, bytes=9,
                        ms=1.0),
    ]  # fmt: skip
    return ServiceObservation(
        ip=ip, port=11434, scheme="http", status=ScanStatus.IDENTIFIED, product="ollama",
        version="0.12.6", confidence=0.95, models=models, evidence=evidence or [],
        request_log=log, observed_at=observed_at,
    )  # fmt: skip


def echo_evidence() -> list[Evidence]:
    return [
        hp.HoneypotEvidence(kind="echo", detail="canary echoed", weight=1.0).to_evidence(
            f"GET {CANARY}"
        )
    ]


def test_a_small_fleet_sharing_models_is_not_a_honeypot() -> None:
    fleet = [service(f"10.0.0.{i}", [model()]) for i in range(3)]
    assert hp.population_evidence(fleet, min_addresses=25) == {}
    assert hp.classify(fleet) == {}


def test_a_large_fleet_sharing_models_is_only_suspicious() -> None:
    fleet = [service(f"10.0.{i // 200}.{i % 200}", [model()]) for i in range(30)]
    verdicts = hp.classify(fleet, min_addresses=25)
    assert len(verdicts) == 30
    v = verdicts["10.0.0.7"]
    assert v.verdict == hp.SUSPICIOUS
    assert {e.kind for e in v.evidence} == {"identical-inventory", "identical-banner"}
    assert all(e.scope == "population" for e in v.evidence)


def test_fifty_identical_banners_with_canary_echo_are_honeypots() -> None:
    traps = [service(f"10.1.0.{i}", [model()], evidence=echo_evidence()) for i in range(50)]
    real = [service(f"10.2.0.{i}", [model("qwen3:8b", f"d{i}")]) for i in range(3)]
    verdicts = hp.classify(traps + real, min_addresses=25)
    assert sum(v.verdict == hp.HONEYPOT for v in verdicts.values()) == 50
    assert not any(ip.startswith("10.2.") for ip in verdicts)
    v = verdicts["10.1.0.3"]
    assert {e.kind for e in v.evidence} == {"echo", "identical-inventory", "identical-banner"}
    assert "50 addresses" in next(e.detail for e in v.evidence if e.kind == "identical-banner")


def test_inventories_that_prove_nothing_are_not_compared() -> None:
    # bare names (a gateway's vendor list) and empty inventories are shared by construction
    names_only = [service(f"10.3.0.{i}", [model(digest=None)]) for i in range(40)]
    empty = [service(f"10.4.0.{i}", []) for i in range(40)]
    assert hp.population_evidence(names_only + empty, min_addresses=25) == {}
    # same models, answers of different lengths: an inventory match but no banner match
    mixed = [service(f"10.5.0.{i}", [model()], tags_bytes=300 + i) for i in range(30)]
    found = hp.population_evidence(mixed, min_addresses=25)
    assert {e.kind for e in found["10.5.0.1"]} == {"identical-inventory"}


def test_summary_counts_and_lists_named_hosts() -> None:
    traps = [service(f"10.1.0.{i}", [model()], evidence=echo_evidence()) for i in range(30)]
    weak = [service("10.9.0.1", [], evidence=[hp.HoneypotEvidence(
        kind="echo", detail="json", weight=0.5).to_evidence()])]  # fmt: skip
    listed = hp.summary(hp.classify(traps + weak, min_addresses=25))
    assert listed["honeypots"] == 30 and listed["suspicious"] == 1
    assert listed["by_kind"]["echo"] == 31 and len(listed["hosts"]) == 31


# ---------------------------------------------------------------- the store says the same


def test_store_rows_classify_as_the_observations_do(tmp_path: Path) -> None:
    traps = [service(f"10.1.0.{i}", [model()], evidence=echo_evidence()) for i in range(30)]
    fleet = [service(f"10.6.0.{i}", [model("gemma3:4b", "beef")], tags_bytes=400 + i)
             for i in range(30)]  # fmt: skip
    real = [service("10.7.0.1", [model("qwen3:8b", "cafe")])]
    observations = traps + fleet + real
    db = tmp_path / "s.duckdb"
    with Store.open(db) as store:
        scan = store.begin_scan("scan")
        store.add_observations(scan, observations)
        store.finish_scan(scan)
    with Store.open(db, read_only=True) as store:
        rows = store_honeypot_rows(store, 25)
    stored = hp.classify_stored(rows.host, rows.inventory, rows.banner)
    direct = hp.classify(observations, min_addresses=25)
    assert {ip: v.verdict for ip, v in stored.items()} == {
        ip: v.verdict for ip, v in direct.items()
    }
    assert {ip: {e.kind for e in v.evidence} for ip, v in stored.items()} == {
        ip: {e.kind for e in v.evidence} for ip, v in direct.items()
    }
    assert sum(v.verdict == hp.HONEYPOT for v in stored.values()) == 30
    assert stored["10.6.0.4"].verdict == hp.SUSPICIOUS


def test_store_finds_version_route_in_the_request_log(tmp_path: Path) -> None:
    """A store written before the classifier (no honeypot evidence kept) is judged on its
    request log: an Ollama 0.1.32 that answered /api/ps; a 0.12.6 that did is not."""

    def ollama(ip: str, version: str, ps_status: int) -> ServiceObservation:
        obs = service(ip, [model("qwen3:8b", ip)])
        obs.version = version
        obs.request_log.append(
            RequestLogEntry(method="GET", path="/api/ps", status=ps_status, bytes=15, ms=1.0)
        )
        return obs

    db = tmp_path / "old.duckdb"
    with Store.open(db) as store:
        scan = store.begin_scan("ingest")
        store.add_observations(scan, [ollama("10.0.0.1", "0.1.32", 200),
                                      ollama("10.0.0.2", "0.12.6", 200),
                                      ollama("10.0.0.3", "0.1.32", 404)])  # fmt: skip
        store.finish_scan(scan)
    with Store.open(db, read_only=True) as store:
        rows = store_honeypot_rows(store, 25, stale=hp.stale_routes)
    assert rows.routes == [("10.0.0.1", 11434, "ollama", "0.1.32", "/api/ps")]
    verdicts = hp.classify_stored(rows.host, rows.inventory, rows.banner, routes=rows.routes)
    assert list(verdicts) == ["10.0.0.1"] and verdicts["10.0.0.1"].verdict == hp.HONEYPOT
    assert verdicts["10.0.0.1"].evidence[0].kind == "version-route"
    assert hp.stale_routes([("ollama", "0.1.37"), ("ollama", "v0.1.38"), ("vllm", "0.1.0"),
                            ("ollama", "dev")]) == [("ollama", "0.1.37", "/api/ps")]  # fmt: skip
