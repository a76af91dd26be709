"""A tiny made-up product for tests of the lab's own venvs (pip and uv): `acme-lab-tool`, a
console script serving one page that says which interpreter runs it, as a wheel written by
hand (no build backend), and a signature whose lab launch installs it."""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from pathlib import Path

TOOL = "acme-lab-tool==1.0"
TOOL2 = "acme-lab-tool==1.1"  # another requirement set: another venv
SERVER = """\
import http.server, sys


class Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"acme-lab-tool VERSION on {sys.prefix}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main():
    http.server.HTTPServer((sys.argv[1], int(sys.argv[2])), Page).serve_forever()
"""


def build_wheel(folder: Path, version: str) -> Path:
    """acme_lab_tool-VERSION-py3-none-any.whl, written by hand (no build backend needed)."""
    info = f"acme_lab_tool-{version}.dist-info"
    files = {
        "acme_lab_tool/__init__.py": "",
        "acme_lab_tool/server.py": SERVER.replace("VERSION", version),
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: acme-lab-tool\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: aicensus-tests\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
        f"{info}/entry_points.txt": "[console_scripts]\nacme-lab-tool = acme_lab_tool.server:main\n",
    }
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{name},sha256={digest.decode()},{len(text.encode())}")
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"acme_lab_tool-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return wheel


def signature(reqs: list[str]) -> str:
    return f"""\
id: acme-venv
name: Acme Venv Server
description: A made-up product that runs from a venv of its own.
ports: [18125]
references: [https://example.invalid/acme-venv]
probes:
  page: {{path: /}}
matchers:
  - name: page
    probe: page
    status: [200]
    body_contains: [acme-lab-tool]
    weight: 0.9
    why: the made-up product's page
lab:
  real:
    - name: acme-venv-open
      install: {json.dumps(reqs)}
      command: ["{{bin}}/acme-lab-tool", "{{address}}", "{{port}}"]
      env: {{ACME_PYTHON: "{{python}}", ACME_LAB_PYTHON: "{{lab_python}}"}}
      ready: ok
"""
