"""The quiz builder on the real index: every kind and difficulty, determinism, the checks."""

from __future__ import annotations

import io
import json
import math
import re
import zipfile
from collections import Counter
from datetime import date
from decimal import Decimal
from xml.etree import ElementTree as ET

import pytest
from click.testing import CliRunner

from assistant import drug_units
from assistant.cli import cli
from assistant.errors import HcpcsError, UsageError
from assistant.quiz.builder import (
    FORMATS,
    NO_DRAFT,
    QUIZ_KINDS,
    REJECTIONS,
    Option,
    Quiz,
    QuizBuilder,
    QuizItem,
)
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
            day = date.fromisoformat(item.subject)
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


# --- the defects a trainer found -----------------------------------------------------------


def _key(item: QuizItem) -> Option:
    return next(o for o in item.options if o.correct)


def _crosswalk_names(builder: QuizBuilder) -> dict[str, set[str]]:
    names: dict[str, set[str]] = {}
    for entry in builder.retriever.crosswalk.values():
        names.setdefault(entry.code, set()).add(" ".join(entry.drug_name.split()).casefold())
    return names


@pytest.mark.parametrize(
    ("count", "kind", "difficulty", "seed"),
    [(4, "mixed", "hard", 11), (100, "drug", "easy", 42), (100, "drug", "hard", 42)],
)
def test_drug_items_have_one_right_answer_by_the_crosswalk(
    builder: QuizBuilder, count, kind, difficulty, seed
):
    """The stem asks for the code the ASP crosswalk lists under a drug name: no distractor may
    be listed under that name too (seed 11 once offered J2183, J2184 and J2185 for Meropenem)."""
    names = _crosswalk_names(builder)
    drug_items = [
        i for i in builder.make(count, kind, difficulty, seed=seed).items if i.kind == "drug"
    ]
    assert drug_items
    for item in drug_items:
        key = _key(item)
        asked = {n for n in names[key.code] if n in item.stem.casefold()}
        assert asked, item.stem
        for option in item.options:
            if not option.correct:
                assert not names.get(option.code, set()) & asked, (item.stem, option.code)


def _titles(quiz: Quiz) -> list[str]:
    """Every title an export gives an item: GIFT ::title::, Moodle <name>, QTI ident/title."""
    from tests.test_quiz_export import read_gift

    out = [q["name"] for q in read_gift(export(quiz, "gift"))]
    moodle = ET.fromstring(export(quiz, "moodle-xml"))
    out += [q.findtext("name/text") for q in moodle.findall("question")]
    with zipfile.ZipFile(io.BytesIO(export(quiz, "qti"))) as archive:
        qti = ET.fromstring(archive.read("assessment.xml"))
    for node in qti.findall("assessment/section/item"):
        out += [node.get("ident"), node.get("title")]
    return out


@pytest.mark.parametrize("difficulty", ["easy", "hard"])
def test_ids_titles_and_stems_do_not_reveal_the_key(builder: QuizBuilder, difficulty: str):
    quiz = builder.make(60, "mixed", difficulty, seed=7)
    for item in quiz.items:
        key = _key(item)
        token = re.compile(rf"(?<![A-Za-z0-9]){key.code}(?![A-Za-z0-9])", re.IGNORECASE)
        titles = _titles(Quiz((item,), quiz.release, 1))
        assert len(titles) == 4 and not any(token.search(t) for t in titles), titles
        if item.kind in ("code-to-descriptor", "units"):  # the key is a descriptor, a number
            assert key.text.casefold() not in item.stem.casefold()
        else:
            assert not token.search(item.stem), item.stem


def test_modifier_stems_never_quote_the_modifier(builder: QuizBuilder):
    def token(code: str) -> re.Pattern:
        return re.compile(rf"(?<![A-Za-z0-9]){code}(?![A-Za-z0-9])", re.IGNORECASE)

    quiz = builder.make(150, "modifier", "easy", seed=3)
    for item in quiz.items:
        assert not token(_key(item).code).search(item.stem), item.stem
    # Some descriptors name their own modifier ("use the 'rr' modifier when dme is to be
    # rented"): the checker refuses those as keys of a modifier item.
    quoting = {
        r.code
        for r in builder.active
        if r.kind == "modifier" and token(r.code).search(r.long_description)
    }
    assert {"RR", "TC", "LL", "NR", "CC"} <= quoting
    assert not {_key(i).code for i in quiz.items} & quoting
    assert dict(quiz.rejected).get("key-revealed", 0) >= 1


