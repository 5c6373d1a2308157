"""The "Eval reports" page opens only reports under the report folders, or uploads."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from assistant.config import ARTIFACTS_DIR, EVALS_DIR, Settings
from assistant.errors import UsageError
from assistant.webapp.reports import REFUSED, ReportFolders, read_upload

PAGE = str(Path(__file__).resolve().parent.parent / "pages" / "1_Eval_reports.py")


def report(hit: float = 1.0, failing: int = 0) -> dict:
    items = [
        {
            "id": f"q{n}",
            "kind": "lookup",
            "question": f"question {n}",
            "expected": ["E0601"],
            "got": [],
            "checks": {"expected_code": False},
            "passed": False,
        }
        for n in range(failing)
    ]
    metrics = {"n": len(items), "passed": 0, "hit@1": hit}
    kind = {"n": 1, "passed": 0, "hit@1": hit, "hit@5": hit, "mrr@10": hit, "notice_accuracy": 1.0}
    return {"metrics": metrics, "items": items, "by_kind": {"lookup": kind}}


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path, Path]:
    """Two report folders and a secret file outside both."""
    reports = tmp_path / "reports"
    evals = tmp_path / "evals"
    (reports / "nested").mkdir(parents=True)
    evals.mkdir()
    (reports / "run.json").write_text(json.dumps(report(0.5, failing=2)))
    (reports / "nested" / "old.json").write_text(json.dumps(report(0.9)))
    (reports / "notes.txt").write_text("not a report")
    (evals / "baseline.json").write_text(json.dumps(report(1.0)))
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps(report(0.1)))
    return reports, evals, secret


def test_the_setting_lists_folders_and_defaults_to_artifacts_and_evals(tmp_path: Path):
    assert Settings.from_env({}).report_dirs == (ARTIFACTS_DIR, EVALS_DIR)
    given = f"{tmp_path / 'a'}{os.pathsep}{os.pathsep}{tmp_path / 'b'}"
    assert Settings.from_env({"HCPCS_REPORT_DIRS": given}).report_dirs == (
        tmp_path / "a",
        tmp_path / "b",
    )


def test_reports_under_the_folders_are_listed_and_opened(folders):
    reports, evals, _secret = folders
    found = ReportFolders([reports, evals, reports.parent / "missing"])
    assert found.choices() == ["reports/nested/old.json", "reports/run.json", "evals/baseline.json"]
    assert found.load("reports/run.json")["metrics"]["hit@1"] == 0.5
    assert found.load("reports/nested/old.json")["metrics"]["hit@1"] == 0.9


def test_two_folders_of_one_name_get_distinct_labels(tmp_path: Path):
    first, second = tmp_path / "x" / "evals", tmp_path / "y" / "evals"
    for folder, hit in ((first, 0.1), (second, 0.2)):
        folder.mkdir(parents=True)
        (folder / "r.json").write_text(json.dumps(report(hit)))
    found = ReportFolders([first, second])
    assert found.choices() == ["evals/r.json", "evals-2/r.json"]
    assert found.load("evals-2/r.json")["metrics"]["hit@1"] == 0.2


@pytest.mark.parametrize(
    "choice",
    [
        "/etc/passwd",
        "{secret}",
        "reports/../secret.json",
        "reports/nested/../../secret.json",
        "../secret.json",
        "reports/./run.json",
        "reports//run.json",
        "reports\\run.json",
        "reports/missing.json",
        "reports/notes.txt",
        "reports/nested",
        "reports",
        "elsewhere/run.json",
        "reports/link-out.json",
        "reports/link-dir/secret.json",
        "",
    ],
)
def test_anything_else_is_refused_alike(folders, choice: str):
    reports, evals, secret = folders
    (reports / "link-out.json").symlink_to(secret)
    (reports / "link-dir").symlink_to(secret.parent)
    found = ReportFolders([reports, evals])
    assert "reports/link-out.json" not in found.choices()
    assert not any("secret" in c for c in found.choices())
    with pytest.raises(UsageError) as info:
        found.load(choice.format(secret=secret))
    # The same words whether the file exists or not: the page tells nothing about the disk.
    assert str(info.value) == REFUSED


def test_a_symlink_inside_its_folder_is_followed(folders):
    reports, evals, _secret = folders
    (reports / "latest.json").symlink_to(reports / "run.json")
    assert ReportFolders([reports]).load("reports/latest.json")["metrics"]["hit@1"] == 0.5


def test_uploads_are_checked():
    assert read_upload("r.json", json.dumps(report(0.7)).encode())["metrics"]["hit@1"] == 0.7
    with pytest.raises(UsageError, match="r.json is not a JSON report"):
        read_upload("r.json", b"\xff\xfe")
    with pytest.raises(UsageError, match="not an eval report"):
        read_upload("r.json", b'{"metrics": {}}')


@pytest.fixture
def page(folders, monkeypatch) -> AppTest:
    reports, evals, _secret = folders
    monkeypatch.setenv("HCPCS_REPORT_DIRS", f"{reports}{os.pathsep}{evals}")
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    return at


def test_page_offers_the_folders_reports_and_no_path_box(page: AppTest):
    assert not page.text_input  # no box to type a path into
    picker, compared = page.selectbox
    assert picker.options == ["reports/nested/old.json", "reports/run.json", "evals/baseline.json"]
    assert picker.value == "evals/baseline.json"  # the checked-in baseline first
    assert compared.options == ["(none)", *picker.options]
    assert "Failing items (0)" in [s.value for s in page.subheader]


def test_page_shows_a_picked_report_against_a_picked_baseline(page: AppTest):
    page.selectbox[0].set_value("reports/run.json").run()
    page.selectbox[1].set_value("evals/baseline.json").run()
    assert not page.exception
    assert "Failing items (2)" in [s.value for s in page.subheader]
    assert "Regression" in page.error[0].value


def test_page_does_not_offer_a_symlink_out_of_its_folders(folders, monkeypatch):
    reports, evals, secret = folders
    (reports / "link-out.json").symlink_to(secret)
    (evals / "etc").symlink_to("/etc")
    monkeypatch.setenv("HCPCS_REPORT_DIRS", f"{reports}{os.pathsep}{evals}")
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    # A select box sends the index of an option: what is not offered cannot be asked for.
    offered = at.selectbox[0].options + at.selectbox[1].options
    assert not any("link-out" in o or "etc/" in o for o in offered)


def test_page_without_reports_says_so(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("HCPCS_REPORT_DIRS", str(tmp_path / "empty"))
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert "No reports in the report folders" in at.info[0].value
