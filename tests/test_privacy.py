"""Privacy: by default no question or answer is written to disk or logs; logging is opt-in.

Each test gives the processes it starts their own HOME, TMPDIR, cache folders and working
directory inside the test's folder, asks questions carrying a marker word, and then reads
every file under that folder (corpus and index included) for the marker.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from assistant import store
from assistant.bench import chat_load
from assistant.config import Settings
from assistant.embeddings import HashEmbedder
from tests.fixture_corpus import fixture_env

MARKER = "zqxprivatemarker"
QUESTION = f"cpap device for patient {MARKER}"


def _env(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(fixture_env(root))
    for name in ("home", "tmp", "cache", "cwd"):
        (root / name).mkdir()
    env.update(
        {
            "HOME": str(root / "home"),
            "TMPDIR": str(root / "tmp"),
            "XDG_CACHE_HOME": str(root / "cache"),
            "HF_HUB_OFFLINE": "1",
            "HCPCS_LOG_FILE": "",
            "HCPCS_LOG_QUESTIONS": "",
        }
    )
    store.build_index(Settings.from_env(env), embedder=HashEmbedder())
    return env


def _files_with_marker(root: Path) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink() and MARKER.encode() in path.read_bytes():
            found.append(str(path.relative_to(root)))
    return found


def _ask(env: dict[str, str], root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "assistant", "ask", *args],
        env=env,
        cwd=root / "cwd",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_cli_writes_no_question_anywhere_by_default(tmp_path: Path):
    env = _env(tmp_path)
    result = _ask(env, tmp_path, QUESTION)
    assert result.returncode == 0, result.stderr
    assert "E0601" in result.stdout
    assert MARKER not in result.stderr
    batch = tmp_path / "cwd" / "in.jsonl"
    batch.write_text(json.dumps({"question": QUESTION}) + "\n")
    assert _ask(env, tmp_path, "--batch", str(batch)).returncode == 0
    batch.unlink()  # the coder's own input file: everything else is the tool's doing
    assert _files_with_marker(tmp_path) == []


def test_opt_in_log_has_no_question_text_unless_asked(tmp_path: Path):
    env = _env(tmp_path)
    log = tmp_path / "usage.jsonl"
    assert _ask(env | {"HCPCS_LOG_FILE": str(log)}, tmp_path, QUESTION).returncode == 0
    assert _ask(env | {"HCPCS_LOG_FILE": str(log)}, tmp_path, "E0194").returncode == 0
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert [e["codes"][0] for e in events] == ["E0601", "E0194"]
    assert events[0]["question_chars"] == len(QUESTION)
    assert "coverage" in events[0]["notices"] and events[0]["ms"] >= 0
    assert all("question" not in e for e in events)
    assert _files_with_marker(tmp_path) == []

    opted = env | {"HCPCS_LOG_FILE": str(log), "HCPCS_LOG_QUESTIONS": "1"}
    assert _ask(opted, tmp_path, QUESTION).returncode == 0
    last = json.loads(log.read_text().splitlines()[-1])
    assert last["question"] == QUESTION
    assert _files_with_marker(tmp_path) == ["usage.jsonl"]


@pytest.mark.integration
@pytest.mark.slow
def test_the_streamlit_server_writes_no_question_anywhere(tmp_path: Path):
    env = _env(tmp_path)
    log = tmp_path / "streamlit.log"
    with chat_load.streamlit_server(env, cwd=tmp_path / "cwd", log_path=log) as server:
        figures = chat_load.run_load(
            server.url, [QUESTION, f"humidifier {MARKER}"], sessions=2, questions_per_session=2
        )
    assert figures["answered"] == 4, figures["error_reasons"]
    assert log.stat().st_size > 0  # the server did log; just not the questions
    assert _files_with_marker(tmp_path) == []
