"""The `--all` lab against the scanner.

* fast (always): every emulator (open + auth variants), the Ollama emulator, look-alikes
  and decoys on a private loopback /24; `aicensus scan NET --ports ai` through the library
  must reproduce the ground truth exactly, and no server may have received a write or
  compute request;
* real (needs the `lab` extra): Gradio, Chroma, LiteLLM, MCP, llama-cpp-python's
  server, Jupyter, MLflow, FastChat, TensorBoard, BentoML, and Ray and Milvus (each in
  network namespaces of its own, so root) (and llama.cpp's llama-server where built); from
  installs of their own (`lab setup --all`): SillyTavern and promptfoo (npm); scanned the same
  way, and each accepted by its official client. (The own-venv products, TorchServe and
  Infinity among them: test_lab_all_venvs.py.) Skipped when a product is missing, unless
  $AICENSUS_REQUIRE_LAB_ALL is set (CI), where a missing product fails.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from aicensus import api
from aicensus.cli.lab import lab_group
from aicensus.errors import LabError
from aicensus.lab import layout, llama_server
from aicensus.lab.accuracy import compare, render
from aicensus.lab.full import FullLab
from aicensus.records import ServiceObservation
from tests.support.lab import ENV_REQUIRE_ALL, free_network, lab_all_required, write_requests

FAST = "emulators,ollama,lookalikes,decoys"


def _get(url: str) -> tuple[int, bytes]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def scan(network: str, addresses: list[str] | None = None) -> list[ServiceObservation]:
    observed: list[ServiceObservation] = []
    api.scan(api.plan_targets(addresses or [network], ports="ai"), on_observation=observed.append)
    return observed


@pytest.fixture(scope="module")
def fast_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FullLab]:
    lab = FullLab(tmp_path_factory.mktemp("lab-all") / "all", network=free_network(), only=FAST)
    lab.up()
    try:
        yield lab
    finally:
        lab.down()


def test_scan_of_the_emulated_lab_matches_ground_truth(fast_lab: FullLab) -> None:
    truth = fast_lab.ground_truth()
    assert len(truth) == len(layout.select(fast_lab.layout, FAST))
    report = compare(truth, scan(fast_lab.network))
    assert report.perfect, render(report)
    assert report.overall.tp >= 45 and report.auth_checked == report.overall.tp
    assert report.honeypots_flagged == 1 and report.decoys_correct == report.decoys >= 4
    assert not write_requests(fast_lab)


def test_ground_truth_and_status_from_the_cli(fast_lab: FullLab) -> None:
    result = CliRunner().invoke(
        lab_group, ["status", "--all", "--json", "--dir", str(fast_lab.dir.parent)]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["network"] == fast_lab.network
    running = {t["name"]: t for t in doc["ground_truth"] if t["running"]}
    assert running["honeypot"]["suspected_honeypot"] is True
    assert running["vllm-key"] == {
        **running["vllm-key"],
        "product": "vllm",
        "auth": "auth_required",
        "port": 8000,
    }
    assert running["decoy-spa"]["product"] is None
    assert len({t["address"] for t in doc["ground_truth"]}) == len(doc["ground_truth"])


def test_each_service_logs_its_own_requests(fast_lab: FullLab) -> None:
    entries = fast_lab.service_requests("qdrant-key")
    assert entries and {e["local"] for e in entries} == {fast_lab.service("qdrant-key").address}


# --------------------------------------------------------------------------- real products

# TorchServe and Infinity run from own venvs: tests/lab/test_lab_all_venvs.py.
REAL_PRODUCTS = (
    "gradio", "chroma", "litellm", "mcp", "llama-cpp-python", "jupyter", "mlflow", "fastchat",
    "tensorboard", "ray", "milvus", "bentoml", "marimo", "litserve", "sillytavern", "promptfoo",
)  # fmt: skip


@pytest.fixture(scope="module")
def real_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FullLab]:
    selection = list(REAL_PRODUCTS)
    if llama_server.find_llama_server() is not None or lab_all_required():
        selection.append("llama.cpp")  # LiteLLM routes to the lab's llama-server
    lab = FullLab(tmp_path_factory.mktemp("lab-real"), network=free_network(), only=selection)
    if lab.missing:
        message = "real lab products missing: " + "; ".join(
            f"{n}: {', '.join(m)}" for n, m in lab.missing.items()
        )
        if lab_all_required():
            pytest.fail(message + f" (${ENV_REQUIRE_ALL} is set)")
        pytest.skip(message + " (aicensus lab setup --all)")
    lab.up()
    try:
        yield lab
    finally:
        lab.down()


@pytest.fixture(scope="module")
def real_scan(real_lab: FullLab) -> list[ServiceObservation]:
    truth = real_lab.ground_truth()
    return scan(real_lab.network, sorted({str(t["address"]) for t in truth}))


def test_scan_of_the_real_products_matches_ground_truth(
    real_lab: FullLab, real_scan: list[ServiceObservation]
) -> None:
    truth = real_lab.ground_truth()
    assert {t["product"] for t in truth} >= set(REAL_PRODUCTS)
    report = compare(truth, real_scan)
    assert report.perfect, render(report)
    assert not write_requests(real_lab)


def test_real_notebook_tracking_and_fastchat_versions(
    real_lab: FullLab, real_scan: list[ServiceObservation]
) -> None:
    """Jupyter, MLflow and FastChat (invisible or misjudged before, issue 17 item 5): the
    scan reports the installed version wherever the server shows it without credentials."""
    from importlib.metadata import version

    seen = {(o.ip, o.port): o for o in real_scan}
    expected = {
        "jupyter-open": ("jupyter", version("jupyter_server"), "open"),
        "jupyter-key": ("jupyter", version("jupyter_server"), "auth_required"),
        "mlflow-open": ("mlflow", version("mlflow"), "open"),
        "mlflow-key": ("mlflow", None, "auth_required"),  # basic auth guards /version too
        "fastchat-open": ("fastchat", None, "open"),  # FastChat publishes no version
        "fastchat-key": ("fastchat", None, "auth_required"),
        "tensorboard-open": ("tensorboard", version("tensorboard"), "open"),
    }
    for name, want in expected.items():
        svc = real_lab.service(name)
        obs = seen[(svc.address, svc.port)]
        assert (obs.product, obs.version, str(obs.auth)) == want, name
        assert real_lab.service_requests(name), f"{name}: the relay logged nothing"


def test_real_npm_products_versions(real_lab: FullLab, real_scan: list[ServiceObservation]) -> None:
    """The products installed by npm (SillyTavern, promptfoo): the version each pins, wherever
    the server shows it to a stranger, and the auth state of each mode (SillyTavern's
    passwordless accounts sign anyone in; with a password they show the login form, and
    tests/lab/test_lab_sillytavern.py signs in for real)."""
    seen = {(o.ip, o.port): o for o in real_scan}
    expected = {
        "sillytavern-open": ("sillytavern", "1.19.0", "open"),
        "sillytavern-key": ("sillytavern", None, "auth_required"),  # basic auth guards /version
        "sillytavern-accounts": ("sillytavern", None, "open"),  # /version 403, /login signs in
        "sillytavern-accounts-password": ("sillytavern", None, "auth_required"),  # login form
        "sillytavern-whitelist": ("sillytavern", None, "auth_required"),
        "promptfoo-real-open": ("promptfoo", "0.121.20", "open"),
    }
    for name, want in expected.items():
        svc = real_lab.service(name)
        obs = seen[(svc.address, svc.port)]
        assert (obs.product, obs.version, str(obs.auth)) == want, name
        assert real_lab.service_requests(name), f"{name}: the relay logged nothing"


def test_real_ray_dashboard_and_serve_verdicts(
    real_lab: FullLab, real_scan: list[ServiceObservation]
) -> None:
    """Real Ray (in its own network namespace, lab/real/ray_netns.py): the open dashboard
    shows its version, the token one is auth_required, and Serve's proxy on 8000 is Ray, open,
    without the false CRITICAL "unauthenticated jobs" finding (issue 17 item 5: Serve has no
    Jobs API; only the dashboard does)."""
    from importlib.metadata import version

    from aicensus.assess import assess

    seen = {(o.ip, o.port): o for o in real_scan}
    expected = {
        "ray-real-open": ("ray", version("ray"), "open", 8265),
        "ray-real-key": ("ray", None, "auth_required", 8265),
        "ray-real-serve": ("ray", None, "open", 8000),
    }
    for name, (product, ver, auth, port) in expected.items():
        svc = real_lab.service(name)
        assert svc.port == port
        obs = seen[(svc.address, svc.port)]
        assert (obs.product, obs.version, str(obs.auth)) == (product, ver, auth), name
        assert real_lab.service_requests(name), f"{name}: the relay logged nothing"
    key = llama_server.LAB_API_KEY
    dashboard, serve = real_lab.url("ray-real-key"), real_lab.url("ray-real-serve")
    assert _get(dashboard + "/api/version")[0] == 401
    request = urllib.request.Request(dashboard + "/api/version")
    request.add_header("Authorization", f"Bearer {key}")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=10) as resp:
        assert json.loads(resp.read())["ray_version"] == version("ray")
    assert _get(serve + "/echo") == (200, b'{"echo":"/echo"}')

    def jobs_findings(name: str) -> list[str]:
        svc = real_lab.service(name)
        findings = assess(seen[(svc.address, svc.port)])
        return [f.title for f in findings if "job" in f.title.lower()]

    assert jobs_findings("ray-real-serve") == []
    assert jobs_findings("ray-real-key") == []
    assert jobs_findings("ray-real-open")  # the open dashboard's Jobs API is the real thing


def test_real_products_get_exactly_the_advisories_in_range(
    real_scan: list[ServiceObservation], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Issue 16's acceptance on the real products, as test_lab_advisories.py on the emulators:
    a version's advisory findings are exactly the records in range (evaluated independently),
    a service without version (MLflow behind basic auth, FastChat) gets one unknown-version
    finding. llama.cpp's llama-server (when built) is included: the truth orders its build
    numbers (b6123-0a1b2c3d) by build."""
    from aicensus.assess import assess
    from aicensus.assess.advisories.bundle import ENV_DIR, clear_cache
    from tests.support.advisory_truth import check_versioned, check_versionless

    monkeypatch.setenv(ENV_DIR, str(tmp_path / "no-user-bundle"))  # the shipped bundle
    clear_cache()
    assessed = [(o, assess(o)) for o in real_scan if o.product]
    check_versioned(assessed, minimum=3, need_affected=False)
    check_versionless(assessed, minimum=2)