@pytest.mark.parametrize("difficulty", ["easy", "hard"])
def test_valid_on_date_items_need_the_date(builder: QuizBuilder, difficulty: str):
    """The key is never just "the one still valid today"; a distractor still valid today was
    added after the date; stems vary; hard keys are codes terminated since."""
    quiz = builder.make(40, "valid-on-date", difficulty, seed=5)
    assert len({item.stem for item in quiz.items}) == 40
    for item in quiz.items:
        day = date.fromisoformat(item.subject)
        records = {o.code: builder.records[("code", o.code)] for o in item.options}
        key = records[_key(item).code]
        assert key.active_on(day)
        still_valid = {code for code, r in records.items() if r.termination_date is None}
        assert still_valid != {key.code}
        later = [
            r
            for r in records.values()
            if r is not key and r.termination_date is None and r.add_date > day
        ]
        assert later, item.stem
        assert all(not r.active_on(day) for r in records.values() if r is not key)
        if difficulty == "hard":
            assert key.termination_date is not None and key.termination_date >= day
    other = builder.make(40, "valid-on-date", "easy" if difficulty == "hard" else "hard", seed=5)
    assert [i.options for i in other.items] != [i.options for i in quiz.items]


def test_no_two_items_share_options_or_stems(builder: QuizBuilder):
    for difficulty in ("easy", "hard"):
        quiz = builder.make(120, "mixed", difficulty, seed=42)
        # Units items offer numbers: the same numbers for another drug code are other options.
        options = [
            (item.subject if item.kind == "units" else "", frozenset(o.code for o in item.options))
            for item in quiz.items
        ]
        assert len(set(options)) == len(options)
        assert len({item.stem for item in quiz.items}) == len(quiz.items)


def _hand(builder: QuizBuilder, kind: str, key: str, others: list[str], stem: str, subject: str):
    """An item written by hand: ``key`` right, ``others`` wrong, explained from the release."""
    record = builder.records[("modifier" if kind == "modifier" else "code", key)]
    options = (Option(key, key, True), *(Option(c, c, False) for c in others))
    return QuizItem(
        f"q001-{kind}",
        kind,
        stem,
        options,
        f"{key} is “{record.long_description}” (CMS HCPCS 2026-01).",
        f"CMS HCPCS 2026-01, {key}",
        subject,
    )


def test_checker_refuses_each_kind_of_unusable_item(builder: QuizBuilder):
    stem = "Which code is billed for Meropenem, as the CMS ASP crosswalk lists it?"
    fine = _hand(builder, "drug", "J2185", ["J0131", "J1100", "J0696"], stem, "Meropenem")
    assert builder.problems(fine) == []
    # J2183 is meropenem too, by the very crosswalk the stem cites.
    twice = _hand(builder, "drug", "J2185", ["J2183", "J1100", "J0696"], stem, "Meropenem")
    assert builder.problems(twice) == ["second-right-answer"]
    with pytest.raises(HcpcsError, match="second-right-answer"):
        builder.check(twice)

    cpap = builder.records[("code", "E0601")].long_description
    stem = f"Which HCPCS Level II code is described as “{cpap}”?"
    item = _hand(builder, "descriptor-to-code", "E0601", ["E0470", "E0250", "E0143"], stem, cpap)
    assert builder.problems(item) == []
    revealed = QuizItem("q001-descriptor-to-code-E0601", *astuple_tail(item))
    assert builder.problems(revealed) == ["key-revealed"]
    quoted = _hand(
        builder, "descriptor-to-code", "E0601", ["E0470", "E0250", "E0143"], f"{stem} (E0601)", cpap
    )
    assert builder.problems(quoted) == ["key-revealed"]
    named = _hand(
        builder,
        "descriptor-to-code",
        "E0601",
        ["E0470", "E0250", "E0143"],
        f"{stem} Not e0470.",
        cpap,
    )
    assert builder.problems(named) == ["option-named"]
    assert builder.problems(item, [item]) == ["repeated-options", "repeated-stem"]

    # On a date the key and a distractor were both valid: two right answers.
    day = "2018-06-01"
    stem = f"Which of these codes could be reported for a date of service of {day}?"
    dated = _hand(builder, "valid-on-date", "E0601", ["E0470", "E0250", "E0143"], stem, day)
    assert "second-right-answer" in builder.problems(dated)
    # The date is not needed when the key is the only option still valid today.
    ended = [
        r.code
        for r in builder.terminated
        if r.kind == "code" and r.termination_date < date(2018, 6, 1)
    ][:3]
    lone = _hand(builder, "valid-on-date", "E0601", ended, stem, day)
    assert builder.problems(lone) == ["date-ignored"]
    undated = _hand(builder, "valid-on-date", "E0601", ended, "Which code is valid?", day)
    assert builder.problems(undated) == ["malformed"]


