"""The real products' launch recipes (signature `lab.real`) render into the commands the lab
runs: pure checks, no processes (the real products need the `lab` extra to start)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from aicensus.errors import LabError
from aicensus.fingerprint.schema import LabLaunch
from aicensus.lab import full, llama_server, recipes
from aicensus.lab.full import FullLab

PRIVATE = 41999


@pytest.fixture()
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FullLab:
    monkeypatch.setattr(full, "free_port", lambda host="127.0.0.1": PRIVATE)
    monkeypatch.setattr(llama_server, "ensure_gguf", lambda **kw: Path("/models/m.gguf"))
    monkeypatch.setattr(llama_server, "ensure_llama_server", lambda **kw: Path("/bin/ls-bin"))
    monkeypatch.setattr(llama_server, "ensure_llama_libs", lambda **kw: Path("/cache/lib"))
    return FullLab(tmp_path / "all", network="127.0.0.0/24", only="real")


def launch(lab: FullLab, name: str) -> tuple[list[str], dict[str, str], full.ComponentState]:
    svc = lab.service(name)
    comp = full.ComponentState(
        name=name, kind="real", pid=0, host=svc.address, port=svc.port, url=svc.url, argv=[],
        log="", started_at="", health="/", request_log=str(lab.request_log(name)),
    )  # fmt: skip
    argv, env = lab._real_argv(comp, svc)
    return argv, env, comp


def test_every_real_service_binds_its_address_behind_the_relay(lab: FullLab) -> None:
    reals = [s for s in lab.layout if s.kind == "real"]
    assert {s.expected_product for s in reals} == {
        "llama.cpp", "llama-cpp-python", "gradio", "chroma", "litellm", "mcp", "jupyter",
        "mlflow", "fastchat", "tensorboard", "ray", "milvus", "bentoml", "marimo", "label-studio",
        "litserve", "langgraph-server", "mlserver", "kserve", "phoenix", "zenml", "autogen-studio",
        "sillytavern", "promptfoo", "torchserve", "infinity", "langflow", "letta", "open-webui",
        "xinference",
    }  # fmt: skip
    for svc in reals:
        argv, env, comp = launch(lab, svc.name)
        relay, server = argv[: argv.index("--")], argv[argv.index("--") + 1 :]
        assert relay[relay.index("--host") + 1] == svc.address
        assert relay[relay.index("--port") + 1] == str(svc.port)
        assert relay[relay.index("--upstream-port") + 1] == str(PRIVATE)
        assert svc.address in server and str(PRIVATE) in server, server
        assert not any("{" in arg for arg in server), server  # every placeholder filled
        assert env["HF_HUB_OFFLINE"] == "1"
        assert comp.health == (svc.launch.health if svc.launch else None)


def test_llama_cpp_python_runs_on_the_llama_server_builds_libraries(lab: FullLab) -> None:
    """llama.cpp is compiled once: llama-cpp-python is installed without libraries and loads
    the cached ones of the llama-server build."""
    for name in ("llama-cpp-python-open", "llama-cpp-python-key"):
        argv, env, _ = launch(lab, name)
        assert "llama_cpp.server" in argv
        assert env["LLAMA_CPP_LIB_PATH"] == env["MTMD_CPP_LIB"] == "/cache/lib"
    _, env, _ = launch(lab, "jupyter-open")
    assert "LLAMA_CPP_LIB_PATH" not in env


def test_jupyter_mlflow_fastchat_recipes(lab: FullLab) -> None:
    key = llama_server.LAB_API_KEY
    argv, env, _ = launch(lab, "jupyter-open")
    assert "--IdentityProvider.token=" in argv and env["JUPYTER_RUNTIME_DIR"].endswith("runtime")
    argv, _, _ = launch(lab, "jupyter-key")
    assert f"--IdentityProvider.token={key}" in argv
    argv, _, _ = launch(lab, "fastchat-key")
    assert argv[argv.index("--api-keys") + 1] == key
    argv, env, comp = launch(lab, "mlflow-key")
    assert argv[argv.index("--app-name") + 1] == "basic-auth"
    ini = Path(env["MLFLOW_AUTH_CONFIG_PATH"]).read_text()
    assert "admin_username = aicensus\nadmin_password = aicensus-lab-password" in ini
    assert comp.api_key == "aicensus:aicensus-lab-password"


def test_ray_recipes_forward_into_their_own_namespace(lab: FullLab) -> None:
    """Ray binds every interface: its launcher (not Ray) takes the private loopback port and
    forwards into Ray's own network namespace; the key variant turns token auth on."""
    key = llama_server.LAB_API_KEY
    for name, inner, port in (("ray-real-open", "8265", 8265), ("ray-real-key", "8265", 8265),
                              ("ray-real-serve", "8000", 8000)):  # fmt: skip
        argv, _, _ = launch(lab, name)
        server = argv[argv.index("--") + 1 :]
        assert server[1:3] == ["-m", "aicensus.lab.real.ray_netns"], server
        assert server[server.index("--inner-port") + 1] == inner
        assert lab.service(name).port == port
        assert ("--token" in server) == (name == "ray-real-key")
        assert ("--serve" in server) == (name == "ray-real-serve")
    argv, _, _ = launch(lab, "ray-real-key")
    assert argv[argv.index("--token") + 1] == key


