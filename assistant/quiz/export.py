"""Quiz exporters: one function per format in ``assistant.quiz.FORMATS``, each returning bytes.

Every exporter is deterministic: the same ``Quiz`` gives byte-identical output (no timestamps,
no randomness, fixed zip metadata). Option order is kept as the builder shuffled it, so the
letters A-D mean the same thing in every format, and the LMS formats are told not to reshuffle.

Formats:

- ``json``: the quiz as data (items, options, release, seed), UTF-8, indent 2.
- ``gift``: Moodle GIFT, ``::ID::[plain]STEM {=right ~wrong ... ####feedback}``. The ``[plain]``
  marker makes Moodle show texts verbatim (a ``<b>`` in a descriptor is not HTML); GIFT's
  special characters ``~ = # { } :`` and the backslash are escaped with a backslash.
- ``moodle-xml``: Moodle XML ``multichoice`` questions, plain-text format, single answer,
  ``shuffleanswers`` false (the order is already shuffled and matches the other formats' keys).
- ``aiken``: Moodle Aiken. Aiken holds no feedback or explanation at all, and no newline inside
  a question or an option, so whitespace is collapsed to single spaces.
- ``qti``: an IMS QTI 1.2 content package (zip): ``imsmanifest.xml`` + ``assessment.xml``.
- ``csv``: ``question,option_a..option_d,correct,explanation`` with ``correct`` in 1..4.
- ``md``: a printable Markdown sheet with the answer key at the end.

Items must have four options with exactly one correct (what the builder produces); anything
else is a bug upstream and raises ``ValueError``.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Callable
from xml.etree import ElementTree as ET

from assistant.errors import UsageError
from assistant.quiz.builder import FORMATS, Quiz, QuizItem

LETTERS = "ABCD"
QTI_ASSESSMENT = "assessment.xml"
QTI_MANIFEST = "imsmanifest.xml"
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip entry can hold: no clock involved
_XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>\n'
# Characters XML 1.0 cannot hold at all (C0 controls other than tab, LF, CR; surrogates; FFFE/F).
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_GIFT_SPECIAL = re.compile(r"([\\~=#{}:])")
_GIFT_WEIGHT = re.compile(r"^%-*[0-9]{1,2}\.?[0-9]*%")  # what Moodle would read as a weight
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&#])")


def export(quiz: Quiz, fmt: str) -> bytes:
    """The quiz in format ``fmt`` (one of ``FORMATS``), as bytes ready to write to a file."""
    try:
        exporter = EXPORTERS[fmt]
    except (KeyError, TypeError):
        raise UsageError(
            f"unknown quiz format {fmt!r}: choose one of {', '.join(FORMATS)}"
        ) from None
    for item in quiz.items:
        _check(item)
    return exporter(quiz)


def _check(item: QuizItem) -> None:
    right = sum(1 for o in item.options if o.correct)
    if len(item.options) != len(LETTERS) or right != 1:
        raise ValueError(
            f"quiz item {item.id!r} has {len(item.options)} options and {right} correct; "
            f"expected {len(LETTERS)} options and exactly 1 correct"
        )


def _answer_index(item: QuizItem) -> int:
    return next(i for i, o in enumerate(item.options) if o.correct)


def _feedback(item: QuizItem) -> str:
    """The explanation followed by the citation (unless the explanation already quotes it)."""
    explanation = item.explanation.strip()
    citation = item.citation.strip()
    if not citation or citation in explanation:
        return explanation
    return f"{explanation} ({citation})" if explanation else citation


def _one_line(text: str) -> str:
    return " ".join(text.split())


# --- json ---------------------------------------------------------------------------------------


def to_json(quiz: Quiz) -> bytes:
    data = {
        "items": [
            {
                "id": item.id,
                "kind": item.kind,
                "stem": item.stem,
                "options": [
                    {"code": o.code, "text": o.text, "correct": o.correct} for o in item.options
                ],
                "explanation": item.explanation,
                "citation": item.citation,
            }
            for item in quiz.items
        ],
        "release": quiz.release,
        "seed": quiz.seed,
    }
    return (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


# --- gift ---------------------------------------------------------------------------------------


def gift_escape(text: str) -> str:
    """Backslash-escape GIFT's special characters; newlines become GIFT's ``\\n``."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _GIFT_SPECIAL.sub(r"\\\1", text).replace("\n", "\\n")