def test_real_jupyter_mlflow_fastchat_accept_their_credentials(real_lab: FullLab) -> None:
    from mlflow.tracking import MlflowClient

    url = real_lab.url
    key = llama_server.LAB_API_KEY
    assert _get(url("jupyter-key") + "/api/status")[0] == 403
    assert _get(url("jupyter-key") + f"/api/status?token={key}")[0] == 200
    experiments = MlflowClient(tracking_uri=url("mlflow-open")).search_experiments()
    assert [e.name for e in experiments] == ["Default"]
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url("mlflow-key") + "/version")
    request.add_header("Authorization", "Basic YWljZW5zdXM6YWljZW5zdXMtbGFiLXBhc3N3b3Jk")
    with opener.open(request, timeout=10) as resp:  # aicensus:aicensus-lab-password
        assert resp.read().decode() == version_of("mlflow")
    fastchat = __import__("openai").OpenAI(
        base_url=url("fastchat-key") + "/v1", api_key=key, max_retries=0
    )
    assert list(fastchat.models.list()) == []  # a controller without workers: no models


def version_of(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


def test_real_products_accept_their_official_clients(real_lab: FullLab) -> None:
    import chromadb
    import openai
    from gradio_client import Client as GradioClient

    url = real_lab.url
    gradio = GradioClient(url("gradio-open"), verbose=False)
    assert gradio.predict("lab", api_name="/shout") == "LAB"
    chroma = chromadb.HttpClient(host=real_lab.service("chroma-open").address, port=8000)
    assert chroma.heartbeat() > 0 and chroma.list_collections() == []
    litellm = openai.OpenAI(base_url=url("litellm-open"), api_key="none", max_retries=0)
    assert [m.id for m in litellm.models.list()] == ["smollm2"]
    status, body = _get(url("litellm-key") + "/v1/models")
    assert status == 401 and json.loads(body)["error"]["type"] == "auth_error"
    master = "sk-" + llama_server.LAB_API_KEY
    keyed = openai.OpenAI(base_url=url("litellm-key"), api_key=master, max_retries=0)
    assert [m.id for m in keyed.models.list()] == ["smollm2"]
    lcp = openai.OpenAI(base_url=url("llama-cpp-python-open") + "/v1", api_key="x", max_retries=0)
    assert [m.id for m in lcp.models.list()] == [llama_server.SMOLLM2_FILE]


def test_real_mcp_server_answers_the_official_client(real_lab: FullLab) -> None:
    import anyio
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async def tools(url: str) -> list[str]:
        async with streamable_http_client(url) as (read, write), ClientSession(read, write) as s:
            await s.initialize()
            return [t.name for t in (await s.list_tools()).tools]

    assert anyio.run(tools, real_lab.url("mcp-open") + "/mcp") == ["echo"]


def test_missing_real_products_are_named_not_fatal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        layout, "missing_requirements", lambda requires: [r for r in requires if r == "gradio"]
    )
    said: list[str] = []
    network = free_network()
    lab = FullLab(tmp_path / "all", network=network, only="gradio,decoy-nginx", echo=said.append)
    assert set(lab.missing) == {"gradio-open", "gradio-key"}
    with pytest.raises(LabError, match="gradio-open: needs gradio"):
        FullLab(tmp_path / "x", network=network, only="gradio", require_real=True).up()
    lab.up()
    try:
        assert any("aicensus lab setup --all" in m and "gradio-key" in m for m in said)
        assert [t["name"] for t in lab.ground_truth()] == ["decoy-nginx"]
    finally:
        lab.down()


