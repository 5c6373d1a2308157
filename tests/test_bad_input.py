"""Bad input anywhere: a one-line error and a non-zero exit (2 for usage), never a traceback.

One table of cases over every command, option, input file and environment setting, run with
the `hcpcs` command on the fixture corpus. Each case names the exit code it must end with and
words its message must contain.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.cli import cli
from tests.fixture_corpus import assert_one_line_error, write_corpus

NOT_JSON = b'{"question": "cpap"\n'
BINARY = b"\xff\xfe\x00\x81garbage"
GOOD_SET_LINE = b'{"id": "a", "question": "cpap", "expected_codes": ["E0601"]}\n'

# (id, arguments, extra environment, stdin, files to write into the case's folder, exit, words)
# "{tmp}" in an argument or a setting is the case's folder.
# fmt: off
CASES = [
    # ----------------------------------------------------------------- arguments
    ("unknown-command", ["nosuchcmd"], {}, None, {}, 2, ["No such command"]),
    ("lookup-missing-code", ["lookup"], {}, None, {}, 2, ["Missing argument"]),
    ("lookup-empty-code", ["lookup", ""], {}, None, {}, 2, ["not a HCPCS Level II code"]),
    ("lookup-nul", ["lookup", "E0601\x00"], {}, None, {}, 2, ["not a HCPCS Level II code"]),
    ("lookup-sql", ["lookup", "E0601' OR 1=1 --"], {}, None, {}, 2, ["not a HCPCS"]),
    ("lookup-10k-chars", ["lookup", "E" * 10_000], {}, None, {}, 2, ["not a HCPCS"]),
    ("lookup-path-release", ["lookup", "E0601", "--release", "../../etc"], {}, None, {}, 2,
     ["unknown release"]),
    ("ask-neither", ["ask"], {}, None, {}, 2, ["QUESTION or --batch"]),
    ("ask-both", ["ask", "cpap", "--batch", "{tmp}/q.jsonl"], {}, None,
     {"q.jsonl": b'{"question": "cpap"}\n'}, 2, ["not both"]),
    ("ask-bad-date", ["ask", "--date", "2024-13-45", "cpap"], {}, None, {}, 2, ["YYYY-MM-DD"]),
    ("ask-word-date", ["ask", "--date", "yesterday", "cpap"], {}, None, {}, 2, ["YYYY-MM-DD"]),
    ("ask-top-0", ["ask", "--top", "0", "cpap"], {}, None, {}, 2, ["--top"]),
    ("ask-top-21", ["ask", "--top", "21", "cpap"], {}, None, {}, 2, ["--top"]),
    ("ask-top-text", ["ask", "--top", "abc", "cpap"], {}, None, {}, 2, ["--top"]),
    ("ask-section-symbols", ["ask", "--section", "!!", "cpap"], {}, None, {}, 2, ["section"]),
    ("ask-section-two", ["ask", "--section", "ZZ", "cpap"], {}, None, {}, 2, ["section"]),
    ("ask-status", ["ask", "--status", "bogus", "cpap"], {}, None, {}, 2, ["--status"]),
    ("ask-release", ["ask", "--release", "1999-01", "cpap"], {}, None, {}, 2,
     ["unknown release"]),
    # ----------------------------------------------------------------- questions
    ("question-empty", ["ask", ""], {}, None, {}, 2, ["empty"]),
    ("question-blank", ["ask", " \t\n\r "], {}, None, {}, 2, ["empty"]),
    ("question-controls-only", ["ask", "\x00\x07\x1b\x7f"], {}, None, {}, 2, ["empty"]),
    ("question-stdin-empty", ["ask", "-"], {}, b"", {}, 2, ["empty"]),
    ("question-stdin-not-utf8", ["ask", "-"], {}, BINARY, {}, 2, ["not valid UTF-8"]),
    ("question-argv-not-utf8", ["ask", "\udcff\udcfe cpap"], {}, None, {}, 2,
     ["not valid UTF-8"]),
    # ----------------------------------------------------------------- question files
    ("batch-missing", ["ask", "--batch", "{tmp}/none.jsonl"], {}, None, {}, 2, ["cannot read"]),
    ("batch-folder", ["ask", "--batch", "{tmp}"], {}, None, {}, 2, ["is a directory"]),
    ("batch-not-json", ["ask", "--batch", "{tmp}/q.jsonl"], {}, None, {"q.jsonl": NOT_JSON}, 2,
     ["q.jsonl:1", "not valid JSON"]),
    ("batch-binary", ["ask", "--batch", "{tmp}/q.jsonl"], {}, None, {"q.jsonl": BINARY}, 2,
     ["not valid UTF-8"]),
    ("batch-array", ["ask", "--batch", "{tmp}/q.jsonl"], {}, None, {"q.jsonl": b"[1, 2]\n"}, 2,
     ['"question" string']),
    ("batch-question-number", ["ask", "--batch", "{tmp}/q.jsonl"], {}, None,
     {"q.jsonl": b'{"question": 42}\n'}, 2, ['"question" string']),
    ("batch-empty-question", ["ask", "--batch", "{tmp}/q.jsonl"], {}, None,
     {"q.jsonl": b'{"question": "cpap"}\n{"question": "  "}\n'}, 2, ["q.jsonl:2", "empty"]),
    ("batch-bad-date", ["ask", "--batch", "{tmp}/q.jsonl"], {}, None,
     {"q.jsonl": b'{"question": "cpap", "date": "31/12/2024"}\n'}, 2, ["q.jsonl:1", "YYYY"]),
    ("set-not-json", ["eval", "run", "{tmp}/s.jsonl", "--out", "{tmp}/o.json"], {}, None,
     {"s.jsonl": NOT_JSON}, 2, ["s.jsonl:1"]),
    ("set-binary", ["eval", "run", "{tmp}/s.jsonl", "--out", "{tmp}/o.json"], {}, None,
     {"s.jsonl": BINARY}, 2, ["not valid UTF-8"]),
    ("set-codes-not-list", ["eval", "run", "{tmp}/s.jsonl", "--out", "{tmp}/o.json"], {}, None,
     {"s.jsonl": b'{"id": "a", "question": "cpap", "expected_codes": "E0601"}\n'}, 2,
     ["expected_codes"]),
    ("set-missing", ["eval", "run", "{tmp}/none.jsonl", "--out", "{tmp}/o.json"], {}, None, {},
     2, ["cannot read"]),
    ("set-empty", ["eval", "retrieval", "{tmp}/s.jsonl"], {}, None, {"s.jsonl": b""}, 2,
     ["no questions"]),
    ("eval-out-no-folder", ["eval", "run", "{tmp}/s.jsonl", "--out", "{tmp}/no/o.json"], {},
     None, {"s.jsonl": GOOD_SET_LINE}, 2, ["--out", "does not exist"]),
    ("eval-markdown-no-folder",
     ["eval", "run", "{tmp}/s.jsonl", "--out", "{tmp}/o.json", "--markdown", "{tmp}/no/r.md"],
     {}, None, {"s.jsonl": GOOD_SET_LINE}, 2, ["--markdown", "does not exist"]),
    ("eval-baseline-not-json",
     ["eval", "run", "{tmp}/s.jsonl", "--out", "{tmp}/o.json", "--baseline", "{tmp}/b.json"],
     {}, None, {"s.jsonl": GOOD_SET_LINE, "b.json": b"not json"}, 2, ["not a JSON report"]),
    ("eval-tolerance", ["eval", "run", "{tmp}/s.jsonl", "--out", "{tmp}/o.json",
                        "--tolerance", "2"], {}, None, {"s.jsonl": GOOD_SET_LINE}, 2,
     ["--tolerance"]),
    ("compare-not-json", ["eval", "compare", "{tmp}/b.json", "{tmp}/b.json"], {}, None,
     {"b.json": b"\x00\x01"}, 2, ["not a JSON report"]),
    ("retrieval-k-0", ["eval", "retrieval", "{tmp}/s.jsonl", "--k", "0"], {}, None,
     {"s.jsonl": GOOD_SET_LINE}, 2, ["--k"]),
    ("drug-set-no-folder", ["eval", "make-drug-set", "{tmp}/no/d.jsonl"], {}, None, {}, 2,
     ["does not exist"]),
    # ----------------------------------------------------------------- quiz options
    ("quiz-count-0", ["quiz", "make", "--count", "0"], {}, None, {}, 2, ["--count"]),
    ("quiz-count-huge", ["quiz", "make", "--count", "100000"], {}, None, {}, 2, ["--count"]),
    ("quiz-count-text", ["quiz", "make", "--count", "five"], {}, None, {}, 2, ["--count"]),
    ("quiz-section-digit", ["quiz", "make", "--count", "3", "--section", "1"], {}, None, {}, 2,
     ["section letter"]),
    ("quiz-kind", ["quiz", "make", "--count", "3", "--kind", "essay"], {}, None, {}, 2,
     ["--kind"]),
    ("quiz-difficulty", ["quiz", "make", "--count", "3", "--difficulty", "extreme"], {}, None,
     {}, 2, ["--difficulty"]),
    ("quiz-format", ["quiz", "make", "--count", "3", "--format", "docx"], {}, None, {}, 2,
     ["--format"]),
    ("quiz-qti-stdout", ["quiz", "make", "--count", "3", "--format", "qti"], {}, None, {}, 2,
     ["--out"]),
    ("quiz-out-no-folder", ["quiz", "make", "--count", "3", "--out", "{tmp}/no/q.json"], {},
     None, {}, 2, ["does not exist"]),
    ("quiz-out-folder", ["quiz", "make", "--count", "3", "--out", "{tmp}"], {}, None, {}, 2,
     ["is a directory"]),
    ("quiz-release", ["quiz", "make", "--count", "3", "--release", "1999-01"], {}, None, {}, 2,
     ["unknown release"]),
    ("quiz-seed", ["quiz", "make", "--count", "3", "--seed", "abc"], {}, None, {}, 2, ["--seed"]),
    ("bench-threads", ["bench", "--threads", "0"], {}, None, {}, 2, ["--threads"]),
    ("bench-set", ["bench", "--set", "{tmp}/none.jsonl"], {}, None, {}, 2, ["cannot read"]),
    ("fetch-mirror", ["corpus", "fetch", "--mirror", "{tmp}/none"], {}, None, {}, 2,
     ["mirror folder not found"]),
    ("fetch-latest-mirror", ["corpus", "fetch", "--latest", "--mirror", "{tmp}"], {}, None, {},
     2, ["does not take --mirror"]),
    ("fetch-page-alone", ["corpus", "fetch", "--page", "http://127.0.0.1:9/"], {}, None, {}, 2,
     ["go with --latest"]),
    ("fetch-latest-bad-page", ["corpus", "fetch", "--latest", "--page", "not a url"], {}, None,
     {}, 2, ["http://", "not a url"]),
    ("fetch-latest-no-server", ["corpus", "fetch", "--latest", "--page", "http://127.0.0.1:9/"],
     {}, None, {}, 1, ["the CMS quarterly-update page: download from http://127.0.0.1:9/"]),
    ("add-missing-arg", ["corpus", "add"], {}, None, {}, 2, ["Missing argument"]),
    ("add-release-month", ["corpus", "add", "--release", "2099-02", "{tmp}/x.txt"], {}, None,
     {"x.txt": b"x"}, 2, ["YYYY-01, -04, -07 or -10"]),
    ("add-empty-file", ["corpus", "add", "{tmp}/HCPC2099_APR_ANWEB.txt"], {}, None,
     {"HCPC2099_APR_ANWEB.txt": b""}, 1, ["no HCPCS records found"]),
    ("add-binary", ["corpus", "add", "{tmp}/HCPC2099_APR_ANWEB.txt"], {}, None,
     {"HCPC2099_APR_ANWEB.txt": BINARY}, 1, ["HCPC2099_APR_ANWEB.txt"]),
    ("remove-unknown", ["corpus", "remove", "2099-04"], {}, None, {}, 2, ["not added locally"]),
    ("remove-garbage", ["corpus", "remove", "../../x"], {}, None, {}, 2, ["YYYY-01"]),
    ("diff-unknown", ["corpus", "diff", "2099-01", "2030-01"], {}, None, {}, 2,
     ["unknown release"]),
    ("diff-reversed", ["corpus", "diff", "2099-01", "2098-01"], {}, None, {}, 2,
     ["must be the older one"]),
    ("diff-same", ["corpus", "diff", "2099-01", "2099-01"], {}, None, {}, 2,
     ["must be the older one"]),
    ("diff-section", ["corpus", "diff", "2098-01", "2099-01", "--section", "!!"], {}, None, {},
     2, ["section"]),
    ("diff-missing-arg", ["corpus", "diff", "2098-01"], {}, None, {}, 2, ["Missing argument"]),
    # ----------------------------------------------------------------- environment settings
    ("env-chroma-scheme", ["lookup", "E0601"], {"HCPCS_CHROMA_URL": "ftp://x"}, None, {}, 2,
     ["HCPCS_CHROMA_URL"]),
    ("env-chroma-port", ["lookup", "E0601"], {"HCPCS_CHROMA_URL": "http://127.0.0.1:port"},
     None, {}, 2, ["bad port"]),
    ("env-chroma-words", ["ask", "cpap"], {"HCPCS_CHROMA_URL": "not a url"}, None, {}, 2,
     ["HCPCS_CHROMA_URL"]),
    ("env-model", ["ask", "cpap"], {"HCPCS_MODEL": "gpt-5"}, None, {}, 2, ["HCPCS_MODEL"]),
    ("env-sources-missing", ["corpus", "list"], {"HCPCS_SOURCES": "{tmp}/none.toml"}, None, {},
     1, ["manifest not found"]),
    ("env-sources-binary", ["corpus", "list"], {"HCPCS_SOURCES": "{tmp}/s.toml"}, None,
     {"s.toml": BINARY}, 1, ["not valid TOML"]),
    ("env-log-file-folder", ["ask", "cpap"], {"HCPCS_LOG_FILE": "{tmp}/no/log.jsonl"}, None,
     {}, 2, ["HCPCS_LOG_FILE", "cannot be opened"]),
    ("env-log-questions", ["ask", "cpap"], {"HCPCS_LOG_QUESTIONS": "maybe"}, None, {}, 2,
     ["HCPCS_LOG_QUESTIONS must be 1 or 0"]),
    ("env-index-is-file", ["index", "build"], {"HCPCS_INDEX_DIR": "{tmp}/file"}, None,
     {"file": b"x"}, 2, ["cannot use", "index folder"]),
    ("env-index-empty", ["ask", "cpap"], {"HCPCS_INDEX_DIR": "{tmp}"}, None, {}, 1,
     ["no index", "hcpcs index build"]),
    ("env-corpus-missing", ["index", "build"], {"HCPCS_CORPUS_DIR": "{tmp}/none",
                                                "HCPCS_INDEX_DIR": "{tmp}/index"}, None, {}, 1,
     ["hcpcs corpus fetch"]),
]
# fmt: on


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("bad-input")
    mirror, manifest = write_corpus(root)
    env = {
        "HCPCS_CORPUS_DIR": str(root / "raw"),
        "HCPCS_INDEX_DIR": str(root / "index"),
        "HCPCS_SOURCES": str(manifest),
        "HCPCS_MODEL": "hash-embedder",
        "HCPCS_CHROMA_URL": "",
    }
    runner = CliRunner()
    assert runner.invoke(cli, ["corpus", "fetch", "--mirror", str(mirror)], env=env).exit_code == 0
    result = runner.invoke(cli, ["index", "build"], env=env)
    assert result.exit_code == 0, result.output
    return env


@pytest.mark.parametrize(
    ("args", "extra_env", "stdin", "files", "code", "words"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_bad_input_is_one_line_and_the_right_exit(
    built, tmp_path: Path, args, extra_env, stdin, files, code, words
):
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    fill = lambda value: value.replace("{tmp}", str(tmp_path))  # noqa: E731
    env = built | {k: fill(v) for k, v in extra_env.items()}
    result = CliRunner().invoke(cli, [fill(a) for a in args], env=env, input=stdin)
    # Anything but SystemExit escaping the command would be a traceback for the user.
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert_one_line_error(result, code, *words)
    assert max(len(line) for line in result.stderr.splitlines()) < 400