def _gift_answer(text: str, correct: bool) -> str:
    escaped = gift_escape(text.strip())
    if correct:
        return "=" + escaped
    # A wrong answer starting with "%50%" would be read as a 50 % weight: state the 0 outright.
    return "~" + ("%0%" if _GIFT_WEIGHT.match(escaped) else "") + escaped


def to_gift(quiz: Quiz) -> bytes:
    blocks = [f"// HCPCS quiz, release {_one_line(quiz.release)}, seed {quiz.seed}"]
    for item in quiz.items:
        lines = [f"::{gift_escape(item.id)}::[plain]{gift_escape(item.stem.strip())} {{"]
        lines += [_gift_answer(o.text, o.correct) for o in item.options]
        lines.append("####" + gift_escape(_feedback(item)))
        lines.append("}")
        blocks.append("\n".join(lines))
    return ("\n\n".join(blocks) + "\n").encode("utf-8")


# --- xml helpers --------------------------------------------------------------------------------


def _xml_text(text: str) -> str:
    return _XML_BAD.sub("\ufffd", text)


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, {k: _xml_text(v) for k, v in attrs.items()})
    if text is not None:
        element.text = _xml_text(text)
    return element


def _xml_bytes(root: ET.Element) -> bytes:
    ET.indent(root, space="  ")
    return (_XML_DECL + ET.tostring(root, encoding="unicode") + "\n").encode("utf-8")


# --- moodle-xml ---------------------------------------------------------------------------------

_WRONG_FEEDBACK = "Incorrect: this is not the answer; see the explanation."


def _moodle_text(parent: ET.Element, tag: str, text: str) -> ET.Element:
    element = _sub(parent, tag, format="plain_text")
    _sub(element, "text", text)
    return element


def to_moodle_xml(quiz: Quiz) -> bytes:
    root = ET.Element("quiz")
    for item in quiz.items:
        question = _sub(root, "question", type="multichoice")
        name = _sub(question, "name")
        _sub(name, "text", item.id)
        _moodle_text(question, "questiontext", item.stem)
        _moodle_text(question, "generalfeedback", _feedback(item))
        _sub(question, "defaultgrade", "1")
        _sub(question, "penalty", "0.3333333")
        _sub(question, "hidden", "0")
        _sub(question, "single", "true")
        _sub(question, "shuffleanswers", "false")  # keep the builder's order (matches the keys)
        _sub(question, "answernumbering", "abc")
        for option in item.options:
            answer = _sub(
                question, "answer", fraction="100" if option.correct else "0", format="plain_text"
            )
            _sub(answer, "text", option.text)
            feedback = f"Correct. {item.explanation}".strip() if option.correct else None
            _moodle_text(answer, "feedback", feedback or _WRONG_FEEDBACK)
    return _xml_bytes(root)


# --- aiken --------------------------------------------------------------------------------------


def to_aiken(quiz: Quiz) -> bytes:
    """Aiken has no feedback: the explanations are not exported in this format."""
    blocks = []
    for item in quiz.items:
        lines = [_one_line(item.stem)]
        lines += [f"{LETTERS[i]}. {_one_line(o.text)}" for i, o in enumerate(item.options)]
        lines.append(f"ANSWER: {LETTERS[_answer_index(item)]}")
        blocks.append("\n".join(lines))
    return ("\n\n".join(blocks) + "\n").encode("utf-8")


# --- qti ----------------------------------------------------------------------------------------


