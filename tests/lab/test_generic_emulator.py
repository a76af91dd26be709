"""The data-driven emulator and the --all lab layout: pure checks, no sockets."""

from __future__ import annotations

import base64
import ipaddress
import json
import tomllib
from pathlib import Path

import pytest

from aicensus.errors import LabError
from aicensus.fingerprint.load import builtin_signatures
from aicensus.lab import layout
from aicensus.lab.emulators.common import EmulatorConfigError
from aicensus.lab.emulators.generic import (
    LAB_KEY,
    LAB_PASSWORD,
    LAB_USER,
    available_products,
    load_table,
    parse_site,
    respond,
)

ROOT = Path(__file__).resolve().parents[2]
SIGNATURE_IDS = {s.id for s in builtin_signatures()}


def call(product: str, variant: str, path: str, method: str = "GET", headers=None):  # type: ignore[no-untyped-def]
    site = parse_site(product, variant, "127.0.0.1", "8000")
    hdrs = {"Host": "127.0.0.1:8000", **(headers or {})}
    resp, refused, _route = respond(site, method, path, hdrs)
    body = resp.body if isinstance(resp.body, bytes) else b""
    return resp.status, dict(resp.headers), body, refused


def jbody(body: bytes) -> object:
    return json.loads(body)


@pytest.mark.parametrize("table", available_products())
def test_every_table_loads_and_names_a_known_product(table: str) -> None:
    spec = load_table(table)
    assert spec.product is None or spec.product in SIGNATURE_IDS
    assert spec.variants and set(spec.variants) <= {"open", "key"}
    for variant in spec.variants:
        status, _h, _b, _r = call(table, variant, "/aicensus-no-such-path")
        assert 200 <= status < 500


def test_fastapi_not_found_and_method_not_allowed() -> None:
    status, headers, body, _ = call("vllm", "open", "/nope")
    assert (status, jbody(body)) == (404, {"detail": "Not Found"})
    assert headers["Server"] == "uvicorn" and headers["Content-Type"] == "application/json"
    status, headers, body, _ = call("vllm", "open", "/v1/models", "DELETE")
    assert (status, jbody(body)) == (405, {"detail": "Method Not Allowed"})
    assert "GET" in headers["Allow"]
    assert call("vllm", "open", "/version", "HEAD")[0] == 200  # Starlette: HEAD follows GET


def test_framework_answers_differ_per_product() -> None:
    assert call("milvus", "open", "/nope")[2] == b"404 page not found"  # gin
    assert "Server" not in call("milvus", "open", "/nope")[1]
    status, headers, body, _ = call("anythingllm", "open", "/anything/at/all")  # Express SPA
    assert status == 200 and b"<title>AnythingLLM" in body
    assert headers["X-Powered-By"] == "Express"
    status, _h, body, _ = call("lm-studio", "open", "/nope")  # LM Studio: 200 anyway
    assert status == 200 and jbody(body) == {"error": "Unexpected endpoint or method. (GET /nope)"}
    assert call("comfyui", "open", "/nope")[2] == b"404: Not Found"  # aiohttp
    assert call("triton", "open", "/nope")[0] == 400  # libevhtp: 400, no body
    status, _h, body, _ = call("weaviate", "open", "/nope")  # go-swagger
    assert (status, jbody(body)) == (404, {"code": 404, "message": "path /nope was not found"})


def test_koboldcpp_matches_path_suffixes_like_endswith() -> None:
    status, headers, body, _ = call("koboldcpp", "open", "/api/v1/models/")
    assert status == 200 and jbody(body)["data"][0]["owned_by"] == "koboldcpp"  # type: ignore[index]
    assert headers["Server"] == "ConcedoLlamaForKoboldServer"
    assert b"this endpoint does not exist" in call("koboldcpp", "open", "/nope")[2]


def test_vllm_key_guards_only_v1_paths() -> None:
    assert call("vllm", "key", "/version")[0] == 200
    status, _h, body, _ = call("vllm", "key", "/v1/models")
    assert (status, jbody(body)) == (401, {"error": "Unauthorized"})
    assert call("vllm", "key", "/v1/anything")[0] == 401  # middleware runs before routing
    auth = {"Authorization": f"Bearer {LAB_KEY}"}
    assert call("vllm", "key", "/v1/models", headers=auth)[0] == 200


