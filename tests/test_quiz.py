"""The quiz builder on the real index: every kind and difficulty, determinism, the checks."""

from __future__ import annotations

import io
import json
import math
import re
import zipfile
from datetime import date
from decimal import Decimal

import pytest
from click.testing import CliRunner

from assistant import drug_units
from assistant.cli import cli
from assistant.errors import HcpcsError, UsageError
from assistant.quiz.builder import FORMATS, QUIZ_KINDS, Option, QuizBuilder, QuizItem
from assistant.quiz.export import export
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
        if item.kind == "units":
            check_units_item(builder, item)
            continue
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


def check_units_item(builder: QuizBuilder, item: QuizItem) -> None:
    """The key is the dose over the descriptor's amount, rounded up: worked out here from the
    stem's dose and the quoted descriptor, without the builder's arithmetic."""
    code = item.citation.removeprefix("CMS HCPCS 2026-01, ")
    record = builder.records[("code", code)]
    assert record.termination_date is None
    assert f"“{record.long_description}”" in item.explanation
    amount, unit = re.search(
        r"for a dose of ([\d.]+) (mg|g|mcg|units|i\.u\.|mL|mEq)\?", item.stem
    ).groups()
    per = drug_units.billing_unit(record.long_description)
    grams = {"g": Decimal(1000), "mg": Decimal(1), "mcg": Decimal("0.001")}
    dose = Decimal(amount)
    if unit in grams and per.unit in grams:
        dose = dose * grams[unit] / grams[per.unit]
    expected = math.ceil(dose / per.amount)
    right = next(o for o in item.options if o.correct)
    assert right.code == str(expected) and right.text.startswith(f"{expected:,} unit")
    assert f"= {expected:,} unit" in item.explanation or f"to {expected:,} unit" in item.explanation
    assert len({o.text for o in item.options}) == 4


def test_units_items_are_checked_and_exported_in_every_format(builder: QuizBuilder):
    quiz = builder.make(6, "units", "hard", sections=("J",), seed=4)
    assert {item.kind for item in quiz.items} == {"units"}
    for item in quiz.items:
        check_units_item(builder, item)
        # The key moved to the next option: the check works the units out again and refuses.
        key = [o.correct for o in item.options].index(True)
        moved = tuple(
            Option(o.code, o.text, i == (key + 1) % 4) for i, o in enumerate(item.options)
        )
        swapped = QuizItem(item.id, item.kind, item.stem, moved, item.explanation, item.citation)
        with pytest.raises(HcpcsError, match="keyed wrong"):
            builder.check(swapped)
    for fmt in FORMATS:
        data = export(quiz, fmt)
        if fmt == "qti":
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                text = zf.read("assessment.xml").decode("utf-8")
        else:
            text = data.decode("utf-8")
        for item in quiz.items:
            right = next(o for o in item.options if o.correct)
            assert right.text in text, fmt
            code = item.citation.rsplit(", ", 1)[-1]
            assert f"billing units of {code}" in text, fmt
            if fmt != "aiken":  # Aiken holds no feedback at all
                assert "per unit" in text or "part of it" in text, fmt
        assert export(quiz, fmt) == data  # byte-identical


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
