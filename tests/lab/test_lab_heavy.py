"""The heavy real products (`heavy: true`: Langflow 1.13.0, Letta 0.11.7, venvs of GBs that
uv resolves; Open WebUI 0.12.4, Xinference 4.1.0, pip with the local CPU torch;
aicensus.lab.venvs) against the scanner: each identified with the version its pin installs
(where the server makes it public) and the right auth state, 0 write requests, and its
credentials accepted.

Not part of the test command: the tests that start them are marked `heavy` and run only where
$AICENSUS_LAB_HEAVY=1 is set (after `aicensus lab setup --all --heavy`). Elsewhere they are
deselected, never skipped into a pass, and the summary names them as not run
(tests/lab/conftest.py). Where they run, a missing venv fails.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator

import pytest

from aicensus.lab import layout, recipes
from aicensus.lab.full import FullLab
from tests.support.lab import ENV_HEAVY, LAB_OPENER, free_network, http_status, scan_and_check

# service → (product, the distribution whose pin is the version the scan must report, or None
# where the server keeps its version behind the login, auth)
EXPECTED: dict[str, tuple[str, str | None, str]] = {
    "langflow-real-open": ("langflow", "langflow", "open"),  # auto-login: anyone is admin
    "langflow-real-key": ("langflow", "langflow", "auth_required"),
    "letta-real-open": ("letta", "letta", "open"),
    "letta-real-key": ("letta", "letta", "auth_required"),  # --secure
    # WEBUI_AUTH=False: /api/models still 401, /api/config says auth false (declared open).
    "open-webui-real-open": ("open-webui", "open-webui", "open"),
    "open-webui-real-key": ("open-webui", "open-webui", "auth_required"),
    "xinference-real-open": ("xinference", "xinference", "open"),  # AUTH_ADVANCED=false
    "xinference-real-key": ("xinference", None, "auth_required"),  # /v1/cluster/version 401
}


def heavy_services() -> list[str]:
    return [s.name for s in layout.full_layout() if s.launch is not None and s.launch.heavy]


def test_every_heavy_product_has_an_expectation() -> None:
    assert set(heavy_services()) == set(EXPECTED)


@pytest.fixture(scope="module")
def heavy_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FullLab]:
    lab = FullLab(
        tmp_path_factory.mktemp("lab-heavy"), network=free_network(), only=heavy_services(),
        heavy=True, startup_timeout=600,
    )  # fmt: skip
    if lab.missing:  # asked for with $AICENSUS_LAB_HEAVY: a missing venv is a failure
        pytest.fail(
            "heavy venvs missing: " + "; ".join(lab.missing)
            + f" (${ENV_HEAVY} is set: run aicensus lab setup --all --heavy)"
        )  # fmt: skip
    lab.up()
    try:
        yield lab
    finally:
        lab.down()


@pytest.mark.heavy
def test_heavy_products_are_identified_with_version_and_auth(heavy_lab: FullLab) -> None:
    scan_and_check(heavy_lab, EXPECTED)


@pytest.mark.heavy
def test_heavy_products_open_and_keyed_as_configured(heavy_lab: FullLab) -> None:
    """The open variants are open (Langflow's auto-login hands anyone a token), and what
    `lab status` shows for the key variants signs in where a wrong password does not."""
    user, password = recipes.LAB_USER, recipes.LAB_PASSWORD

    def langflow_login(pw: str) -> int:
        form = urllib.parse.urlencode({"username": user, "password": pw}).encode()
        url = heavy_lab.url("langflow-real-key") + "/api/v1/login"
        return http_status(urllib.request.Request(url, data=form))

    assert langflow_login(password) == 200 and langflow_login("wrong") == 401
    auto = heavy_lab.url("langflow-real-open") + "/api/v1/auto_login"
    with LAB_OPENER.open(auto, timeout=30) as resp:
        assert "access_token" in json.loads(resp.read())
    assert (
        http_status(
            urllib.request.Request(heavy_lab.url("langflow-real-key") + "/api/v1/auto_login")
        )
        != 200
    )

    def letta_agents(service: str, bearer: str | None) -> int:
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        url = heavy_lab.url(service) + "/v1/agents/"
        return http_status(urllib.request.Request(url, headers=headers))

    assert letta_agents("letta-real-open", None) == 200
    assert letta_agents("letta-real-key", None) == 401
    assert letta_agents("letta-real-key", "wrong") == 401
    assert letta_agents("letta-real-key", password) == 200