def _ident(text: str) -> str:
    """An identifier safe for XML ID-like attributes: letters, digits, ``_ - .`` only."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")
    return cleaned if cleaned[:1].isalpha() or cleaned[:1] == "_" else f"id_{cleaned}"


def _mattext(parent: ET.Element, text: str) -> None:
    material = _sub(parent, "material")
    _sub(material, "mattext", text, texttype="text/plain")


def _qti_field(parent: ET.Element, label: str, entry: str) -> None:
    field = _sub(parent, "qtimetadatafield")
    _sub(field, "fieldlabel", label)
    _sub(field, "fieldentry", entry)


def _qti_assessment(quiz: Quiz, ident: str) -> bytes:
    root = ET.Element("questestinterop")
    assessment = _sub(root, "assessment", ident=ident, title=f"HCPCS quiz {quiz.release}")
    section = _sub(assessment, "section", ident="root_section")
    for item in quiz.items:
        node = _sub(section, "item", ident=item.id, title=item.id)
        meta = _sub(_sub(node, "itemmetadata"), "qtimetadata")
        _qti_field(meta, "question_type", "multiple_choice_question")
        _qti_field(meta, "points_possible", "1")
        presentation = _sub(node, "presentation")
        _mattext(presentation, item.stem)
        response = _sub(presentation, "response_lid", ident="response", rcardinality="Single")
        choices = _sub(response, "render_choice", shuffle="No")
        for letter, option in zip(LETTERS, item.options, strict=True):
            _mattext(_sub(choices, "response_label", ident=letter), option.text)
        processing = _sub(node, "resprocessing")
        outcomes = _sub(processing, "outcomes")
        _sub(outcomes, "decvar", maxvalue="100", minvalue="0", varname="SCORE", vartype="Decimal")
        general = _sub(processing, "respcondition", **{"continue": "Yes"})
        _sub(_sub(general, "conditionvar"), "other")
        _sub(general, "displayfeedback", feedbacktype="Response", linkrefid="general_fb")
        right = _sub(processing, "respcondition", **{"continue": "No"})
        condition = _sub(right, "conditionvar")
        _sub(condition, "varequal", LETTERS[_answer_index(item)], respident="response")
        _sub(right, "setvar", "100", action="Set", varname="SCORE")
        feedback = _sub(node, "itemfeedback", ident="general_fb")
        _mattext(_sub(feedback, "flow_mat"), _feedback(item))
    return _xml_bytes(root)


def _qti_manifest(ident: str) -> bytes:
    root = ET.Element(
        "manifest",
        {
            "identifier": f"{ident}_manifest",
            "xmlns": "http://www.imsglobal.org/xsd/imscp_v1p1",
        },
    )
    metadata = _sub(root, "metadata")
    _sub(metadata, "schema", "IMS Content")
    _sub(metadata, "schemaversion", "1.1.3")
    _sub(root, "organizations")
    resources = _sub(root, "resources")
    resource = _sub(
        resources, "resource", identifier=ident, type="imsqti_xmlv1p2", href=QTI_ASSESSMENT
    )
    _sub(resource, "file", href=QTI_ASSESSMENT)
    return _xml_bytes(root)


def _zip_entry(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # unix, whatever the host
    info.external_attr = 0o100644 << 16
    archive.writestr(info, data)


def to_qti(quiz: Quiz) -> bytes:
    ident = _ident(f"hcpcs_quiz_{quiz.release}_{quiz.seed}")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        _zip_entry(archive, QTI_MANIFEST, _qti_manifest(ident))
        _zip_entry(archive, QTI_ASSESSMENT, _qti_assessment(quiz, ident))
    return buffer.getvalue()


# --- csv ----------------------------------------------------------------------------------------

CSV_HEADER = ("question", "option_a", "option_b", "option_c", "option_d", "correct", "explanation")


def to_csv(quiz: Quiz) -> bytes:
    """RFC 4180 CSV (CRLF line ends, quoting as needed); ``correct`` is 1..4."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for item in quiz.items:
        writer.writerow(
            [
                item.stem,
                *(o.text for o in item.options),
                str(_answer_index(item) + 1),
                _feedback(item),
            ]
        )
    return buffer.getvalue().encode("utf-8")


# --- md -----------------------------------------------------------------------------------------


def md_escape(text: str) -> str:
    """One line of Markdown that renders as ``text`` (no HTML, no emphasis, no headings)."""
    return _MD_SPECIAL.sub(r"\\\1", _one_line(text))


def to_markdown(quiz: Quiz) -> bytes:
    lines = [
        f"# HCPCS quiz: release {md_escape(quiz.release)}",
        "",
        f"{len(quiz.items)} questions, seed {quiz.seed}. The answer key is at the end.",
        "",
        "## Questions",
    ]
    for number, item in enumerate(quiz.items, 1):
        lines += ["", f"**{number}.** {md_escape(item.stem)}", ""]
        lines += [f"- {LETTERS[i]}. {md_escape(o.text)}" for i, o in enumerate(item.options)]
    lines += ["", "## Answer key", ""]
    for number, item in enumerate(quiz.items, 1):
        index = _answer_index(item)
        lines.append(
            f"{number}. **{LETTERS[index]}.** {md_escape(item.options[index].text)}: "
            f"{md_escape(_feedback(item))}"
        )
    return ("\n".join(lines) + "\n").encode("utf-8")


EXPORTERS: dict[str, Callable[[Quiz], bytes]] = {
    "json": to_json,
    "gift": to_gift,
    "moodle-xml": to_moodle_xml,
    "aiken": to_aiken,
    "qti": to_qti,
    "csv": to_csv,
    "md": to_markdown,
}
