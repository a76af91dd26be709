"""Verdicts that were wrong on real servers (issue 17 item 5), replayed from the signature
cases (captured from the real server where the product runs here) through scan and assess."""

from __future__ import annotations

import importlib.resources

import pytest
import yaml

from aicensus import api
from aicensus.assess import assess
from aicensus.engine.config import EngineConfig
from aicensus.records import ServiceObservation
from tests.support.loopback import ScriptedServer, serve


def _case(product: str, name: str) -> dict:
    path = importlib.resources.files("aicensus") / "signatures" / f"{product}.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    return next(c for c in doc["cases"] if c["name"] == name)


@pytest.fixture(scope="module")
def server():
    scripted = ScriptedServer()
    with serve(scripted) as port:
        yield scripted, port


def _observe(server, product: str, name: str) -> ServiceObservation:
    scripted, port = server
    scripted.responses = _case(product, name)["responses"]
    seen: list[ServiceObservation] = []
    plan = api.plan_targets(["127.0.0.1"], ports=str(port))
    api.scan(plan, config=EngineConfig(concurrency=1), on_observation=seen.append)
    assert len(seen) == 1
    return seen[0]


def _ids(obs: ServiceObservation) -> set[str]:
    return {f.id for f in assess(obs)}


def test_ray_serve_gets_no_jobs_finding(server) -> None:
    obs = _observe(server, "ray", "real-ray-2.60.0-serve")
    assert (obs.product, str(obs.auth)) == ("ray", "open")
    assert "AIC-RAY-UNAUTH-JOBS" not in _ids(obs)


def test_open_ray_dashboard_gets_the_jobs_finding_with_proof(server) -> None:
    obs = _observe(server, "ray", "real-ray-2.60.0-dashboard-open")
    jobs = [f for f in assess(obs) if f.id == "AIC-RAY-UNAUTH-JOBS"]
    assert len(jobs) == 1 and jobs[0].confidence == "confirmed"
    assert any("GET /api/version → 200" in line for line in jobs[0].evidence)


def test_ray_dashboard_with_token_gets_no_jobs_finding(server) -> None:
    obs = _observe(server, "ray", "real-ray-2.60.0-dashboard-token")
    assert str(obs.auth) == "auth_required"
    assert "AIC-RAY-UNAUTH-JOBS" not in _ids(obs)


def test_open_webui_auth_false_is_open_and_flagged(server) -> None:
    obs = _observe(server, "open-webui", "open-webui-webui-auth-false-models-401")
    assert (obs.product, str(obs.auth)) == ("open-webui", "open")
    assert any(ev.marker.startswith("config-auth-off:") for ev in obs.auth_evidence)
    signup = [f for f in assess(obs) if f.id == "AIC-OPENWEBUI-OPEN-SIGNUP"]
    assert len(signup) == 1 and signup[0].confidence == "confirmed"
    assert any("config-auth-off" in line for line in signup[0].evidence)
    assert any("config-signup-enabled" in line for line in signup[0].evidence)


def test_keyed_open_webui_without_signup_is_not_flagged(server) -> None:
    obs = _observe(server, "open-webui", "keyed-open-webui")
    assert str(obs.auth) == "auth_required"
    assert "AIC-OPENWEBUI-OPEN-SIGNUP" not in _ids(obs)


@pytest.mark.parametrize(
    ("product", "case", "expected"),
    [
        ("jupyter", "real-jupyter-server-2.21.1-no-token", "AIC-JUPYTER-UNAUTH"),
        ("jupyter", "real-jupyter-server-2.21.1-token", None),
        ("mlflow", "real-mlflow-3.17.2-open", "AIC-MLFLOW-UNAUTH"),
        ("mlflow", "real-mlflow-3.17.2-basic-auth", None),
        ("tensorboard", "real-tensorboard-2.21.0", "AIC-TENSORBOARD-EXPOSED"),
    ],
)
def test_notebooks_and_mlops_get_their_own_finding_not_inference(
    server, product: str, case: str, expected: str | None
) -> None:
    """Captured from the real servers: an open Jupyter/MLflow/TensorBoard is not an
    'unauthenticated inference API'; it gets the finding that says what is exposed."""
    found = _ids(_observe(server, product, case))
    assert "AIC-UNAUTH-INFERENCE" not in found
    own = {f for f in found if f.startswith(("AIC-JUPYTER", "AIC-MLFLOW", "AIC-TENSORBOARD"))}
    assert own == ({expected} if expected else set())


@pytest.mark.parametrize(
    ("product", "case", "auth", "finding", "present"),
    [
        # WEBUI_AUTH=False: /api/models refuses, /api/config says auth false → open, flagged.
        ("open-webui", "open-webui-0.12.4-open-real", "open", "AIC-OPENWEBUI-OPEN-SIGNUP", True),
        # The default before anyone signed up: onboarding, the first sign-up becomes admin.
        ("open-webui", "open-webui-0.12.4-auth-real", "auth_required",
         "AIC-OPENWEBUI-OPEN-SIGNUP", True),
        # The admin made and sign-up off: nothing to flag.
        ("open-webui", "open-webui-0.12.4-admin-made-signup-off-real", "auth_required",
         "AIC-OPENWEBUI-OPEN-SIGNUP", False),
        ("xinference", "xinference-4.1.0-auth-advanced-off-real", "open",
         "AIC-XINFERENCE-UNAUTH-MGMT", True),
        ("xinference", "xinference-4.1.0-default-setup-pending-real", "auth_required",
         "AIC-XINFERENCE-UNAUTH-MGMT", False),
    ],
)  # fmt: skip
def test_real_open_webui_and_xinference_verdicts(
    server, product: str, case: str, auth: str, finding: str, present: bool
) -> None:
    """Captured from the real Open WebUI 0.12.4 and Xinference 4.1.0 (benchmark-only heavy
    lab launches): the auth state and the product's own finding, both ways."""
    obs = _observe(server, product, case)
    assert (obs.product, str(obs.auth)) == (product, auth)
    assert (finding in _ids(obs)) is present