def astuple_tail(item: QuizItem) -> tuple:
    return (item.kind, item.stem, item.options, item.explanation, item.citation, item.subject)


def test_checker_over_2000_items(builder: QuizBuilder):
    """2,000 items of every kind (1,000 easy, 1,000 hard, the kinds in turn): the count asked
    for is always made, every item passes the checker again, and what the checker refused on
    the way is reported by reason."""
    made: list[QuizItem] = []
    refused: Counter[str] = Counter()
    for difficulty in ("easy", "hard"):
        quiz = builder.make(1000, "mixed", difficulty, seed=2026)
        assert len(quiz.items) == 1000
        for n, item in enumerate(quiz.items):
            assert builder.problems(item, quiz.items[:n]) == [], item
        refused.update(dict(quiz.rejected))
        made += quiz.items
    kinds = Counter(item.kind for item in made)
    assert set(kinds) == set(QUIZ_KINDS) - {"mixed"}
    assert max(kinds.values()) - min(kinds.values()) <= 2  # in turn: 1,000 is not a multiple
    assert set(refused) <= {*REJECTIONS, NO_DRAFT}
    print(
        "\nquiz checker, drafts refused by reason over 2,000 items:", dict(sorted(refused.items()))
    )


def test_every_format_is_valid_and_byte_identical_per_seed(builder: QuizBuilder):
    from tests.test_quiz_export import read_gift

    quiz = builder.make(30, "mixed", "hard", seed=13)
    again = builder.make(30, "mixed", "hard", seed=13)
    for fmt in FORMATS:
        assert export(quiz, fmt) == export(again, fmt), fmt
    gift = read_gift(export(quiz, "gift"))
    assert [q["stem"] for q in gift] == [i.stem for i in quiz.items]
    assert [[w for _t, w in q["answers"]] for q in gift] == [
        [100 if o.correct else 0 for o in i.options] for i in quiz.items
    ]
    moodle = ET.fromstring(export(quiz, "moodle-xml"))
    assert len(moodle.findall("question")) == 30
    with zipfile.ZipFile(io.BytesIO(export(quiz, "qti"))) as archive:
        assert archive.testzip() is None
        ET.fromstring(archive.read("imsmanifest.xml"))
        assert len(ET.fromstring(archive.read("assessment.xml")).findall(".//item")) == 30
    aiken = export(quiz, "aiken").decode("utf-8").rstrip("\n").split("\n\n")
    assert [block.split("\n")[-1] for block in aiken] == [
        f"ANSWER: {'ABCD'[[o.correct for o in i.options].index(True)]}" for i in quiz.items
    ]
    import csv

    rows = list(csv.reader(io.StringIO(export(quiz, "csv").decode("utf-8"), newline="")))
    assert len(rows) == 31 and all(len(r) == 7 for r in rows)
    data = json.loads(export(quiz, "json"))
    assert [i["id"] for i in data["items"]] == [i.id for i in quiz.items]
    text = export(quiz, "md").decode("utf-8")
    assert text.count("\n**") == 30 and "## Answer key" in text
