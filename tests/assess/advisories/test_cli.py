"""`aicensus advisories list|show|update` through the real command line group."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from aicensus.assess import assess
from aicensus.assess.advisories.bundle import ENV_DIR, clear_cache, current_bundle
from aicensus.cli.app import _register, cli
from aicensus.records import ScanStatus, ServiceObservation

_register()


@pytest.fixture(autouse=True)
def user_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "user-advisories"
    monkeypatch.setenv(ENV_DIR, str(folder))
    clear_cache()
    yield folder
    clear_cache()


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["advisories", *args])
    return result.exit_code, result.stdout, result.stderr


def test_list_product_json() -> None:
    code, out, _ = run("list", "--product", "ollama", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["bundle"]["date"] == current_bundle().date
    ids = {a["id"] for a in doc["advisories"]}
    assert "GO-2024-2901" in ids and all(a["product"] == "ollama" for a in doc["advisories"])
    assert len(ids) == len(current_bundle().by_product["ollama"])


def test_list_table_and_unknown_product() -> None:
    code, out, _ = run("list", "-p", "vllm")
    assert code == 0
    assert out.startswith("# advisory bundle of ")
    code, _, err = run("list", "-p", "no-such-product")
    assert code == 2
    assert err.count("\n") == 1 and "no advisories for product 'no-such-product'" in err


def test_show_by_alias_case_insensitive() -> None:
    code, out, _ = run("show", "ghsa-8hqg-whrw-pv92")
    assert code == 0
    doc = json.loads(out)
    assert doc["id"] == "GO-2024-2901"
    assert doc["aicensus_reading"]["source"]["path"] == "data/osv/GO-2024-2901.json"
    assert doc["aicensus_reading"]["affected"] == "< 0.1.34"
    code, _, err = run("show", "CVE-1999-0000")
    assert code == 2 and "no advisory 'CVE-1999-0000'" in err


def _record(ident: str, fixed: str, *, aliases: list[str] | None = None) -> dict[str, object]:
    return {
        "schema_version": "1.6.0", "id": ident, "modified": "2026-11-30T00:00:00Z",
        "aliases": aliases or [], "summary": f"test record {ident}",
        "affected": [{"package": {"ecosystem": "PyPI", "name": "vLLM"},
                      "ranges": [{"type": "ECOSYSTEM",
                                  "events": [{"introduced": "0"}, {"fixed": fixed}]}]}],
        "references": [{"type": "WEB", "url": "https://example.invalid/" + ident}],
    }  # fmt: skip


def test_update_from_directory(tmp_path: Path, user_bundle: Path) -> None:
    src = tmp_path / "osv"
    (src / "sub").mkdir(parents=True)
    (src / "GHSA-test-0001-aaaa.json").write_text(
        json.dumps(_record("GHSA-test-0001-aaaa", "9.0.0"))
    )
    # supersedes the bundled record that shares an alias with it
    some_vllm = current_bundle().by_product["vllm"][0]
    (src / "sub" / "replacement.json").write_text(
        json.dumps(_record("GHSA-test-0002-bbbb", "9.1.0", aliases=[some_vllm.ids[0]]))
    )
    other = _record("GHSA-test-0003-cccc", "1.0")
    other["affected"][0]["package"] = {"ecosystem": "npm", "name": "left-pad"}  # type: ignore[index]
    (src / "other.json").write_text(json.dumps(other))
    (src / "broken.json").write_text("{not json")
    before = len(current_bundle().advisories)
    code, out, err = run("update", "--from", str(src))
    assert code == 0, err
    assert "read 3 records: 1 added, 1 replaced, 1 about other packages, 1 invalid" in out
    assert "skipped: broken.json: not an OSV record" in err
    assert (user_bundle / "manifest.json").is_file()
    clear_cache()
    bundle = current_bundle()
    assert len(bundle.advisories) == before + 1
    assert bundle.date == "2026-11-30" or bundle.date > "2026-11-30"
    assert bundle.lookup(some_vllm.id)[0].id == "GHSA-test-0002-bbbb"
    # the scan now matches the new record: vllm 8.0 is below its fix 9.0.0
    obs = ServiceObservation(ip="10.0.0.2", port=8000, scheme="http", product="vllm",
                             status=ScanStatus.IDENTIFIED, version="8.0")  # fmt: skip
    assert "AIC-GHSA-test-0001-aaaa" in {f.id for f in assess(obs)}


def test_update_from_zip_and_tar(tmp_path: Path) -> None:
    archive = tmp_path / "all.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("GHSA-test-0004-dddd.json", json.dumps(_record("GHSA-test-0004-dddd", "1.0")))
    code, out, _ = run("update", "--from", str(archive))
    assert code == 0 and "1 added" in out
    tgz = tmp_path / "records.tar.gz"
    data = json.dumps(_record("GHSA-test-0005-eeee", "1.0")).encode()
    with tarfile.open(tgz, "w:gz") as tf:
        info = tarfile.TarInfo("x/GHSA-test-0005-eeee.json")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    code, out, _ = run("update", "--from", str(tgz))
    assert code == 0 and "1 added" in out
    clear_cache()
    assert current_bundle().lookup("GHSA-test-0004-dddd")  # the first update was kept


def test_update_bad_source_is_one_line(tmp_path: Path) -> None:
    code, _, err = run("update", "--from", str(tmp_path / "missing"))
    assert code == 2 and err.count("\n") == 1 and "no such file or directory" in err
    bad = tmp_path / "x.rar"
    bad.write_text("x")
    code, _, err = run("update", "--from", str(bad))
    assert code == 2 and "not a directory, .zip" in err
    corrupt = tmp_path / "c.zip"
    corrupt.write_bytes(b"PK\x03\x04 not really")
    code, _, err = run("update", "--from", str(corrupt))
    assert code == 2 and "cannot read" in err


def test_update_rejects_malformed_affected(tmp_path: Path) -> None:
    src = tmp_path / "osv"
    src.mkdir()
    bad = _record("GHSA-test-0006-ffff", "1.0")
    bad["affected"][0]["ranges"][0]["events"] = [{"introduced": "0", "fixed": "1"}]  # type: ignore[index]
    (src / "bad.json").write_text(json.dumps(bad))
    worse = _record("GHSA-test-0007-gggg", "1.0")
    worse["affected"][0]["package"] = "vllm"  # type: ignore[index]
    (src / "worse.json").write_text(json.dumps(worse))
    code, out, err = run("update", "--from", str(src))
    assert code == 0 and "read 0 records" in out and "2 invalid" in out
    assert "bad.json: affected[0].ranges[0].events is not a list of single OSV events" in err
    assert "worse.json: affected[0].package is not an object" in err
