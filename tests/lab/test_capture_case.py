"""scripts/capture_case.py: a real server's answers become a signature case that the case
replay (tests/fingerprint/test_signatures.py) reads back as captured."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.loopback import ScriptedServer, serve

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "capture_case.py"


def _module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("capture_case", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_capture_is_a_case_with_the_answers_as_served(capsys) -> None:  # type: ignore[no-untyped-def]
    scripted = ScriptedServer()
    scripted.responses = {
        "/v1/vector/collections": {
            "status": 401,
            "headers": {"Content-Type": "application/json", "X-Trace": "t", "Date": "d"},
            "body": '{"code":1800,"message":"user hasn\'t authenticated"}',
        },
        "/metrics": {"status": 200, "body": "a 1\nmilvus_x 2\nlong_tail 3\n"},
    }
    with serve(scripted) as port:
        args = [f"http://127.0.0.1:{port}", "/v1/vector/collections", "/metrics", "/nowhere",
                "--name", "real-x", "--expect", "milvus", "--auth", "auth_required",
                "--max-body", "20"]  # fmt: skip
        assert _module().main(args) == 0
    case = yaml.safe_load(capsys.readouterr().out)[0]
    assert case["name"] == "real-x" and case["auth"] == "auth_required"
    keyed = case["responses"]["/v1/vector/collections"]
    assert keyed["status"] == 401 and keyed["body"].startswith('{"code":1800')
    assert keyed["headers"]["X-Trace"] == "t" and keyed["headers"]["Server"].startswith("Python")
    assert keyed["headers"]["Content-Type"] == "application/json" and "Date" not in keyed["headers"]
    assert case["responses"]["/metrics"]["body"] == "a 1\nmilvus_x 2\n"  # cut at a line end
    assert case["responses"]["/nowhere"]["status"] == 404


def test_keep_json_leaves_valid_json_with_only_the_named_keys(capsys) -> None:  # type: ignore[no-untyped-def]
    scripted = ScriptedServer()
    doc = {
        "openapi": "3.1.0",
        "info": {"title": "T", "version": "1"},
        "components": {"x": "y" * 9000},
    }
    scripted.responses = {"/openapi.json": {"status": 200, "body": json.dumps(doc)},
                          "/plain": {"status": 200, "body": "not json"}}  # fmt: skip
    with serve(scripted) as port:
        args = [f"http://127.0.0.1:{port}", "/openapi.json", "/plain", "--name", "x",
                "--expect", "y", "--keep-json", "/openapi.json=openapi,info",
                "--keep-json", "/plain=a", "--max-body", "100"]  # fmt: skip
        assert _module().main(args) == 0
    case = yaml.safe_load(capsys.readouterr().out)[0]
    kept = json.loads(case["responses"]["/openapi.json"]["body"])
    assert kept == {"openapi": "3.1.0", "info": {"title": "T", "version": "1"}}
    assert case["responses"]["/plain"]["body"] == "not json"
    with pytest.raises(SystemExit, match="PATH=KEY"):
        _module().main(
            ["http://127.0.0.1:1", "/", "--name", "x", "--expect", "y", "--keep-json", "/a"]
        )


def test_only_loopback_servers_are_captured() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "http://192.0.2.1:80", "/", "--name", "x", "--expect", "y"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode != 0 and "not a loopback address" in done.stderr
