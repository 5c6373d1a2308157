"""The quiz builder on the real index: every kind and difficulty, determinism, the checks."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from click.testing import CliRunner

from assistant.cli import cli
from assistant.errors import HcpcsError, UsageError
from assistant.quiz.builder import QUIZ_KINDS, Option, QuizBuilder, QuizItem
from assistant.retrieval import Retriever

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def builder(real_index) -> QuizBuilder:
    settings, _ = real_index
    return QuizBuilder(Retriever(settings))


@pytest.mark.parametrize("kind", [k for k in QUIZ_KINDS])
@pytest.mark.parametrize("difficulty", ["easy", "hard"])
def test_every_kind_and_difficulty(builder: QuizBuilder, kind: str, difficulty: str):
    quiz = builder.make(8, kind, difficulty, seed=11)
    assert len(quiz.items) == 8 and quiz.release == "2026-01"
    for item in quiz.items:
        assert len(item.options) == 4 and sum(o.correct for o in item.options) == 1
        assert len({o.code for o in item.options}) == 4
        right = next(o for o in item.options if o.correct)
        kind_of = "modifier" if item.kind == "modifier" else "code"
        record = builder.records[(kind_of, right.code)]
        assert f"“{record.long_description}”" in item.explanation
        assert item.citation == f"CMS HCPCS 2026-01, {right.code}"
        if item.kind == "valid-on-date":
            day = date.fromisoformat(re.search(r"\d{4}-\d{2}-\d{2}", item.stem).group(0))
            assert [builder.records[("code", o.code)].active_on(day) for o in item.options] == [
                o.correct for o in item.options
            ]
        else:
            # No terminated code slips into a quiz that is not about dates of service.
            for option in item.options:
                assert builder.records[(kind_of, option.code)].termination_date is None


def test_sections_and_no_look_alike_options(builder: QuizBuilder):
    quiz = builder.make(10, "code-to-descriptor", "hard", sections=("E",), seed=5)
    for item in quiz.items:
        assert all(o.code.startswith("E") for o in item.options)
        texts = [o.text.casefold() for o in item.options]
        assert len(set(texts)) == 4


def test_same_seed_same_quiz_other_seed_other_quiz(builder: QuizBuilder):
    assert builder.make(12, "mixed", "hard", seed=3) == builder.make(12, "mixed", "hard", seed=3)
    assert builder.make(12, "mixed", "easy", seed=3) != builder.make(12, "mixed", "easy", seed=4)


def test_small_section_is_a_clear_error(builder: QuizBuilder):
    with pytest.raises(UsageError, match="section R has 3 eligible items.*at least 4"):
        builder.make(2, "descriptor-to-code", "easy", sections=("R",))


def test_check_refuses_a_bad_key(builder: QuizBuilder):
    item = builder.make(1, "descriptor-to-code", "easy", seed=1).items[0]
    wrong = QuizItem(
        item.id,
        item.kind,
        item.stem,
        tuple(Option(o.code, o.text, not o.correct) for o in item.options),
        item.explanation,
        item.citation,
    )
    with pytest.raises(HcpcsError):
        builder.check(wrong)


def test_cli_quiz_make_is_byte_identical(real_index, tmp_path):
    settings, _ = real_index
    env = {"HCPCS_CORPUS_DIR": str(settings.corpus_dir), "HCPCS_INDEX_DIR": str(settings.index_dir)}
    args = ["quiz", "make", "--count", "5", "--section", "J", "--kind", "mixed", "--seed", "9"]
    first = CliRunner().invoke(cli, args, env=env)
    second = CliRunner().invoke(cli, args, env=env)
    assert first.exit_code == 0, first.output
    assert first.stdout == second.stdout
    data = json.loads(first.stdout)
    assert data["release"] == "2026-01" and data["seed"] == 9 and len(data["items"]) == 5
    out = tmp_path / "quiz.zip"
    result = CliRunner().invoke(cli, [*args, "--format", "qti", "--out", str(out)], env=env)
    assert result.exit_code == 0 and out.read_bytes()[:2] == b"PK"
    bad = CliRunner().invoke(
        cli, ["quiz", "make", "--count", "3", "--section", "R", "--kind", "drug"], env=env
    )
    assert bad.exit_code == 2 and "at least 4" in bad.stderr


def test_trainer_page_builds_and_previews(real_index, monkeypatch):
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from tests.test_app import APP

    settings, _ = real_index
    monkeypatch.setenv("HCPCS_CORPUS_DIR", str(settings.corpus_dir))
    monkeypatch.setenv("HCPCS_INDEX_DIR", str(settings.index_dir))
    st.cache_resource.clear()
    page = APP.replace("app.py", "pages/2_Quiz_builder.py")
    at = AppTest.from_file(page, default_timeout=300).run()
    assert not at.exception
    at.number_input[0].set_value(3)
    at.button[0].click().run()
    assert not at.exception
    assert at.subheader, [e.value for e in at.error]  # an error box says why there is no quiz
    assert at.subheader[0].value.startswith("3 questions · CMS HCPCS 2026-01")
