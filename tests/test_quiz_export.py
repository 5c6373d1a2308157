"""The quiz exporters: every format parses back to the quiz it came from, byte for byte stable."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from xml.etree import ElementTree as ET

import pytest

from assistant.errors import UsageError
from assistant.quiz.builder import FORMATS, Option, Quiz, QuizItem
from assistant.quiz.export import EXPORTERS, export

NASTY = 'Walker: {folding} = ~wheeled #2 & "quoted" <b>'


def _item(number: int, stem: str, texts: list[str], right: int, explanation: str) -> QuizItem:
    options = tuple(Option(f"E{number}{i:02d}", text, i == right) for i, text in enumerate(texts))
    return QuizItem(
        f"q{number:03d}-mixed",  # ids never carry the key: they title the item in every export
        "mixed",
        stem,
        options,
        explanation,
        f"CMS HCPCS 2026-01, E{number}",
    )


QUIZ = Quiz(
    items=(
        _item(
            1,
            f"Which code is described as “{NASTY}”?",
            ["E0143", "E0149", "E0130", "E0135"],
            2,
            f"E0130 is “{NASTY}” (CMS HCPCS 2026-01). The others; differ, really.",
        ),
        _item(
            2,
            "What does HCPCS code E0601 describe? a\\b ::name:: {=x ~y} ####",
            [
                NASTY,
                "Continuous positive airway pressure (CPAP) device",
                "%50% off, 100% wrong; semi;colons, commas",
                "Back\\slash \\n and C:\\path\\{x}",
            ],
            1,
            "CPAP: the right one.\nSecond line ~ tilde # hash.",
        ),
        _item(
            3,
            "Plain stem, nothing special",
            ["A1", "B2", "C3", "D4 = four"],
            0,
            "A1 is right.",
        ),
    ),
    release="2026-01",
    seed=42,
)


def _feedback(item: QuizItem) -> str:
    return f"{item.explanation} ({item.citation})"


def _right(item: QuizItem) -> int:
    return next(i for i, o in enumerate(item.options) if o.correct)


# --- GIFT: a small reader, after Moodle's qformat_gift -------------------------------------------

_GIFT_ESCAPES = {"\\": "\ue000", ":": "\ue001", "#": "\ue002", "=": "\ue003", "{": "\ue004"}
_GIFT_ESCAPES.update({"}": "\ue005", "~": "\ue006", "n": "\ue007"})
_GIFT_RESTORE = {v: ("\n" if k == "n" else k) for k, v in _GIFT_ESCAPES.items()}


def _gift_protect(text: str) -> str:
    return re.sub(r"\\([\\:#={}~n])", lambda m: _GIFT_ESCAPES[m.group(1)], text)


def _gift_restore(text: str) -> str:
    return "".join(_GIFT_RESTORE.get(ch, ch) for ch in text).strip()


def read_gift(data: bytes) -> list[dict]:
    """Questions as dicts: name, stem, format, answers [(text, weight)], feedback."""
    text = data.decode("utf-8")
    lines = [" " if line.strip().startswith("//") else line for line in text.split("\n")]
    questions = []
    for block in re.split(r"\n\s*\n", "\n".join(lines)):
        block = _gift_protect(block.strip())
        if not block:
            continue
        assert block.startswith("::"), block
        name, rest = block[2:].split("::", 1)
        start, end = rest.index("{"), rest.rindex("}")
        assert rest[end + 1 :].strip() == ""
        assert "{" not in rest[start + 1 : end] and "}" not in rest[start + 1 : end]
        stem, body = rest[:start].strip(), rest[start + 1 : end]
        fmt = None
        if stem.startswith("["):
            fmt, stem = stem[1:].split("]", 1)
        body, _, feedback = body.rpartition("####") if "####" in body else (body, "", "")
        answers = []
        for chunk in re.split(r"(?=[=~])", body.strip()):
            chunk = chunk.strip()
            if not chunk:
                continue
            weight = 100 if chunk[0] == "=" else 0
            chunk = chunk[1:].strip()
            if weight == 0 and (m := re.match(r"^%(-?[0-9]{1,3})%", chunk)):
                weight, chunk = int(m.group(1)), chunk[m.end() :]
            assert "#" not in chunk  # no per-answer feedback is written
            answers.append((_gift_restore(chunk), weight))
        questions.append(
            {
                "name": _gift_restore(name),
                "format": fmt,
                "stem": _gift_restore(stem),
                "answers": answers,
                "feedback": _gift_restore(feedback),
            }
        )
    return questions


def test_gift_round_trip():
    questions = read_gift(export(QUIZ, "gift"))
    assert len(questions) == len(QUIZ.items)
    for question, item in zip(questions, QUIZ.items, strict=True):
        assert question["name"] == item.id
        assert question["format"] == "plain"
        assert question["stem"] == item.stem
        assert question["answers"] == [(o.text, 100 if o.correct else 0) for o in item.options]
        assert question["feedback"] == _feedback(item)


def test_gift_layout_and_escapes():
    text = export(QUIZ, "gift").decode("utf-8")
    assert "::q001-mixed::[plain]Which code is described as “Walker\\: \\{folding\\}" in text
    assert '\\= \\~wheeled \\#2 & "quoted" <b>' in text
    assert "~%0%%50% off" in text  # would otherwise be read as a 50 % weight
    assert "\\\\slash" in text and "CPAP\\: the right one.\\nSecond line" in text
    blocks = text.strip().split("\n\n")
    assert blocks[0].startswith("// ") and len(blocks) == 1 + len(QUIZ.items)
    for block, item in zip(blocks[1:], QUIZ.items, strict=True):
        lines = block.split("\n")
        assert lines[0].endswith(" {") and lines[-1] == "}" and lines[-2].startswith("####")
        marks = [line[0] for line in lines[1:5]]
        assert marks == ["=" if o.correct else "~" for o in item.options]


# --- Moodle XML ---------------------------------------------------------------------------------


def test_moodle_xml():
    data = export(QUIZ, "moodle-xml")
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<quiz>')
    root = ET.fromstring(data)
    assert root.tag == "quiz"
    questions = root.findall("question")
    assert len(questions) == len(QUIZ.items)
    for question, item in zip(questions, QUIZ.items, strict=True):
        assert question.get("type") == "multichoice"
        assert question.findtext("name/text") == item.id
        assert question.find("questiontext").get("format") == "plain_text"
        assert question.findtext("questiontext/text") == item.stem
        assert question.findtext("generalfeedback/text") == _feedback(item)
        assert question.findtext("single") == "true"
        assert question.findtext("shuffleanswers") == "false"
        assert question.findtext("answernumbering") == "abc"
        answers = question.findall("answer")
        assert [a.get("fraction") for a in answers] == [
            "100" if o.correct else "0" for o in item.options
        ]
        assert sorted(a.get("fraction") for a in answers) == ["0", "0", "0", "100"]
        for answer, option in zip(answers, item.options, strict=True):
            assert answer.findtext("text") == option.text
            feedback = answer.findtext("feedback/text")
            assert feedback
            if option.correct:
                assert feedback == "Correct. " + item.explanation
            else:
                assert feedback.startswith("Incorrect")


# --- QTI ----------------------------------------------------------------------------------------

CP = "{http://www.imsglobal.org/xsd/imscp_v1p1}"


def test_qti_package():
    with zipfile.ZipFile(io.BytesIO(export(QUIZ, "qti"))) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        assert "imsmanifest.xml" in names
        manifest = ET.fromstring(archive.read("imsmanifest.xml"))
        resources = manifest.findall(f"{CP}resources/{CP}resource")
        assert len(resources) == 1 and resources[0].get("type") == "imsqti_xmlv1p2"
        href = resources[0].get("href")
        assert href in names
        assert resources[0].find(f"{CP}file").get("href") == href
        assessment = ET.fromstring(archive.read(href))
    assert assessment.tag == "questestinterop"
    items = assessment.findall("assessment/section/item")
    assert len(items) == len(QUIZ.items)
    for node, item in zip(items, QUIZ.items, strict=True):
        assert node.get("ident") == item.id
        assert node.findtext("presentation/material/mattext") == item.stem
        response = node.find("presentation/response_lid")
        assert response.get("ident") == "response" and response.get("rcardinality") == "Single"
        labels = response.findall("render_choice/response_label")
        assert [label.get("ident") for label in labels] == ["A", "B", "C", "D"]
        assert [label.findtext("material/mattext") for label in labels] == [
            o.text for o in item.options
        ]
        scored = [
            cond
            for cond in node.findall("resprocessing/respcondition")
            if cond.findtext("setvar") == "100"
        ]
        assert len(scored) == 1
        assert scored[0].find("setvar").get("varname") == "SCORE"
        varequal = scored[0].find("conditionvar/varequal")
        assert varequal.get("respident") == "response"
        assert varequal.text == "ABCD"[_right(item)]
        feedback = node.find("itemfeedback")
        assert feedback.findtext("flow_mat/material/mattext") == _feedback(item)
        linked = node.find("resprocessing/respcondition/displayfeedback").get("linkrefid")
        assert linked == feedback.get("ident")


# --- Aiken, CSV, Markdown, JSON -----------------------------------------------------------------


def test_aiken_exact():
    blocks = export(QUIZ, "aiken").decode("utf-8").rstrip("\n").split("\n\n")
    assert len(blocks) == len(QUIZ.items)
    for block, item in zip(blocks, QUIZ.items, strict=True):
        lines = block.split("\n")
        assert len(lines) == 6
        assert lines[0] == " ".join(item.stem.split())
        assert lines[1:5] == [
            f"{letter}. {' '.join(o.text.split())}"
            for letter, o in zip("ABCD", item.options, strict=True)
        ]
        assert lines[5] == f"ANSWER: {'ABCD'[_right(item)]}"
    assert blocks[0].split("\n")[5] == "ANSWER: C"


def test_aiken_collapses_newlines():
    item = _item(9, "Two\nlines  here", ["a\nb", "c", "d", "e"], 3, "x")
    text = export(Quiz((item,), "2026-01", 1), "aiken").decode("utf-8")
    assert text == "Two lines here\nA. a b\nB. c\nC. d\nD. e\nANSWER: D\n"


def test_csv_round_trip():
    rows = list(csv.reader(io.StringIO(export(QUIZ, "csv").decode("utf-8"), newline="")))
    assert rows[0] == [
        "question",
        "option_a",
        "option_b",
        "option_c",
        "option_d",
        "correct",
        "explanation",
    ]
    assert len(rows) == 1 + len(QUIZ.items)
    for row, item in zip(rows[1:], QUIZ.items, strict=True):
        assert row[0] == item.stem
        assert row[1:5] == [o.text for o in item.options]
        assert row[5] == str(_right(item) + 1)
        assert item.options[int(row[5]) - 1].correct
        assert row[6] == _feedback(item)


def test_markdown_answer_key_at_end():
    text = export(QUIZ, "md").decode("utf-8")
    assert text.startswith("# HCPCS quiz: release 2026-01\n")
    questions, key = text.split("\n## Answer key\n")
    assert "## Answer key" not in key and "ANSWER" not in questions
    for number, item in enumerate(QUIZ.items, 1):
        assert f"**{number}.** " in questions
        assert item.options[-1].code not in questions  # texts are shown, codes are not
    assert "- A. " in questions and "- D. " in questions
    assert "<b>" not in text and "\\<b\\>" in text  # shown, not rendered as HTML
    key_lines = [line for line in key.strip().split("\n") if line]
    assert len(key_lines) == len(QUIZ.items)
    for number, (line, item) in enumerate(zip(key_lines, QUIZ.items, strict=True), 1):
        letter = "ABCD"[_right(item)]
        assert line.startswith(f"{number}. **{letter}.** ")
        assert item.citation in line
    assert key_lines[2] == "3. **A.** A1: A1 is right. (CMS HCPCS 2026-01, E3)"


def test_json():
    data = json.loads(export(QUIZ, "json"))
    assert data["release"] == "2026-01" and data["seed"] == 42
    assert len(data["items"]) == len(QUIZ.items)
    for got, item in zip(data["items"], QUIZ.items, strict=True):
        assert list(got) == ["id", "kind", "stem", "options", "explanation", "citation"]
        assert got["stem"] == item.stem and got["citation"] == item.citation
        assert got["options"] == [
            {"code": o.code, "text": o.text, "correct": o.correct} for o in item.options
        ]
    raw = export(QUIZ, "json")
    assert raw.endswith(b"}\n") and "“".encode() in raw  # ensure_ascii=False


# --- every format -------------------------------------------------------------------------------


def test_exporters_cover_formats():
    assert set(EXPORTERS) == set(FORMATS)


@pytest.mark.parametrize("fmt", FORMATS)
def test_deterministic(fmt):
    first = export(QUIZ, fmt)
    assert isinstance(first, bytes) and first
    rebuilt = Quiz(tuple(QUIZ.items), QUIZ.release, QUIZ.seed)
    assert export(rebuilt, fmt) == first
    assert export(QUIZ, fmt) == first


def test_qti_zip_metadata_fixed():
    with zipfile.ZipFile(io.BytesIO(export(QUIZ, "qti"))) as archive:
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


@pytest.mark.parametrize("fmt", ["pdf", "GIFT", "", "moodle_xml"])
def test_unknown_format(fmt):
    with pytest.raises(UsageError) as info:
        export(QUIZ, fmt)
    message = str(info.value)
    assert "\n" not in message
    assert all(name in message for name in FORMATS)


def test_malformed_item_rejected():
    bad = QuizItem("q1", "mixed", "s", (Option("A", "a", True), Option("B", "b", True)), "", "")
    with pytest.raises(ValueError, match="exactly 1 correct"):
        export(Quiz((bad,), "2026-01", 1), "json")


@pytest.mark.parametrize("fmt", ["moodle-xml", "qti"])
def test_xml_survives_control_characters(fmt):
    item = _item(7, "bell\x07 stem", ["a\x00", "b", "c", "d"], 0, "ok\x1b")
    data = export(Quiz((item,), "2026-01", 1), fmt)
    if fmt == "qti":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            data = archive.read("assessment.xml")
    root = ET.fromstring(data)
    assert "bell\ufffd stem" in ET.tostring(root, encoding="unicode")
