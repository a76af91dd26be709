"""`aicensus models whois|list` through click's CliRunner."""

from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner

from aicensus.cli.models import models_group

ACCEPTANCE = [
    "qwen2.5:7b",
    "deepseek-r1:70b",
    "hf.co/bartowski/Qwen2.5-7B-Instruct-GGUF:Q4_K_M",
    "huihui_ai/qwen2.5-abliterate:7b",
    "mistral:7b",
    "some-private-model",
]


def _invoke(args: list[str]) -> click.testing.Result:
    """Run through the full `aicensus` CLI when every group imports, else the models group alone."""
    try:
        from aicensus.cli import app

        app._register()
        return CliRunner().invoke(app.cli, ["models", *args])
    except ImportError:
        return CliRunner().invoke(models_group, args)


def test_whois_acceptance_json() -> None:
    result = _invoke(["whois", *ACCEPTANCE, "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert list(rows) == ACCEPTANCE
    fields = {
        "name",
        "developer",
        "country",
        "licence",
        "base",
        "guardrails_removed",
        "confidence",
        "evidence",
    }
    assert all(fields <= set(row) for row in rows.values())

    def who(name: str) -> tuple[str | None, str | None]:
        return rows[name]["developer"], rows[name]["country"]

    assert who("qwen2.5:7b") == ("Alibaba", "CN")
    assert who("deepseek-r1:70b") == ("DeepSeek", "CN")
    assert rows["deepseek-r1:70b"]["base"] == {
        "developer": "Meta",
        "country": "US",
        "family": "llama3.3",
    }
    assert who("hf.co/bartowski/Qwen2.5-7B-Instruct-GGUF:Q4_K_M") == ("Alibaba", "CN")
    assert who("huihui_ai/qwen2.5-abliterate:7b") == ("Alibaba", "CN")
    assert rows["huihui_ai/qwen2.5-abliterate:7b"]["guardrails_removed"] is True
    assert who("mistral:7b") == ("Mistral AI", "FR")
    unknown = rows["some-private-model"]
    assert (unknown["developer"], unknown["country"], unknown["status"]) == (None, None, "unknown")
    assert unknown["candidates"] == []


def test_whois_ambiguous_lists_candidates() -> None:
    result = _invoke(["whois", "my-assistant:latest", "--family", "llama", "--format", "json"])
    row = json.loads(result.output)[0]
    assert row["status"] == "ambiguous" and row["developer"] is None and row["country"] is None
    assert "Meta (US)" in row["candidates"] and "Mistral AI (FR)" in row["candidates"]


def test_whois_table() -> None:
    result = _invoke(["whois", "deepseek-r1:70b", "glm-5:cloud", "some-private-model"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split()[:3] == ["NAME", "DEVELOPER", "CC"]
    assert "DeepSeek" in lines[1] and "Meta (US)" in lines[1]
    assert "unknown" in lines[3]


@pytest.mark.parametrize(
    ("args", "check"),
    [
        (["--country", "CN"], lambda rows: rows and all(r["country"] == "CN" for r in rows)),
        (["--developer", "mistral"], lambda rows: {r["developer"] for r in rows} == {"Mistral AI"}),
        (
            ["--licence", "apache"],
            lambda rows: rows and all("apache" in r["licence"].lower() for r in rows),
        ),
    ],
)
def test_list_json_filters(args: list[str], check) -> None:
    result = _invoke(["list", *args, "--format", "json"])
    assert result.exit_code == 0
    assert check(json.loads(result.output))


def test_list_table() -> None:
    result = _invoke(["list", "--country", "FR"])
    assert result.exit_code == 0
    assert result.output.splitlines()[0].startswith("FAMILY")
    assert "mistral-nemo" in result.output


def test_whois_explains_a_family_match() -> None:
    result = _invoke(["whois", "my-assistant:latest", "--family", "qwen3"])
    assert result.exit_code == 0, result.output
    assert "matched by family only" in result.output and "Alibaba" in result.output
    rows = json.loads(
        _invoke(["whois", "my-assistant:latest", "--family", "qwen3", "--format", "json"]).output
    )
    assert rows[0]["matched_by"] == "family" and rows[0]["family"] == "qwen3"
