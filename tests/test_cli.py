"""The `hcpcs` command on the fixture corpus: output, JSON shape, exit codes, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.cli import cli
from tests.fixture_corpus import assert_one_line_error as _one_line_error
from tests.fixture_corpus import write_corpus


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    mirror, manifest = write_corpus(tmp_path)
    return {
        "HCPCS_CORPUS_DIR": str(tmp_path / "raw"),
        "HCPCS_INDEX_DIR": str(tmp_path / "index"),
        "HCPCS_SOURCES": str(manifest),
        "HCPCS_MODEL": "hash-embedder",
        "MIRROR": str(mirror),
    }


def run(env: dict[str, str], *args: str):
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


@pytest.fixture
def built(env: dict[str, str]) -> dict[str, str]:
    assert run(env, "corpus", "fetch", "--mirror", env["MIRROR"]).exit_code == 0
    result = run(env, "index", "build")
    assert result.exit_code == 0, result.output
    return env


def test_fetch_list_and_checksum_error(env: dict[str, str]):
    result = run(env, "corpus", "list")
    assert result.exit_code == 1 and "missing" in result.output
    result = run(env, "corpus", "fetch", "--mirror", env["MIRROR"])
    assert result.exit_code == 0 and "3 files verified" in result.output
    listed = json.loads(run(env, "corpus", "list", "--json").output)
    assert all(item["verified"] for item in listed)
    target = Path(env["MIRROR"]) / "guidance" / "tiny.txt"
    target.write_text("truncated")
    (Path(env["HCPCS_CORPUS_DIR"]) / "guidance" / "tiny.txt").unlink()
    _one_line_error(run(env, "corpus", "fetch", "--mirror", env["MIRROR"]), 1, "tiny.txt", "sha256")


def test_lookup_before_build_names_the_fix(env: dict[str, str]):
    _one_line_error(run(env, "lookup", "E0601"), 1, "hcpcs index build")


def test_index_status_json_shape(built: dict[str, str]):
    result = run(built, "index", "status", "--json")
    assert result.exit_code == 0
    status = json.loads(result.output)
    assert status["current"] is True
    assert status["model"]["name"] == "hash-embedder"
    assert (
        status["releases"][-1] | {"release": "2099-01", "codes": 10, "modifiers": 1}
        == status["releases"][-1]
    )
    for key in ("build_seconds", "drug_entries", "crosswalk_entries", "passages"):
        assert key in status
    assert "current" in run(built, "index", "status").output


def test_build_if_needed_skips_a_current_index(built: dict[str, str]):
    result = run(built, "index", "build", "--if-needed")
    assert result.exit_code == 0 and "index is current" in result.stderr


def test_lookup_text_and_json(built: dict[str, str]):
    result = run(built, "lookup", "e0601")
    assert result.exit_code == 0
    assert '"Continuous positive airway pressure (cpap) device"' in result.output
    assert "CMS HCPCS 2098-01, 2099-01" in result.output
    assert "does not, of itself, determine coverage" in result.output
    data = json.loads(run(built, "lookup", "A4397", "--json").output)
    assert data["status"] == "terminated 2021-12-31"
    assert [r["termination_date"] for r in data["records"]] == [None, "2021-12-31"]
    assert data["records"][1]["coverage_meaning"] == "Special coverage instructions apply"
    noc = json.loads(run(built, "lookup", "E1399", "--json").output)
    assert noc["records"][-1]["noc"] is True
    note = json.loads(run(built, "lookup", "E0194", "--json").output)
    assert note["records"][-1]["processing_note"].startswith("THIS DEVICE (E0194)")


def test_lookup_one_release_and_modifier(built: dict[str, str]):
    data = json.loads(run(built, "lookup", "--release", "2098-01", "--json", "--", "-kx").output)
    assert data["kind"] == "modifier" and [r["release"] for r in data["records"]] == ["2098-01"]
    assert data["status"] == "active"


@pytest.mark.parametrize(
    ("args", "code", "word"),
    [
        (("lookup", "E06O1"), 2, "not a HCPCS Level II code"),
        (("lookup", "' ; DROP TABLE codes"), 2, "not a HCPCS Level II code"),
        (("lookup", "E9999"), 1, "not in any loaded"),
        (("lookup", "E0562", "--release", "2098-01"), 1, "not in the CMS HCPCS 2098-01"),
        (("lookup", "E0601", "--release", "2030-01"), 2, "unknown release"),
    ],
)
def test_lookup_errors(built: dict[str, str], args, code, word):
    _one_line_error(run(built, *args), code, word)


def test_stale_index_is_refused_with_the_fix(built: dict[str, str]):
    manifest = Path(built["HCPCS_SOURCES"])
    text = manifest.read_text()
    sha = [ln for ln in text.splitlines() if "sha256" in ln][-1].split('"')[1]
    manifest.write_text(text.replace(sha, "0" * 64))  # the project now expects another file
    _one_line_error(run(built, "lookup", "E0601"), 1, "stale", "hcpcs index build")
    result = run(built, "index", "status")
    assert result.exit_code == 1 and "STALE" in result.output


def test_bad_chroma_url_is_a_usage_error(env: dict[str, str]):
    _one_line_error(
        run(env | {"HCPCS_CHROMA_URL": "not a url"}, "lookup", "E0601"), 2, "HCPCS_CHROMA_URL"
    )


def test_unreachable_chroma_server_fails_fast(env: dict[str, str]):
    assert run(env, "corpus", "fetch", "--mirror", env["MIRROR"]).exit_code == 0
    result = run(env | {"HCPCS_CHROMA_URL": "http://127.0.0.1:9"}, "index", "build")
    _one_line_error(result, 1, "cannot reach the Chroma server")


def test_eval_retrieval_json(built: dict[str, str], tmp_path: Path):
    qset = tmp_path / "set.jsonl"
    qset.write_text(
        '{"id": "1", "question": "heated humidifier for positive airway pressure", '
        '"expected_codes": ["E0562"]}\n'
        '{"id": "2", "question": "what is E0194", "expected_codes": ["E0194"]}\n'
        '{"id": "3", "question": "is a code coverage?", "expected_codes": []}\n'
    )
    result = run(built, "eval", "retrieval", str(qset), "--json", "--items")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["retriever"] == "hybrid" and data["n"] == 2
    assert data["hit@1"] == 1.0 and data["mrr@10"] == 1.0
    assert set(data["retrievers"]) == {"hybrid", "bm25", "dense"}
    assert [i["rank"] for i in data["items"]] == [1, 1]
    table = run(built, "eval", "retrieval", str(qset), "--retriever", "bm25").output
    assert "bm25" in table and "hybrid" not in table
    qset.write_text('{"id": "1", "question": "x"}\n')
    _one_line_error(run(built, "eval", "retrieval", str(qset)), 2, "set.jsonl:1", "expected_codes")


def test_eval_retrieval_k_sets_the_metrics(built: dict[str, str], tmp_path: Path):
    qset = tmp_path / "set.jsonl"
    qset.write_text('{"id": "1", "question": "what is E0194", "expected_codes": ["E0194"]}\n')
    data = json.loads(run(built, "eval", "retrieval", str(qset), "--k", "1", "--json").stdout)
    assert [k for k in data if "@" in k] == ["hit@1", "mrr@1"]
    assert data["hit@1"] == 1.0
    wide = json.loads(run(built, "eval", "retrieval", str(qset), "--k", "20", "--json").stdout)
    assert [k for k in wide if "@" in k] == ["hit@1", "hit@5", "hit@10", "hit@20", "mrr@20"]


def test_index_status_text(built: dict[str, str]):
    result = run(built, "index", "status")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("index ") and lines[0].endswith("(current)")
    assert "model hash-embedder" in lines[2]
    assert any(ln.startswith("  release 2099-01 (effective 2099-01-01): 10 codes") for ln in lines)
    assert result.stderr == ""  # no corpus problems to warn about


def test_make_validity_set_from_the_newest_release(built: dict[str, str], tmp_path: Path):
    out = tmp_path / "validity.jsonl"
    result = run(built, "eval", "make-validity-set", str(out), "--count", "5")
    assert result.exit_code == 0, result.output
    items = [json.loads(line) for line in out.read_text().splitlines()]
    assert result.stdout == f"{len(items)} questions written to {out}\n"
    # A4397, terminated 2021-12-31, is the fixture's one terminated code.
    assert [i["id"] for i in items] == [
        "validity-A4397-after",
        "validity-A4397-before",
        "validity-J1030-after",
        "validity-J1030-before",
    ]
    assert items[0]["date"] == "2022-01-31"
    drugs = tmp_path / "drugs.jsonl"
    result = run(built, "eval", "make-drug-set", str(drugs))
    assert result.exit_code == 0 and drugs.read_text() == ""  # the fixture has no drug table
    assert result.stdout == f"0 questions written to {drugs}\n"


def test_ask_reads_the_question_from_standard_input(built: dict[str, str]):
    result = CliRunner().invoke(cli, ["ask", "-", "--json"], env=built, input="cpap device\n")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["codes"][0]["code"] == "E0601"


def test_choices_are_the_librarys_constants():
    """One definition each: every click.Choice of the CLI is a list the library defines."""
    from assistant.quiz.builder import DIFFICULTIES, FORMATS, QUIZ_KINDS
    from assistant.records import STATUSES
    from assistant.retrieval import MODES

    def option(*path: str, name: str):
        command = cli
        for part in path:
            command = command.commands[part]
        return next(p for p in command.params if p.name == name)

    assert tuple(option("ask", name="status").type.choices) == STATUSES
    assert tuple(option("eval", "retrieval", name="modes").type.choices) == MODES
    assert tuple(option("quiz", "make", name="kind").type.choices) == QUIZ_KINDS
    assert tuple(option("quiz", "make", name="difficulty").type.choices) == DIFFICULTIES
    assert tuple(option("quiz", "make", name="fmt").type.choices) == FORMATS
