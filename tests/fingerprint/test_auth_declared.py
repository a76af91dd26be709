"""Auth state where a product refuses signed-out callers even with its login off (Open WebUI
with WEBUI_AUTH=False, seen on the real 0.12.4): its own public statement decides, and when
that statement went unanswered the refusals alone must not be reported as auth_required."""

from __future__ import annotations

from aicensus.fingerprint.evaluate import auth_state
from aicensus.fingerprint.load import builtin_signatures
from aicensus.records import AuthState, Exchange

NOT_AUTHENTICATED = b'{"detail":"Not authenticated"}'
CONFIG_AUTH_OFF = (
    b'{"onboarding":true,"status":true,"name":"Open WebUI","version":"0.12.4",'
    b'"features":{"auth":false,"enable_signup":false,"enable_login_form":true}}'
)


def _sig():  # type: ignore[no-untyped-def]
    return next(s for s in builtin_signatures() if s.id == "open-webui")


def _refused(path: str) -> Exchange:
    return Exchange(method="GET", path=path, status=401, body=NOT_AUTHENTICATED)


def _gate() -> dict[str, Exchange]:
    return {"models": _refused("/api/models"), "tags": _refused("/ollama/api/tags")}


def test_login_off_statement_makes_the_refusing_server_open() -> None:
    config = Exchange(method="GET", path="/api/config", status=200, body=CONFIG_AUTH_OFF)
    state, evidence = auth_state(_sig(), {**_gate(), "config": config})
    assert state is AuthState.OPEN
    assert any(e.marker.startswith("config-auth-off:") for e in evidence)


def test_unanswered_statement_leaves_auth_unknown_not_required() -> None:
    # A fresh Open WebUI (ENV=dev) builds /openapi.json for seconds and blocks its event
    # loop: the scan's parallel GET /api/config timed out on the real server.
    config = Exchange(method="GET", path="/api/config", error="timeout")
    state, evidence = auth_state(_sig(), {**_gate(), "config": config})
    assert state is AuthState.UNKNOWN
    assert any("no answer (timeout)" in e.marker for e in evidence)


def test_statement_saying_login_on_keeps_auth_required() -> None:
    body = CONFIG_AUTH_OFF.replace(b'"auth":false', b'"auth":true')
    config = Exchange(method="GET", path="/api/config", status=200, body=body)
    state, _ = auth_state(_sig(), {**_gate(), "config": config})
    assert state is AuthState.AUTH_REQUIRED