def test_auth_schemes() -> None:
    assert call("qdrant", "key", "/")[0] == 200  # always public
    assert call("qdrant", "key", "/collections")[0] == 401
    assert call("qdrant", "key", "/collections", headers={"api-key": LAB_KEY})[0] == 200
    status, _h, body, _ = call("triton", "key", "/v2/repository/index", "POST")
    assert status == 403 and b"expecting header 'admin-key'" in body
    assert call("triton", "key", "/v2/health/live")[0] == 200
    basic = "Basic " + base64.b64encode(f"{LAB_USER}:{LAB_PASSWORD}".encode()).decode()
    status, headers, _b, _ = call("sd-webui", "key", "/sdapi/v1/sd-models")
    assert status == 401 and headers["WWW-Authenticate"] == "Basic"
    assert (
        call("sd-webui", "key", "/sdapi/v1/sd-models", headers={"Authorization": basic})[0] == 200
    )
    assert call("sd-webui", "key", "/config")[0] == 200  # --api-auth guards /sdapi only


def test_variant_specific_answers() -> None:
    assert jbody(call("xinference", "open", "/v1/cluster/auth")[2]) == {"auth": False}
    assert jbody(call("xinference", "key", "/v1/cluster/auth")[2]) == {"auth": True}
    model = jbody(call("koboldcpp", "key", "/api/v1/model")[2])
    assert model == {"result": "koboldcpp/protected-model"}


def test_jan_checks_the_host_before_the_key() -> None:
    site = parse_site("jan", "key", "127.0.0.5", "1337")
    resp, _r, _ = respond(site, "GET", "/v1/models", {"Host": "evil.example:1337"})
    assert (resp.status, resp.body) == (403, b"Invalid host header")
    resp, _r, _ = respond(site, "GET", "/v1/models", {"Host": "127.0.0.5:1337"})
    assert (resp.status, resp.body) == (401, b"Missing authorization header")
    resp, _r, _ = respond(site, "GET", "/openapi.json", {"Host": "evil.example"})
    assert resp.status == 200  # whitelisted


def test_write_routes_are_refused_and_flagged() -> None:
    status, _h, body, refused = call("vllm", "open", "/v1/chat/completions", "POST")
    assert status == 400 and refused and b"never executed" in body
    assert call("sglang", "open", "/flush_cache")[3]  # a GET that acts: refused too
    assert call("anythingllm", "open", "/api/env-dump")[3]
    assert not call("vllm", "open", "/v1/models")[3]


def test_sites_bind_loopback_only() -> None:
    with pytest.raises(EmulatorConfigError, match="loopback"):
        parse_site("vllm", "open", "10.0.0.1", "8000")
    with pytest.raises(EmulatorConfigError, match="variant"):
        parse_site("comfyui", "key", "127.0.0.1", "8188")  # no auth of its own


def test_honeypot_claims_many_products() -> None:
    spec = load_table("honeypot")
    paths = {r.pattern for r in spec.routes}
    assert {"/", "/props", "/api/tags", "/v1/models", "/get_model_info", "/info"} <= paths
    assert call("honeypot", "open", "/")[2] == b"Ollama is running"


# --------------------------------------------------------------------------- layout


def test_layout_is_deterministic_distinct_and_loopback() -> None:
    services = layout.full_layout("127.0.0.0/24")
    assert services == layout.full_layout("127.0.0.0/24")
    addresses = [s.address for s in services]
    assert len(set(addresses)) == len(addresses)
    for addr in addresses:
        ip = ipaddress.ip_address(addr)
        assert ip.is_loopback and ip in ipaddress.ip_network("127.0.0.0/24")
        assert int(str(ip).rsplit(".", 1)[1]) >= layout.FIRST_HOST
    products = {s.expected_product for s in services if s.expected_product}
    # every product with a lab recipe (`lab:` in its signature) has a lab server; the products
    # added from their sources without one yet are listed by `aicensus signatures list`
    with_recipe = {sig.id for sig in builtin_signatures() if sig.lab is not None}
    assert products == with_recipe and {"ollama", "vllm", "llama.cpp"} <= products
    assert sum(s.expected_honeypot for s in services) == 1
    assert {s.port for s in services if s.kind == "lookalike"} >= {8080, 11434}


def test_layout_refuses_non_loopback_networks() -> None:
    for network in ("10.0.0.0/24", "0.0.0.0/24", "192.168.1.0/24", "not-a-network"):
        with pytest.raises(LabError):
            layout.full_layout(network)


def test_layout_selection() -> None:
    services = layout.full_layout()
    assert {s.kind for s in layout.select(services, "decoys")} == {"decoy", "honeypot"}
    assert [s.name for s in layout.select(services, "vllm-key")] == ["vllm-key"]
    by_product = layout.select(services, "vllm")
    assert {s.name for s in by_product} == {"vllm-open", "vllm-key", "lookalike-vllm-11434"}
    with pytest.raises(LabError, match="unknown lab selection"):
        layout.select(services, "nonsense")


def test_lab_requirements_match_the_pyproject_extra() -> None:
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]["lab"]
    assert tuple(extra) == layout.LAB_REQUIREMENTS
