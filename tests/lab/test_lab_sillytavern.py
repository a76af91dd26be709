"""SillyTavern's user accounts with a password, for real (`sillytavern-accounts-password`).

SillyTavern creates its default user without a password; the lab's wrapper
(aicensus.lab.real.sillytavern --user-password) sets one before the first start with the
package's own recovery code. A real sign-in proves the password is the lab's: the login form
alone would only show that the passwordless auto-login stopped. Needs the npm install
(`aicensus lab setup --all`); skipped without it unless $AICENSUS_REQUIRE_LAB_ALL is set."""

from __future__ import annotations

import http.cookiejar
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from aicensus.lab import recipes
from aicensus.lab.full import FullLab
from aicensus.lab.real import sillytavern
from tests.support.lab import ENV_REQUIRE_ALL, free_network, lab_all_required, write_requests

SERVICE = "sillytavern-accounts-password"


@pytest.fixture(scope="module")
def st_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FullLab]:
    lab = FullLab(tmp_path_factory.mktemp("lab-st") / "all", network=free_network(), only=SERVICE)
    if lab.missing:
        message = "; ".join(m for missing in lab.missing.values() for m in missing)
        if lab_all_required():
            pytest.fail(f"{message} (${ENV_REQUIRE_ALL} is set)")
        pytest.skip(f"{message} (aicensus lab setup --all)")
    failed = [f"{s.name}: {s.note}" for s in lab.up() if not s.running]
    try:
        assert not failed, failed  # a passwordless admin: SillyTavern refuses to start
        yield lab
    finally:
        lab.down()


class Browser:
    """A client with a cookie jar, as SillyTavern's login page is one: the session cookie
    carries the CSRF token that POSTs must echo in X-CSRF-Token (src/server-main.js)."""

    def __init__(self, base: str) -> None:
        self.base = base
        jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPCookieProcessor(jar)
        )

    def get(self, path: str) -> tuple[int, bytes]:
        return self._send(urllib.request.Request(self.base + path))

    def login(self, handle: str, password: str) -> tuple[int, bytes]:
        token = json.loads(self.get("/csrf-token")[1])["token"]
        body = json.dumps({"handle": handle, "password": password}).encode()
        headers = {"Content-Type": "application/json", "X-CSRF-Token": token}
        return self._send(
            urllib.request.Request(self.base + "/api/users/login", data=body, headers=headers)
        )

    def _send(self, request: urllib.request.Request) -> tuple[int, bytes]:
        try:
            with self.opener.open(request, timeout=30) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()


def test_the_default_user_signs_in_with_the_lab_password_only(st_lab: FullLab) -> None:
    svc = st_lab.service(SERVICE)
    assert svc.expected_auth == "auth_required" and svc.address.startswith("127.")
    stranger = Browser(st_lab.url(SERVICE))
    status, page = stranger.get("/login")  # the form, not the passwordless auto-login redirect
    assert status == 200 and b'<body class="login">' in page
    assert stranger.get("/version")[0] == 403
    assert stranger.login("default-user", "not-the-password") == (
        403, b'{"error":"Incorrect credentials"}'
    )  # fmt: skip
    assert stranger.get("/version")[0] == 403
    user = Browser(st_lab.url(SERVICE))
    assert user.login("default-user", recipes.LAB_PASSWORD) == (200, b'{"handle":"default-user"}')
    status, body = user.get("/version")
    assert status == 200 and json.loads(body)["pkgVersion"] == "1.19.0"
    # the sign-ins are the only POSTs the server saw (the lab's own health checks are GETs)
    assert {e["path"] for e in write_requests(st_lab)} <= {"/api/users/login"}


def test_a_failed_password_seed_is_one_clear_line(tmp_path: Path) -> None:
    """A package without SillyTavern's recovery code: the wrapper stops before the server
    starts (which, passwordless, would serve an open lab service labelled auth_required)."""
    config = tmp_path / "config.yaml"
    config.write_text(f"dataRoot: {tmp_path / 'st'}\nenableUserAccounts: true\n")
    with pytest.raises(SystemExit) as exc:
        sillytavern.seed_password(tmp_path, config, "pw", "node")
    message = str(exc.value.code)
    assert message.startswith("sillytavern: setting the default-user password failed: ")
    assert "\n" not in message and not (tmp_path / "st").exists()