def test_setup_all_installs_the_lab_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    from aicensus.lab import npm_installs, venvs

    ran: list[list[str]] = []
    envs: list[dict[str, str] | None] = []

    def run(cmd: list[str], check: bool, env: dict[str, str] | None = None) -> None:
        ran.append(cmd)
        envs.append(env)

    monkeypatch.setattr(subprocess, "run", run)
    made: list[list[tuple[str, ...]]] = []
    monkeypatch.setattr(venvs, "create_all", lambda sets, echo: made.append(list(sets)) or {})
    npm: list[list[tuple[str, ...]]] = []
    monkeypatch.setattr(venvs, "setup_uv", lambda echo: {})  # test_lab_uv.py makes it for real
    monkeypatch.setattr(npm_installs, "create_all", lambda sets, echo: npm.append(list(sets)) or {})
    monkeypatch.setattr(llama_server, "ensure_gguf", lambda **kw: Path("/m.gguf"))
    monkeypatch.setattr(llama_server, "ensure_llama_server", lambda **kw: Path("/llama-server"))
    libs_built: list[bool] = []
    monkeypatch.setattr(
        llama_server, "ensure_llama_libs", lambda **kw: libs_built.append(True) or Path("/lib")
    )
    monkeypatch.setattr(llama_server, "installed_llama_cpp_python", lambda: None)
    result = CliRunner().invoke(lab_group, ["setup", "--all"])
    assert result.exit_code == 0, result.output
    assert ran and ran[0][1:4] == ["-m", "pip", "install"]
    assert tuple(ran[0][4:]) == layout.LAB_REQUIREMENTS
    # then llama-cpp-python, after the libraries it runs on, without compiling and kept out
    # of pip's shared wheel cache
    assert libs_built == [True]
    version = llama_server.LLAMA_CPP_PYTHON_VERSION
    assert ran[1][1:4] == ["-m", "pip", "install"] and "--no-cache-dir" in ran[1]
    assert ran[1][-1] == f"llama-cpp-python[server]=={version}"
    assert envs[1] is not None and envs[1]["CMAKE_ARGS"] == "-DLLAMA_BUILD=OFF -DLLAVA_BUILD=OFF"
    assert len(ran) == 2
    assert made == [layout.own_venvs()]  # then the products with a venv of their own
    assert npm == [layout.own_npm_installs()]  # and those with an npm install of their own


