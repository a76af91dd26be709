"""A product added as one signature file (plus its emulator table) — no code change — is in
the product list, the `ai` port preset, the audit's remediation and process hints, the --all
lab's layout, and starts in the lab, where a scan with that signature set identifies it."""

from __future__ import annotations

import shutil
import urllib.error
import urllib.request
from pathlib import Path

from aicensus import api
from aicensus.audit import services as audit_services
from aicensus.audit.records import ProcessInfo
from aicensus.fingerprint.load import ai_ports, product_ids, product_names
from aicensus.lab import layout
from aicensus.lab.full import FullLab
from aicensus.records import ServiceObservation
from tests.support.lab import free_network

BUILTIN = Path(__file__).resolve().parents[2] / "src" / "aicensus" / "signatures"

ACME_SIGNATURE = """\
id: acme-llm
name: Acme LLM Server
description: A made-up product, added as one file.
ports: [18123]
references: [https://example.invalid/acme]
probes:
  info: {path: /acme/info}
  models: {path: /v1/models}
matchers:
  - name: info
    probe: info
    status: [200]
    json_equals: {server: acme-llm}
    weight: 0.6
    why: only Acme names itself in /acme/info (public even with a key)
version:
  - {probe: info, json: version}
auth:
  gate: [models]
  protected: {status: [401]}
  open: {status: [200]}
remediation: start acme-llm with --bind 127.0.0.1 and --token
processes: [acme-llm-serve]
lab: {emulators: [acme-llm]}
"""

ACME_TABLE = """\
product: acme-llm
framework: fastapi
default_port: 18123
vars: {version: 1.2.3}
auth:
  schemes: [bearer]
  scope: middleware
  guarded: ["/v1*"]
  refusal: {status: 401, json: {error: Unauthorized}}
routes:
  - {path: /acme/info, json: {server: acme-llm, version: "${version}"}}
  - {path: /v1/models, json: {object: list, data: [{id: acme-7b, object: model}]}}
"""


def signature_dir(root: Path) -> Path:
    """The built-in signatures plus Acme's file, and Acme's emulator table."""
    sigs = root / "signatures"
    shutil.copytree(BUILTIN, sigs)
    (sigs / "acme-llm.yaml").write_text(ACME_SIGNATURE)
    (sigs / "emulators").mkdir()
    (sigs / "emulators" / "acme-llm.yaml").write_text(ACME_TABLE)
    return sigs


def status_of(url: str) -> int:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_new_product_reaches_product_list_ports_and_audit(tmp_path: Path) -> None:
    sigs = api.signatures(signature_dir(tmp_path))
    assert "acme-llm" in product_ids(sigs) and "acme-llm" not in product_ids()
    assert product_names(sigs)["acme-llm"] == "Acme LLM Server"
    assert 18123 in ai_ports(sigs) and 18123 not in ai_ports()
    fix = "start acme-llm with --bind 127.0.0.1 and --token"
    assert audit_services.fix_for("acme-llm", None, sigs) == fix
    process = ProcessInfo(pid=1, name="python", cmdline=["/opt/acme/bin/acme-llm-serve", "-p"])
    assert audit_services.process_hint(process, sigs) == "acme-llm"
    assert audit_services.fix_for(None, process, sigs) == fix
    assert audit_services.process_hint(process) is None  # the built-in set does not know it
    assert audit_services.fix_for(None, process) == audit_services.DEFAULT_FIX


def test_new_product_is_laid_out_and_launchable_in_the_lab(tmp_path: Path) -> None:
    sig_dir = signature_dir(tmp_path)
    sigs = api.signatures(sig_dir)
    tables = (str(sig_dir / "emulators"),)
    services = layout.select(layout.full_layout(sigs=sigs, tables=tables), "acme-llm")
    assert [(s.name, s.port, s.expected_auth) for s in services] == [
        ("acme-llm-open", 18123, "open"),
        ("acme-llm-key", 18123, "auth_required"),
    ]
    lab = FullLab(tmp_path / "all", network=free_network(), only="acme-llm", signatures=sig_dir)
    lab.up()
    try:
        assert status_of(lab.url("acme-llm-open") + "/v1/models") == 200
        assert status_of(lab.url("acme-llm-key") + "/v1/models") == 401
        truth = lab.ground_truth()
        seen: list[ServiceObservation] = []
        plan = api.plan_targets([str(t["address"]) for t in truth], ports="18123")
        api.scan(plan, sigs=sigs, on_observation=seen.append)
        found = {(o.ip, o.product, str(o.auth), o.version) for o in seen}
        expected = {(t["address"], "acme-llm", t["auth"], "1.2.3") for t in truth}
        assert found == expected
        assert lab.service_requests("acme-llm-key")  # the lab logged what the scan sent
    finally:
        lab.down()