def test_milvus_recipes_run_the_server_in_a_namespace_of_its_own(lab: FullLab) -> None:
    """milvus-server binds every interface: netns.py holds the private loopback port, relays
    to 19530 inside once the metrics port's /healthz answers; the key variant turns
    authorizationEnabled on."""
    for name in ("milvus-real-open", "milvus-real-key"):
        argv, _, _ = launch(lab, name)
        launcher = argv[argv.index("--") + 1 :]
        assert launcher[1:3] == ["-m", "aicensus.lab.real.netns"], launcher
        assert launcher[launcher.index("--port") + 1] == str(PRIVATE)
        assert launcher[launcher.index("--inner-port") + 1] == "19530"
        assert launcher[launcher.index("--wait-path") + 1] == "/healthz"
        server = launcher[launcher.index("--") + 1 :]
        assert server[0].endswith("/milvus-server") and server[server.index("--data") + 1]
        assert ("--authorization-enabled" in server) == (name == "milvus-real-key")
        assert lab.service(name).port == 19530
    assert launch(lab, "milvus-real-key")[2].api_key == "root:Milvus"


def test_marimo_key_variant_sets_the_lab_key_as_its_token(lab: FullLab) -> None:
    argv, env, _ = launch(lab, "marimo-real-open")
    assert "--no-token" in argv and "--token-password" not in argv
    assert env["XDG_CONFIG_HOME"].endswith("/config")  # no marimo config written to ~
    argv, _, _ = launch(lab, "marimo-real-key")
    assert argv[argv.index("--token-password") + 1] == llama_server.LAB_API_KEY
    assert "--no-token" not in argv


def test_key_variants_carry_their_credentials(lab: FullLab) -> None:
    key = llama_server.LAB_API_KEY
    argv, _, comp = launch(lab, "llama-server-key")
    assert argv[argv.index("--api-key") + 1] == key and not comp.health_any
    argv, _, comp = launch(lab, "gradio-key")
    assert argv[argv.index("--auth") + 1] == "aicensus:aicensus-lab-password"
    assert comp.api_key == "aicensus:aicensus-lab-password"
    _, env, _ = launch(lab, "chroma-key")
    assert env["CHROMA_SERVER_AUTHN_CREDENTIALS"] == key
    argv, _, _ = launch(lab, "mcp-sse")
    assert argv[argv.index("--transport") + 1] == "sse" and "--token" not in argv
    argv, _, _ = launch(lab, "llama-server-open")
    server = argv[argv.index("--") + 1 :]
    assert server[0] == "/bin/ls-bin" and server[server.index("-m") + 1] == "/models/m.gguf"
    assert "--api-key" not in server


def test_litellm_config_routes_to_the_lab_llama_server(lab: FullLab) -> None:
    upstream = lab.service("llama-server-open").url
    for name, master in (("litellm-open", None), ("litellm-key", "sk-" + llama_server.LAB_API_KEY)):
        argv, _, comp = launch(lab, name)
        config = yaml.safe_load(Path(argv[argv.index("--config") + 1]).read_text())
        params = config["model_list"][0]["litellm_params"]
        assert params["api_base"] == upstream + "/v1"
        assert params["model"] == "openai/" + llama_server.SMOLLM2_FILE
        assert config["general_settings"].get("master_key") == master
        assert comp.api_key == master


def test_a_url_of_a_service_not_in_the_layout_is_a_lab_error() -> None:
    bad = LabLaunch(name="x", command=["{url:nowhere}"])
    values = recipes.Values({}, urls={"llama-server-open": "http://127.0.0.10:8080"})
    with pytest.raises(LabError, match="no lab service 'nowhere'"):
        recipes.render_launch(bad, values, Path("/nonexistent"))


def test_a_real_launch_may_not_take_an_emulator_service_name() -> None:
    """The emulator tables name their services `<table>-<variant>` (ray-open); a real launch
    of the same name would shadow it in `--only`, the state and the request logs."""
    import msgspec

    from aicensus.fingerprint.load import builtin_signatures
    from aicensus.lab import layout

    sigs = list(builtin_signatures())
    i = next(n for n, s in enumerate(sigs) if s.id == "ray")
    assert sigs[i].lab is not None
    real = [msgspec.structs.replace(sigs[i].lab.real[0], name="ray-open")]
    sigs[i] = msgspec.structs.replace(sigs[i], lab=msgspec.structs.replace(sigs[i].lab, real=real))
    with pytest.raises(LabError, match="ray-open"):
        layout.full_layout("127.0.0.0/24", sigs=sigs)
    assert len({s.name for s in layout.full_layout("127.0.0.0/24")}) == len(
        layout.full_layout("127.0.0.0/24")
    )


