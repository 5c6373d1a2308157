"""`hcpcs eval run` and `eval compare` on the fixture index: checks, reports, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant import store
from assistant.cli import cli
from assistant.config import Settings
from assistant.embeddings import HashEmbedder
from assistant.evaluation.runner import compare, metrics
from tests.fixture_corpus import fixture_env

SET = [
    {
        "id": "q1",
        "question": "what is E0601?",
        "expected_codes": ["E0601"],
        "kind": "lookup",
        "tags": ["E"],
        "notices": ["coverage"],
        "must_include": ["Continuous positive"],
        "must_cite": ["tiny-guidance"],
    },
    {
        "id": "q2",
        "question": "A4397",
        "date": "2024-01-01",
        "expected_codes": ["A4397"],
        "kind": "validity",
        "notices": ["terminated"],
        "must_include": ["/not valid for a date of service of 2024-01-01/"],
    },
    {
        "id": "q3",
        "question": "qwxz zzkj",
        "expected_codes": [],
        "kind": "policy",
        "notices": ["no-evidence"],
        "must_not_include": ["Best match"],
    },
]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    env = fixture_env(tmp_path_factory.mktemp("evalrun"))
    store.build_index(Settings.from_env(env), embedder=HashEmbedder())
    return env


def _write_set(path: Path, items: list[dict]) -> Path:
    path.write_text("".join(json.dumps(i) + "\n" for i in items))
    return path


def run(env, *args):
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_run_checks_every_item_and_writes_reports(env, tmp_path: Path):
    qset = _write_set(tmp_path / "set.jsonl", SET)
    out, md = tmp_path / "report.json", tmp_path / "report.md"
    result = run(env, "eval", "run", str(qset), "--out", str(out), "--markdown", str(md))
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert {i["id"]: i["passed"] for i in report["items"]} == {"q1": True, "q2": True, "q3": True}
    m = report["metrics"]
    assert m["n"] == 3 and m["hit@1"] == 1.0 and m["notice_accuracy"] == 1.0
    assert m["citation_validity"] == 1.0 and m["coverage_statement_rate"] == 1.0
    assert "latency_p50_ms" in m and set(report["by_kind"]) == {"lookup", "validity", "policy"}
    assert report["produced_by"]["sets"]["set.jsonl"]
    assert report["produced_by"]["model"]["name"] == "hash-embedder"
    text = md.read_text()
    for section in (
        "# hcpcs-assistant evaluation report",
        "## Headline",
        "## By kind",
        "## Failing items",
        "![hit@1 by kind](report.png)",
    ):
        assert section in text
    assert (tmp_path / "report.png").read_bytes()[:4] == b"\x89PNG"


def test_failing_checks_are_reported(env, tmp_path: Path):
    wrong = [
        dict(
            SET[0],
            id="bad",
            expected_codes=["E0562"],
            must_include=["no such words"],
            must_cite=["not-a-source"],
        )
    ]
    out, md = tmp_path / "r.json", tmp_path / "r.md"
    assert (
        run(
            env,
            "eval",
            "run",
            str(_write_set(tmp_path / "s.jsonl", wrong)),
            "--out",
            str(out),
            "--markdown",
            str(md),
        ).exit_code
        == 0
    )
    item = json.loads(out.read_text())["items"][0]
    assert not item["passed"]
    failed = {k for k, v in item["checks"].items() if not v}
    assert {"include:no such words", "cite:not-a-source"} <= failed
    assert "**bad**" in md.read_text()


def test_baseline_comparison_exit_codes(env, tmp_path: Path):
    qset = _write_set(tmp_path / "set.jsonl", SET)
    base = tmp_path / "baseline.json"
    first = run(
        env,
        "eval",
        "run",
        str(qset),
        "--out",
        str(tmp_path / "a.json"),
        "--write-baseline",
        str(base),
    )
    assert first.exit_code == 0 and base.exists()
    assert "latency" not in base.read_text()  # the baseline's diff shows quality only
    same = run(
        env, "eval", "run", str(qset), "--out", str(tmp_path / "b.json"), "--baseline", str(base)
    )
    assert same.exit_code == 0, same.output
    assert "no regression" in same.output
    # A better baseline must fail the run: one more item passing, higher hit@1.
    better = json.loads(base.read_text())
    better["metrics"]["hit@1"] = 1.0
    report = json.loads((tmp_path / "b.json").read_text())
    report["items"][0]["passed"] = False
    report["metrics"]["hit@1"] = 0.5
    (tmp_path / "worse.json").write_text(json.dumps(report))
    (tmp_path / "better.json").write_text(json.dumps(better))
    result = run(
        env, "eval", "compare", str(tmp_path / "worse.json"), str(tmp_path / "better.json")
    )
    assert result.exit_code == 1 and "REGRESSION" in result.output and "q1" in result.output
    ok = run(env, "eval", "compare", str(tmp_path / "b.json"), str(base))
    assert ok.exit_code == 0
    bad = run(env, "eval", "compare", str(qset), str(base))
    assert bad.exit_code == 2 and "not a JSON report" in bad.stderr


def test_compare_tolerance():
    def report(hit: float) -> dict:
        return {"metrics": {"hit@1": hit}, "items": []}

    assert not compare(report(0.995), report(1.0), 0.01)["regressed"]
    assert compare(report(0.98), report(1.0), 0.01)["dropped_metrics"] == ["hit@1"]


def test_metrics_of_hand_made_items():
    items = [
        {
            "rank": 1,
            "expected": ["A"],
            "checks": {"notices": True, "citations_valid": True, "coverage_statement": True},
            "passed": True,
        },
        {
            "rank": None,
            "expected": ["B"],
            "checks": {"notices": False, "citations_valid": True},
            "passed": False,
        },
        {"rank": None, "expected": [], "checks": {"citations_valid": False}, "passed": False},
    ]
    m = metrics(items)
    assert (m["n"], m["passed"], m["hit@1"], m["notice_accuracy"]) == (3, 1, 0.5, 0.5)
    assert m["citation_validity"] == pytest.approx(0.6667, abs=1e-4)
    assert m["coverage_statement_rate"] == 1.0


def test_report_page_shows_metrics_and_failures(env, tmp_path: Path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    wrong = [*SET, dict(SET[0], id="bad", expected_codes=["E0562"])]
    (tmp_path / "reports").mkdir()
    out = tmp_path / "reports" / "r.json"
    run(env, "eval", "run", str(_write_set(tmp_path / "s.jsonl", wrong)), "--out", str(out))
    monkeypatch.setenv("HCPCS_REPORT_DIRS", str(tmp_path / "reports"))
    page = Path(__file__).resolve().parent.parent / "pages" / "1_Eval_reports.py"
    at = AppTest.from_file(str(page), default_timeout=60).run()
    assert not at.exception
    assert at.selectbox[0].value == "reports/r.json"
    assert "Failing items (1)" in [s.value for s in at.subheader]


def test_citation_validity_reads_the_raw_files(env):
    """A citation is valid when the raw file says it, not when the index does: a passage the
    parser rebuilt (the field name put in front, say) fails even though the index holds it."""
    from dataclasses import replace

    from assistant.answer import ask
    from assistant.evaluation.runner import CitationValidator, check_item
    from assistant.records import Citation
    from assistant.retrieval import Retriever

    retriever = Retriever(Settings.from_env(env), embedder=HashEmbedder()).load()
    answer, _ = ask(retriever, "what is E0601?")
    assert {c.kind for c in answer.citations} == {"descriptor", "guidance"}
    assert all(CitationValidator(retriever)(c) for c in answer.citations)

    pid, passage = next(
        (pid, p) for pid, p in retriever.passage_by_id.items() if "of itself" in p.text
    )
    retriever.passage_by_id[pid] = replace(passage, text=f"{passage.section}: {passage.text}")
    answer, _ = ask(retriever, "what is E0601?")
    rebuilt = [c for c in answer.citations if c.text.startswith(passage.section)]
    assert rebuilt
    validator = CitationValidator(retriever)
    assert not validator(rebuilt[0])
    item = {"id": "x", "question": answer.question, "expected_codes": ["E0601"]}
    assert not check_item(item, answer, validator)["checks"]["citations_valid"]
    # A descriptor is quoted whole and exactly, from the release the citation names.
    cpap = next(c for c in answer.citations if c.kind == "descriptor")
    assert validator(cpap)
    assert not validator(replace(cpap, text=cpap.text.upper()))
    assert not validator(replace(cpap, ref="2097-01"))
    assert not validator(Citation("crosswalk", "t", "E0601", cpap.text, "tiny-guidance"))
