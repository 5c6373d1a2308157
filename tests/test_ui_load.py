"""A bounded load test of `streamlit run app.py`: concurrent websocket sessions, timed answers."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant import store
from assistant.bench import chat_load
from assistant.config import Settings
from assistant.embeddings import HashEmbedder
from tests.fixture_corpus import RECORDS, fixture_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Each question's best match in the fixture corpus (tests/fixture_corpus.py RECORDS).
EXPECTED = {
    "cpap device": "E0601",
    "heated humidifier used with a positive airway pressure device": "E0562",
    "what is E0194?": "E0194",
    "air fluidized bed": "E0194",
    "durable medical equipment, miscellaneous": "E1399",
    "KX modifier": "KX",
    "irrigation supply sleeve": "A4397",
    "long test descriptor that needs more than one line": "G0999",
    "E0601": "E0601",
}
# Every code and modifier the fixture corpus has (a record line starts with its key).
FIXTURE_CODES = {line[:5].strip() for line in RECORDS}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[chat_load.Server]:
    env = dict(os.environ)
    env.update(fixture_env(tmp_path))
    store.build_index(Settings.from_env(env), embedder=HashEmbedder())
    with chat_load.streamlit_server(env, cwd=tmp_path, log_path=tmp_path / "streamlit.log") as srv:
        yield srv
    assert srv.process.poll() is not None, "the server outlived its context manager"


def test_concurrent_sessions_all_answered(server: chat_load.Server):
    questions = list(EXPECTED)
    figures = chat_load.run_load(
        server.url,
        questions,
        sessions=3,
        questions_per_session=3,
        timeout=60,
        question_timeout=30,
    )
    print("\n" + chat_load.format_load(figures))
    assert figures["errors"] == 0, figures["error_reasons"]
    assert figures["answered"] == 9
    assert figures["asked"] == 9
    turns = figures["turns"]
    # Session s asked questions s*3 .. s*3+2: every question once, each in its own turn.
    assert sorted(t["question"] for t in turns) == sorted(questions)
    for t in turns:
        assert t["kind"] == "code", t
        assert t["coverage"], t
        assert set(t["codes"]) <= FIXTURE_CODES, t
        assert t["codes"][0] == EXPECTED[t["question"]], t
        assert "does not, of itself, determine coverage" in t["text"]
        assert t["seconds"] > 0
    seconds = figures["answer_seconds"]
    assert 0 < seconds["p50"] <= seconds["p95"] <= seconds["max"]
    assert figures["page_load_seconds"]["p50"] > 0
    assert figures["answers_per_second"] > 0
    assert figures["stopped_by_deadline"] is False
    text = chat_load.format_load(figures)
    assert "answered 9/9, errors 0" in text
    assert "p95" in text


def test_a_run_past_its_deadline_stops_by_itself(server: chat_load.Server):
    started = time.monotonic()
    figures = chat_load.run_load(
        server.url,
        list(EXPECTED),
        sessions=3,
        questions_per_session=4,
        timeout=0.2,
        question_timeout=30,
    )
    assert time.monotonic() - started < 5
    assert figures["stopped_by_deadline"] is True
    assert figures["errors"] > 0
    assert figures["answered"] + figures["errors"] == 12
    assert len(figures["turns"]) == 12
    assert all(r.split(": ", 1)[1] for r in figures["error_reasons"])
    assert "stopped by the deadline" in chat_load.format_load(figures)


def test_a_slow_question_times_out_and_the_session_stops(server: chat_load.Server):
    # No run finishes within 1 ms: the session's first run times out, the rest are not asked.
    figures = chat_load.run_load(
        server.url, ["cpap device"], sessions=1, questions_per_session=3, question_timeout=0.001
    )
    kinds = [t["kind"] for t in figures["turns"]]
    assert kinds[0] == "timeout"
    assert kinds[1:] == ["not-asked", "not-asked"]
    assert figures["errors"] == 3
    assert figures["answer_seconds"]["p50"] is None


def test_a_server_that_cannot_start_is_reported(tmp_path: Path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        # Streamlit exits at once when its port is taken; the error carries its log.
        with pytest.raises(chat_load.UiLoadError, match="exited"):
            with chat_load.streamlit_server(dict(os.environ), cwd=tmp_path, port=port):
                pytest.fail("the server should not have started")


def test_hcpcs_bench_ui_starts_the_server_and_reports(tmp_path: Path):
    import json

    from click.testing import CliRunner

    from assistant.cli import cli

    env = fixture_env(tmp_path)
    store.build_index(Settings.from_env(env), embedder=HashEmbedder())
    qset = tmp_path / "set.jsonl"
    qset.write_text(
        "".join(
            json.dumps({"id": f"q{n}", "question": q, "expected_codes": [code]}) + "\n"
            for n, (q, code) in enumerate(EXPECTED.items())
        )
    )
    args = ["bench", "ui", "--sessions", "2", "--questions", "2", "--set", str(qset), "--json"]
    result = CliRunner().invoke(cli, args, env=env)
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["answered"] == 4 and figures["errors"] == 0
    assert figures["warmup_seconds"] > 0
    assert [t["codes"][0] for t in figures["turns"]] == [EXPECTED[q] for q in list(EXPECTED)[:4]]
    bad = CliRunner().invoke(cli, ["bench", "ui", "--url", "ftp://x"], env=env)
    assert bad.exit_code == 2 and "--url" in bad.stderr
