"""`aicensus signatures list`: the product facts that come from the signature files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aicensus", *args], capture_output=True, text=True, timeout=120
    )


def test_list_shows_ports_lab_and_processes() -> None:
    proc = run_cli("signatures", "list")
    assert proc.returncode == 0, proc.stderr
    rows = {line.split()[0]: line.split() for line in proc.stdout.splitlines()}
    assert rows["ollama"][1:4] == ["11434", "emulated", "ollama"]
    assert rows["llama.cpp"][1:5] == ["8080,9931", "real", "(2)", "llama-server"]
    assert rows["qdrant"][1:4] == ["6333", "emulated", "-"]


def test_list_json_carries_remediation_and_lab_services() -> None:
    proc = run_cli("signatures", "list", "--json")
    facts = {f["id"]: f for f in map(json.loads, proc.stdout.splitlines())}
    assert "OLLAMA_HOST=127.0.0.1" in facts["ollama"]["remediation"]
    assert facts["mcp"]["lab_services"] == ["mcp-open", "mcp-sse", "mcp-key"]
    assert facts["ray"]["emulator_tables"] == ["ray", "ray-serve"]
    assert facts["vllm"]["dialect"] == "openai"


def test_list_of_a_directory_with_a_bad_field_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "acme.yaml").write_text(
        "id: acme\nname: Acme\ndescription: x\nports: [1]\nreferences: []\nprobes: {}\n"
        "matchers: []\nprocesses: [AB]\n"
    )
    proc = run_cli("signatures", "list", str(tmp_path))
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert len(lines) == 1 and "acme.yaml" in lines[0] and "processes[0]" in lines[0]