def test_setup_keeps_an_installed_llama_cpp_python_of_the_pinned_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import subprocess

    ran: list[list[str]] = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, check, env=None: ran.append(cmd))
    version = llama_server.LLAMA_CPP_PYTHON_VERSION
    monkeypatch.setattr(llama_server, "installed_llama_cpp_python", lambda: version)
    llama_server.install_llama_cpp_python(version, echo=lambda _m: None)
    assert ran == []
    monkeypatch.setattr(llama_server, "installed_llama_cpp_python", lambda: "0.3.1")
    llama_server.install_llama_cpp_python(version, echo=lambda _m: None)
    assert ran and ran[0][-1] == f"llama-cpp-python[server]=={version}"


def test_llama_cpp_python_needs_the_cached_libraries_of_its_version(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    version = llama_server.LLAMA_CPP_PYTHON_VERSION
    monkeypatch.setattr(llama_server, "installed_llama_cpp_python", lambda: version)
    lacks = layout.missing_requirements(["<llama-libs>"])
    assert lacks == [f"llama.cpp {version} shared libraries (aicensus lab setup)"]
    with pytest.raises(LabError, match=r"no llama\.cpp shared libraries"):
        llama_server.ensure_llama_libs(build=False)
    libs = llama_server.cached_lib_dir(version)
    libs.mkdir(parents=True)
    for name in ("libllama.so", "libggml.so"):
        (libs / name).write_bytes(b"")
    assert layout.missing_requirements(["<llama-libs>"]) == []
    assert llama_server.ensure_llama_libs(build=False) == libs
    monkeypatch.setattr(llama_server, "installed_llama_cpp_python", lambda: "0.3.1")
    assert layout.missing_requirements(["<llama-libs>"]) == [
        f"llama-cpp-python=={version}, not 0.3.1 (aicensus lab setup --all)"
    ]
