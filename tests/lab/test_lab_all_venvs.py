"""The real products that run from venvs of their own (`install:` in their launch recipe,
aicensus.lab.venvs) against the scanner: every one identified with the version its pin
installs and the right auth state, 0 write requests, and its credentials accepted.

Needs the venvs (`aicensus lab setup --all`); skipped when one is missing, unless
$AICENSUS_REQUIRE_LAB_ALL is set (CI), where a missing one fails. Independent of the `lab`
extra: these products never import from the lab's interpreter. The heavy ones (`heavy:
true`, started only with --heavy) are tests/lab/test_lab_heavy.py's.
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
from tests.support.lab import (
    ENV_REQUIRE_ALL,
    free_network,
    http_status,
    lab_all_required,
    scan_and_check,
)

# service → (product, the distribution whose pin is the version the scan must report, auth)
EXPECTED: dict[str, tuple[str, str, str]] = {
    "label-studio-real-key": ("label-studio", "label-studio", "auth_required"),
    "langgraph-real-open": ("langgraph-server", "langgraph-api", "open"),
    "langgraph-real-key": ("langgraph-server", "langgraph-api", "auth_required"),
    "mlserver-real-open": ("mlserver", "mlserver", "open"),
    "kserve-real-open": ("kserve", "kserve", "open"),
    "phoenix-real-open": ("phoenix", "arize-phoenix", "open"),
    "phoenix-real-key": ("phoenix", "arize-phoenix", "auth_required"),
    "zenml-real-open": ("zenml", "zenml", "open"),
    "zenml-real-key": ("zenml", "zenml", "auth_required"),
    "autogen-studio-real-open": ("autogen-studio", "autogenstudio", "open"),
    "autogen-studio-real-key": ("autogen-studio", "autogenstudio", "auth_required"),
    "torchserve-real-open": ("torchserve", "torchserve", "open"),
    "torchserve-real-key": ("torchserve", "torchserve", "auth_required"),  # /api-description
    "infinity-real-open": ("infinity", "infinity-emb", "open"),
    "infinity-real-key": ("infinity", "infinity-emb", "auth_required"),  # /openapi.json
}


def own_venv_services() -> list[str]:
    """Those of the default lab: heavy ones run in tests/lab/test_lab_heavy.py."""
    return [
        s.name
        for s in layout.full_layout()
        if s.launch is not None and s.launch.install and not s.launch.heavy
    ]


def test_every_own_venv_product_has_an_expectation() -> None:
    assert set(own_venv_services()) == set(EXPECTED)


@pytest.fixture(scope="module")
def venv_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FullLab]:
    lab = FullLab(
        tmp_path_factory.mktemp("lab-venvs"), network=free_network(), only=own_venv_services(),
        startup_timeout=600,
    )  # fmt: skip
    if lab.missing:
        message = "own venvs missing: " + "; ".join(lab.missing)
        if lab_all_required():
            pytest.fail(message + f" (${ENV_REQUIRE_ALL} is set)")
        pytest.skip(message + " (aicensus lab setup --all)")
    lab.up()
    try:
        yield lab
    finally:
        lab.down()


def test_own_venv_products_are_identified_with_version_and_auth(venv_lab: FullLab) -> None:
    scan_and_check(venv_lab, EXPECTED)


def test_own_venv_products_accept_the_lab_credentials(venv_lab: FullLab) -> None:
    """What `lab status` shows for a key variant signs in, and a wrong password does not."""
    user, password = recipes.LAB_USER, recipes.LAB_PASSWORD

    def zenml(pw: str) -> int:
        form = urllib.parse.urlencode({"username": user, "password": pw}).encode()
        return http_status(urllib.request.Request(venv_lab.url("zenml-real-key") + "/api/v1/login",
                                              data=form))  # fmt: skip

    def phoenix(pw: str) -> int:
        body = json.dumps({"email": "admin@localhost", "password": pw}).encode()
        request = urllib.request.Request(
            venv_lab.url("phoenix-real-key") + "/auth/login", data=body,
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        return http_status(request)

    assert zenml(password) == 200 and zenml("wrong") == 401
    assert phoenix(password) == 204 and phoenix("wrong") == 401
    langgraph = venv_lab.url("langgraph-real-key") + "/assistants/search"
    keyed = urllib.request.Request(langgraph, data=b"{}", headers={"X-Api-Key": "wrong"})
    assert http_status(keyed) == 401
