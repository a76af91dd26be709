"""File and host checks are data (assess/checks/files.yaml, host.yaml), validated on load."""

from __future__ import annotations

from pathlib import Path

import pytest

from aicensus.assess.catalog import parse_checks
from aicensus.assess.finding import Severity
from aicensus.assess.schema import CheckError
from aicensus.audit.checking import FILE_DETECTORS, HOST_DETECTORS, check_file, checks
from aicensus.audit.reading import FileFacts
from aicensus.audit.records import ModelFile
from aicensus.records import Attribution

GOOD = """
scope: file
checks:
  - id: AIC-SITE-PERMISSIVE
    detector: licence
    severity: info
    title: "Permissive model ({licence})"
    description: The licence {licence} is permissive.
    remediation: Nothing to do.
    params: {classes: [permissive]}
"""


def _model(licence: str | None) -> ModelFile:
    return ModelFile(path="/m/x.gguf", name="x.gguf", store="path", format="gguf", size_bytes=1,
                     attribution=Attribution(licence=licence, status="attributed"))  # fmt: skip


def test_bundled_file_and_host_checks_load() -> None:
    file_ids = {c.id for c in checks("file")}
    assert {"AIC-FILE-PICKLE-CODE-EXEC", "AIC-TEMPLATE-CODE-EXEC", "AIC-FILE-LICENCE-COPYLEFT",
            "AIC-MODEL-GUARDRAILS-REMOVED"} <= file_ids  # fmt: skip
    assert {c.id for c in checks("host")} == {"AIC-AUDIT-EXPOSED-AUTH", "AIC-AUDIT-EXPOSED-OPEN"}


def test_a_check_written_as_data_is_applied_with_its_fields_filled_in() -> None:
    (check,) = parse_checks("site.yaml", GOOD, FILE_DETECTORS, scope="file")
    (finding,) = check_file(_model("MIT"), FileFacts(), [check])
    assert (finding.id, finding.kind, finding.path, finding.model) == (
        "AIC-SITE-PERMISSIVE", "file", "/m/x.gguf", "x.gguf"
    )  # fmt: skip
    assert finding.title == "Permissive model (MIT)" and finding.severity == Severity.INFO
    assert finding.evidence == ["licence: MIT"]
    assert check_file(_model("GPL-3.0"), FileFacts(), [check]) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD.replace("severity: info", "severity: info\n    colour: red"),
         "site.yaml: Object contains unknown field `colour` - at `$.checks[0]`"),
        (GOOD.replace("detector: licence", "detector: nope"),
         "site.yaml: checks[0].detector: unknown detector 'nope'"),
        (GOOD.replace("[permissive]", "[free]"), "site.yaml: checks[0].params: "),
        (GOOD.replace("({licence})", "({colour})"),
         "site.yaml: checks[0].title: unknown placeholder {colour} (detector licence fills: "
         "licence)"),
        (GOOD.replace("({licence})", "({licence)"), "site.yaml: checks[0].title: "),
        (GOOD.replace("scope: file", "scope: service"),
         "site.yaml: scope: holds service checks, expected file checks"),
        (GOOD.replace("scope: file", "scope: disk"), "site.yaml: Invalid enum value 'disk' - at `$.scope`"),
        (GOOD.replace("id: AIC-SITE-PERMISSIVE", "id: site"), "site.yaml: checks[0].id: 'site'"),
        (GOOD + "  - [", "site.yaml: not valid YAML (line "),
    ],
)  # fmt: skip
def test_a_malformed_check_file_is_one_line_naming_the_file_and_field(
    text: str, message: str
) -> None:
    with pytest.raises(CheckError) as caught:
        parse_checks("site.yaml", text, FILE_DETECTORS, scope="file")
    error = str(caught.value)
    assert error.startswith(message) and "\n" not in error


def test_host_checks_name_only_host_detectors(tmp_path: Path) -> None:
    with pytest.raises(CheckError, match="unknown detector 'licence'"):
        parse_checks("h.yaml", GOOD.replace("scope: file", "scope: host"), HOST_DETECTORS,
                     scope="host")  # fmt: skip


def test_an_id_in_two_scopes_keeps_one_severity() -> None:
    from aicensus.assess.catalog import _parse_file, _same_severity_across_scopes

    served = _parse_file("a.yaml", GOOD.replace("scope: file", "scope: service"))
    on_disk = _parse_file("b.yaml", GOOD.replace("severity: info", "severity: high"))
    _same_severity_across_scopes([served, served])
    with pytest.raises(CheckError, match="AIC-SITE-PERMISSIVE has severity info in one scope"):
        _same_severity_across_scopes([served, on_disk])


def test_a_finding_always_says_where() -> None:
    from aicensus.assess.finding import Finding

    common = {"id": "AIC-X", "severity": Severity.LOW, "title": "t", "detail": "d",
              "remediation": "r"}  # fmt: skip
    assert Finding(**common, ip="::1", port=8080).subject == "[::1]:8080"
    assert Finding(**common, kind="file", path="/m/a.pkl").subject == "/m/a.pkl"
    with pytest.raises(ValueError, match="needs a path"):
        Finding(**common, kind="file")
    with pytest.raises(ValueError, match="needs ip and port"):
        Finding(**common, path="/m/a.pkl")