def test_torchserve_infinity_promptfoo_recipes(lab: FullLab) -> None:
    """TorchServe and promptfoo bind more than the address they are given: each runs in its
    own network namespace, forwarded from the service's private port; Infinity binds its
    address and serves a tiny model it makes itself (nothing downloaded)."""
    key = llama_server.LAB_API_KEY
    for name in ("torchserve-real-open", "torchserve-real-key"):
        argv, _, _ = launch(lab, name)
        server = argv[argv.index("--") + 1 :]
        assert server[1:3] == ["-m", "aicensus.lab.real.netns"], server
        assert server[server.index("--inner-port") + 1] == "8080"
        script = server[-1]
        assert "/torchserve --start --foreground --ncs" in script, script
        assert ("--disable-token-auth" in script) == (name == "torchserve-real-open")
    argv, env, _ = launch(lab, "promptfoo-real-open")
    server = argv[argv.index("--") + 1 :]
    assert server[1:3] == ["-m", "aicensus.lab.real.netns"]
    assert server[-4:] == ["view", "-n", "--port", "15500"]
    assert server[-5].endswith("node_modules/.bin/promptfoo")
    assert env["PROMPTFOO_DISABLE_TELEMETRY"] == "1" and env["HOME"].endswith("promptfoo-real-open")
    for name in ("infinity-real-open", "infinity-real-key"):
        argv, env, _ = launch(lab, name)
        server = argv[argv.index("--") + 1 :]
        assert server[1:3] == ["-m", "aicensus.lab.real.infinity_app"]
        inner = server[server.index("--", 3) + 1 :]
        assert inner[0].endswith("/bin/infinity_emb") and inner[1] == "v2"
        assert inner[inner.index("--model-id") + 1].endswith(f"{name}/tiny-bert")
        assert ("--api-key" in inner) == (name == "infinity-real-key")
        if "--api-key" in inner:
            assert inner[inner.index("--api-key") + 1] == key
        assert env["DO_NOT_TRACK"] == "1"


def test_own_venv_products_run_from_their_venv_behind_the_lab_s_wrappers(lab: FullLab) -> None:
    """Products with `install:` run from their own venv ({bin}, {python}); the lab's own
    wrappers (the relay, netns.py) stay on the lab's interpreter ({lab_python})."""
    import sys

    from aicensus.lab import venvs

    owned = {s.name: s for s in lab.layout if s.launch is not None and s.launch.install}
    assert set(owned) >= {
        "label-studio-real-key", "langgraph-real-open", "langgraph-real-key", "mlserver-real-open",
        "kserve-real-open", "phoenix-real-open", "phoenix-real-key", "zenml-real-open",
        "zenml-real-key", "autogen-studio-real-open", "autogen-studio-real-key",
    }  # fmt: skip
    for name, svc in owned.items():
        venv = str(venvs.venv_dir(venvs.VenvSpec.of(svc.launch)))  # type: ignore[arg-type]
        argv, _, _ = launch(lab, name)
        assert argv[0] == sys.executable  # the relay
        server = argv[argv.index("--") + 1 :]
        if "aicensus.lab.real.netns" in server:
            assert server[0] == sys.executable, name
            server = server[server.index("--") + 1 :]
        if "aicensus.lab.real.infinity_app" in server:  # makes its model, then execs Infinity
            server = server[server.index("--") + 1 :]
        if server[0] == "sh" and server[2].startswith("mkdir"):  # TorchServe's one script
            assert f"exec {venv}/bin/torchserve " in server[2], (name, server)
            continue
        if server[0] == "sh":  # langgraph dev: `cd DATA && exec "$@"`
            server = server[4:]
        assert server[0].startswith(venv + "/bin/"), (name, server)
    argv, env, _ = launch(lab, "phoenix-real-key")
    assert env["PHOENIX_ENABLE_AUTH"] == "true" and len(env["PHOENIX_SECRET"]) >= 32
    _, env, comp = launch(lab, "zenml-real-key")
    assert env["ZENML_SERVER_AUTH_SCHEME"] == "OAUTH2_PASSWORD_BEARER"
    assert comp.api_key == "aicensus:aicensus-lab-password"
    assert launch(lab, "zenml-real-open")[1]["ZENML_SERVER_AUTH_SCHEME"] == "NO_AUTH"
    argv, _, _ = launch(lab, "autogen-studio-real-key")
    auth = yaml.safe_load(Path(argv[argv.index("--auth-config") + 1]).read_text())
    assert auth["type"] == "github" and "--auth-config" not in launch(lab, "autogen-studio-real-open")[0]
