"""Tests for the guidance parser: markdown regulations, text articles, HTML, PDF, CMS README."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from assistant.corpus.guidance import parse_cms_readme, parse_guidance, source_text
from assistant.corpus.quotes import fold, quoted_in
from assistant.errors import ParseError
from assistant.records import Passage

CFR_MD = """<!-- Source: https://www.ecfr.gov/current/title-99/section-123.45
     Obtained as a text excerpt. US Government work (public domain). -->
# 99 CFR § 123.45 Widget coding policies.

(a) *General rule.* CMS establishes uniform national definitions of widgets, codes to represent
widgets, and modifiers to the codes.

(b) *Specific policies.* CMS establishes national policies for widgets, including the following
policies described in the [paragraphs](/regulations/123-45) below:

> (1) Widget supply policy (for example, supplies furnished with a widget, and the widget's
> accessories).

> (2) Code sets for widgets, as maintained and distributed by HHS, for the following items:

> > (i) Widgets.

> > (ii) Gadgets.

&#40;c) For the period on and after October 1, 2031, the code sets in paragraph (b) of this section.

[99 FR 12345, Jan. 2, 2030]
"""


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.replace("\n", "\r\n").encode(encoding))
    return path


def by_citation(passages: list[Passage]) -> dict[str, Passage]:
    return {p.citation: p for p in passages}


def assert_quoted(passages: list[Passage], path: Path) -> None:
    """Every line of every passage is in the file as written, and the passages in file order."""
    raw = fold(source_text(path.read_bytes(), path.name))
    for passage in passages:
        assert quoted_in(passage.text, raw), passage.text
    assert quoted_in("\n".join(p.text for p in passages), raw)


def test_markdown_regulation(tmp_path: Path) -> None:
    passages = parse_guidance(write(tmp_path, "99-cfr-123.45-widgets.md", CFR_MD), "cfr-test")
    assert [p.citation for p in passages] == [
        "99 CFR 123.45(a)",
        "99 CFR 123.45(b)",
        "99 CFR 123.45(b)(1)",
        "99 CFR 123.45(b)(2)",
        "99 CFR 123.45(c)",
        "99 CFR 123.45, source note",
    ]
    assert [p.order for p in passages] == list(range(len(passages)))
    assert {p.title for p in passages} == {"99 CFR 123.45 Widget coding policies"}
    assert {p.source for p in passages} == {"cfr-test"}
    cited = by_citation(passages)
    assert cited["99 CFR 123.45(a)"].section == "(a) General rule"
    # The paragraph in the file's words: emphasis kept, wrapped lines joined.
    assert cited["99 CFR 123.45(a)"].text == (
        "(a) *General rule.* CMS establishes uniform national definitions of widgets, codes to "
        "represent widgets, and modifiers to the codes."
    )
    # A Markdown link is quoted as written; the entity-escaped "(c)" is a label like the others.
    assert "the [paragraphs](/regulations/123-45) below:" in cited["99 CFR 123.45(b)"].text
    assert cited["99 CFR 123.45(c)"].text.startswith("(c) For the period")
    assert cited["99 CFR 123.45, source note"].section == "Source note"
    assert_quoted(passages, tmp_path / "99-cfr-123.45-widgets.md")


def test_markdown_quote_markers_quoted_labels_read(tmp_path: Path) -> None:
    passages = parse_guidance(write(tmp_path, "99-cfr-123.45-widgets.md", CFR_MD), "cfr-test")
    cited = by_citation(passages)
    # The one-line items (i) and (ii) join the paragraph that introduces them; each paragraph is
    # a line of the passage, quote markers and all, and its labels still place it.
    two = cited["99 CFR 123.45(b)(2)"]
    assert two.section == "(b)(2)"
    assert two.text.splitlines() == [
        "> (2) Code sets for widgets, as maintained and distributed by HHS, for the following "
        "items:",
        "> > (i) Widgets.",
        "> > (ii) Gadgets.",
    ]
    # A paragraph wrapped inside a quote keeps the marker of its second line: the file's words.
    assert cited["99 CFR 123.45(b)(1)"].text == (
        "> (1) Widget supply policy (for example, supplies furnished with a widget, and the "
        "widget's > accessories)."
    )
    assert_quoted(passages, tmp_path / "99-cfr-123.45-widgets.md")


def test_provenance_comment_is_not_text(tmp_path: Path) -> None:
    passages = parse_guidance(write(tmp_path, "99-cfr-123.45-widgets.md", CFR_MD), "cfr-test")
    text = " ".join(p.text for p in passages)
    assert "Source:" not in text and "ecfr.gov" not in text and "public domain" not in text


def test_title_and_citation_given_by_caller(tmp_path: Path) -> None:
    path = write(tmp_path, "widgets.md", CFR_MD)
    passages = parse_guidance(path, "cfr-test", "Widget rule", "99 CFR 123.45")
    assert passages[0].title == "Widget rule"
    assert passages[0].citation == "99 CFR 123.45(a)"


def test_citation_from_file_name_when_the_text_has_no_heading(tmp_path: Path) -> None:
    text = (
        "When conducting a widget transaction, a covered entity must meet these requirements:\n"
        "\n"
        "> (a) Widget code sets. Use the widget code sets that are valid at the time of service.\n"
    )
    passages = parse_guidance(write(tmp_path, "45-cfr-999-1234-tiny-rule.md", text), "t")
    assert [(p.section, p.citation) for p in passages] == [
        ("", "45 CFR 999.1234"),
        ("(a)", "45 CFR 999.1234(a)"),
    ]
    assert passages[0].title == "45 CFR 999.1234 Tiny rule"


def test_definitions_cited_by_term(tmp_path: Path) -> None:
    text = (
        "For purposes of this part, the following definitions apply:\n\n"
        "Widget set means any set of widgets used to encode data elements, such as tables.\n\n"
        "Controlling widget plan (CWP) means a widget plan that--\n\n"
        "> (1) Controls its own business activities, actions, or policies; or\n\n"
        "> (2)\n\n"
        "> > (i) Is controlled by an entity that is not a widget plan; and\n\n"
        "> > (ii) Exercises sufficient control over the subwidget plan(s) to direct their "
        "business activities.\n\n"
        "Descriptor means the text defining a code.\n"
    )
    passages = parse_guidance(write(tmp_path, "45-cfr-999-103-definitions.md", text), "t")
    assert [p.citation for p in passages] == [
        "45 CFR 999.103",
        '45 CFR 999.103, definition of "Widget set"',
        '45 CFR 999.103, definition of "Controlling widget plan (CWP)", paragraph (1)',
        '45 CFR 999.103, definition of "Controlling widget plan (CWP)", paragraph (2)',
        '45 CFR 999.103, definition of "Descriptor"',
    ]
    # "(2)" alone is a lead-in: it joins its sub-paragraphs, (i) and (ii) being siblings.
    assert passages[3].text.startswith("> (2)\n> > (i) Is controlled")
    assert passages[3].section == "Controlling widget plan (CWP) (2)"


def test_usc_style_labels_and_paragraph_headings(tmp_path: Path) -> None:
    text = (
        "# Title 99— THE PUBLIC WIDGETS\n"
        "### CHAPTER 7— WIDGET SECURITY\n"
        "#### § 1320x–2. Standards for widget transactions\n"
        "##### (c) Code sets\n\n"
        "(1) In general\n\n"
        "The Secretary shall adopt standards that\n\n"
        "(A) select code sets for appropriate data elements for the transactions referred to in "
        "subsection (a)(1); or\n\n"
        "(B) establish code sets for such data elements if no code sets have been developed.\n\n"
        "(2) Distribution\n\n"
        "The Secretary shall establish efficient and low-cost procedures for distribution of "
        "code sets.\n"
    )
    path = write(tmp_path, "99-usc-1320x-2-c-code-sets.md", text)
    passages = parse_guidance(path, "usc", citation="99 U.S.C. 1320x-2(c)")
    assert [(p.section, p.citation) for p in passages] == [
        ("(c)(1)(A)", "99 U.S.C. 1320x-2(c)(1)(A)"),
        ("(c)(1)(B)", "99 U.S.C. 1320x-2(c)(1)(B)"),
        ("(c)(2) Distribution", "99 U.S.C. 1320x-2(c)(2)"),
    ]
    # The heading "(1) In general" and its lead-in sentence join (A), not stand alone.
    assert passages[0].text.startswith("(1) In general\nThe Secretary shall adopt standards that")
    # Without a citation given, it comes from the file name and the § heading.
    default = parse_guidance(path, "usc")
    assert default[0].citation == "99 U.S.C. 1320x-2(c)(1)(A)"
    assert default[0].title == "99 U.S.C. 1320x-2 Standards for widget transactions"


def test_letter_i_after_h_and_roman_i_under_a_number(tmp_path: Path) -> None:
    text = (
        "(h) *Eighth rule.* A paragraph that is long enough to stand on its own as a passage.\n\n"
        "(i) *Ninth rule.* Another paragraph that is long enough to stand on its own as one.\n\n"
        "(1) A numbered sub-paragraph of (i), long enough to make a passage of its own text.\n\n"
        "(i) A roman sub-paragraph of (i)(1), long enough to make a passage of its own text.\n"
    )
    passages = parse_guidance(write(tmp_path, "99-cfr-1.2-letters.md", text), "t")
    assert [p.citation for p in passages] == [
        "99 CFR 1.2(h)",
        "99 CFR 1.2(i)",
        "99 CFR 1.2(i)(1)",
        "99 CFR 1.2(i)(1)(i)",
    ]


NORIDIAN_TXT = """Widget Level II Code Compliance Guidance - JF Part B
Widget Level II Code Compliance Guidance
This educational article provides guidance on the proper use and understanding of Level II widget codes used for billing.
Overview
Widget Level II codes are established and maintained exclusively by the Centers for Medicare & Medicaid Services (CMS).
Code Assignment
The assignment of a code is in no way a coverage determination. "The existence of a code does not, of itself, determine coverage or non-coverage for an item/service."1
Empty Section
Summary
In summary, CMS is the sole authority responsible for determining which items are included within each code category.
Resources
- 2031 Widget Codebook
- 99 CFR § 123.45(a)
"""  # noqa: E501


def test_text_article(tmp_path: Path) -> None:
    path = write(tmp_path, "article.txt", NORIDIAN_TXT)
    passages = parse_guidance(path, "mac", citation="MAC JF Part B, Widget Guidance")
    assert [p.section for p in passages] == [
        "",
        "Overview",
        "Code Assignment",
        "Summary",
        "Resources",
    ]
    assert passages[0].title == "Widget Level II Code Compliance Guidance - JF Part B"
    assert passages[0].citation == "MAC JF Part B, Widget Guidance"
    coverage = next(p for p in passages if "does not, of itself, determine coverage" in p.text)
    assert coverage.citation == "MAC JF Part B, Widget Guidance, Code Assignment"
    # A heading alone ("Empty Section") is no passage; short list items join into one.
    assert all(p.text != "Empty Section" for p in passages)
    assert passages[-1].text == "- 2031 Widget Codebook\n- 99 CFR § 123.45(a)"
    assert_quoted(passages, path)


def test_text_with_wrapped_paragraphs(tmp_path: Path) -> None:
    text = (
        "Widget Coding Notes\n\n"
        "Billing\n\n"
        "Bill the code whose descriptor matches the item furnished,\n"
        "not the code a manufacturer names in its marketing.\n\n"
        "A code's existence does not imply coverage of the item under any\n"
        "benefit category.\n"
    )
    passages = parse_guidance(write(tmp_path, "notes.txt", text), "notes")
    assert [(p.section, p.citation) for p in passages] == [
        ("Billing", "Widget Coding Notes, Billing"),
        ("Billing", "Widget Coding Notes, Billing"),
    ]
    assert passages[0].text == (
        "Bill the code whose descriptor matches the item furnished, "
        "not the code a manufacturer names in its marketing."
    )
    assert_quoted(passages, tmp_path / "notes.txt")


def test_cp1252_text(tmp_path: Path) -> None:
    text = (
        "Widget Notes\nCoverage\nCodes describe like items \u2014 never a Widgetex\u00ae brand.\n"
    )
    path = write(tmp_path, "legacy.txt", text, encoding="cp1252")
    passages = parse_guidance(path, "legacy")
    assert passages[0].text == "Codes describe like items \u2014 never a Widgetex\u00ae brand."
    assert passages[0].section == "Coverage"


def test_html(tmp_path: Path) -> None:
    text = (
        "<html><head><title>MAC Article: Widget Tips</title><style>p {color: red}</style></head>"
        "<body><h1>MAC Article: Widget Tips</h1>"
        "<p>Intro paragraph that is long enough to stand alone as a passage in the output.</p>"
        "<h2>Billing</h2><p>Bill the code whose descriptor matches the item &amp; not the brand "
        "a manufacturer names.</p><ul><li>First item</li><li>Second item</li></ul>"
        "<script>var ignored = 1;</script></body></html>"
    )
    passages = parse_guidance(write(tmp_path, "tips.html", text), "tips")
    assert [(p.section, p.citation) for p in passages] == [
        ("", "MAC Article: Widget Tips"),
        ("Billing", "MAC Article: Widget Tips, Billing"),
    ]
    assert passages[1].text.endswith(
        "item & not the brand a manufacturer names.\nFirst item\nSecond item"
    )
    assert all("ignored" not in p.text and "color" not in p.text for p in passages)
    assert_quoted(passages, tmp_path / "tips.html")


def tiny_pdf(lines: list[str]) -> bytes:
    """A one-page PDF with one text line per entry of ``lines`` (Helvetica, no compression)."""
    shown = " ".join(
        "(" + line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ") Tj T*"
        for line in lines
    )
    content = f"BT /F1 11 Tf 72 720 Td 14 TL {shown} ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(content)} >>\nstream\n{content}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{obj}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\n".encode()
    out += f"startxref\n{xref}\n%%EOF\n".encode()
    return out


def test_pdf(tmp_path: Path) -> None:
    path = tmp_path / "article.pdf"
    path.write_bytes(
        tiny_pdf(
            [
                "Durable Widget Coding Article",
                "Background",
                "Suppliers must report the code that describes the widget as furnished to the",
                "beneficiary, based on the code descriptor and not on marketing claims.",
                "Coverage",
                "The existence of a code does not, of itself, determine coverage for any",
                "widget furnished to a Medicare beneficiary under Part B.",
            ]
        )
    )
    passages = parse_guidance(path, "pdf")
    assert [(p.title, p.section) for p in passages] == [
        ("Durable Widget Coding Article", "Background"),
        ("Durable Widget Coding Article", "Coverage"),
    ]
    assert passages[1].text == (
        "The existence of a code does not, of itself, determine coverage for any widget "
        "furnished to a Medicare beneficiary under Part B."
    )
    assert_quoted(passages, path)


def test_bad_inputs_raise_parse_error(tmp_path: Path) -> None:
    cases = {
        "corrupt.pdf": b"%PDF-1.4\nthis is not really a pdf",
        "undecodable.txt": b"Widget Notes\nOverview\nBad byte \x81 here in a long line of text.\n",
        "binary.md": b"# Title\n\x00\x01\x02",
        "empty.md": b"<!-- provenance only -->\n",
        "notes.docx": b"PK\x03\x04",
    }
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(ParseError, match=name.replace(".", r"\.")):
            parse_guidance(path, "bad")
    with pytest.raises(ParseError, match="missing.md"):
        parse_guidance(tmp_path / "missing.md", "bad")


def test_deterministic(tmp_path: Path) -> None:
    path = write(tmp_path, "99-cfr-123.45-widgets.md", CFR_MD)
    first = parse_guidance(path, "cfr-test")
    assert first == parse_guidance(path, "cfr-test")
    assert len({p.id for p in first}) == len(first)


# Shaped like HCPC2020_README.txt: banner, wrapped lines with trailing blanks, "-- " notes.
README = "\r\n".join(
    [
        "CENTERS FOR MEDICARE & MEDICAID SERVICES (CMS)",
        "2031 ALPHA-NUMERIC",
        "HEALTH CARE PROCEDURE CODING SYSTEM (HCPCS)",
        "\tNovember 2, 2030",
        "",
        "",
        "Alpha-Numeric HCPCS File Content",
        "",
        "This file contains the Level II Alpha-numeric HCPCS procedure and modifier codes, "
        "their long ",
        "and short descriptions, and applicable Medicare administrative, coverage, and pricing "
        "data.  ",
        "",
        "",
        "Other HCPCS Notes",
        "  ",
        "-- Inclusion or exclusion of a procedure, supply, product, or service does not imply "
        "any health insurance coverage or reimbursement policy.  ",
        "",
        "-- In some instances, brand names may appear in HCPCS descriptions.  These names have "
        "been included for indexing purposes only; their inclusion does not convey endorsement",
        "   of any particular brand.  ",
        "",
    ]
)


def test_cms_readme() -> None:
    passages = parse_cms_readme(README, "readme-2031", "2031")
    assert [p.section for p in passages] == [
        "Alpha-Numeric HCPCS File Content",
        "Other HCPCS Notes",
        "Other HCPCS Notes",
    ]
    assert passages[0].citation == "CMS HCPCS 2031 README, Alpha-Numeric HCPCS File Content"
    assert passages[1].citation == "CMS HCPCS 2031 README, Other HCPCS Notes"
    coverage, brands = passages[1], passages[2]
    assert coverage.text == (
        "-- Inclusion or exclusion of a procedure, supply, product, or service does not imply "
        "any health insurance coverage or reimbursement policy."
    )
    assert brands.text.startswith("-- In some instances, brand names may appear")
    assert brands.text.endswith("does not convey endorsement of any particular brand.")
    assert all("CENTERS FOR MEDICARE" not in p.text for p in passages)  # the banner
    assert {p.title for p in passages} == {"CMS HCPCS 2031 README"}
    assert [p.order for p in passages] == [0, 1, 2]
    for passage in passages:
        assert quoted_in(passage.text, fold(README))


def test_cms_readme_without_sections() -> None:
    with pytest.raises(ParseError, match="CMS HCPCS 2031 README"):
        parse_cms_readme(
            "just one long line of text that never names a section at all.", "r", "2031"
        )


# --- the real guidance files -----------------------------------------------------------------

# file -> (title, citation) as the corpus manifest gives them, and the passage count.
GUIDANCE = {
    "noridian-jf-partb-hcpcs-level-ii-code-compliance-guidance.txt": (
        "Noridian JF Part B: HCPCS Level II Code Compliance Guidance",
        "Noridian JF Part B, HCPCS Level II Code Compliance Guidance",
        10,
    ),
    "42-cfr-414.40-coding-and-ancillary-policies.md": (
        "42 CFR 414.40 Coding and ancillary policies",
        "42 CFR 414.40",
        5,
    ),
    "42-usc-1320d-2-c-code-sets.md": ("42 U.S.C. 1320d-2(c) Code sets", "42 U.S.C. 1320d-2(c)", 3),
    "45-cfr-162-100-applicability.md": ("45 CFR 162.100 Applicability", "45 CFR 162.100", 1),
    "45-cfr-162-1000-general-requirements.md": (
        "45 CFR 162.1000 General requirements",
        "45 CFR 162.1000",
        3,
    ),
    "45-cfr-162-1002-medical-data-code-sets.md": (
        "45 CFR 162.1002 Medical data code sets (2012 text)",
        "45 CFR 162.1002",
        14,
    ),
    "45-cfr-162-1011-valid-code-sets.md": ("45 CFR 162.1011 Valid code sets", "45 CFR 162.1011", 1),
    "45-cfr-162-103-definitions.md": ("45 CFR 162.103 Definitions", "45 CFR 162.103", 23),
}


@pytest.mark.integration
@pytest.mark.parametrize("name", sorted(GUIDANCE))
def test_real_guidance_counts(corpus_dir: Path, name: str) -> None:
    title, citation, count = GUIDANCE[name]
    passages = parse_guidance(corpus_dir / "guidance" / name, "g", title, citation)
    assert len(passages) == count
    assert all(p.title == title and p.citation.startswith(citation) for p in passages)
    assert all(p.text.strip() and not p.text.startswith("<!--") for p in passages)
    # Without title and citation the document names itself; the split is the same.
    assert len(parse_guidance(corpus_dir / "guidance" / name, "g")) == count
    assert_quoted(passages, corpus_dir / "guidance" / name)


@pytest.mark.integration
def test_real_noridian_coverage_statement(corpus_dir: Path) -> None:
    name = "noridian-jf-partb-hcpcs-level-ii-code-compliance-guidance.txt"
    title, citation, _ = GUIDANCE[name]
    passages = parse_guidance(corpus_dir / "guidance" / name, "noridian", title, citation)
    coverage = [p for p in passages if "does not, of itself, determine coverage" in p.text]
    assert len(coverage) == 1
    assert coverage[0].section == "HCPCS Level II Code Assignment"
    assert coverage[0].citation == (
        "Noridian JF Part B, HCPCS Level II Code Compliance Guidance, "
        "HCPCS Level II Code Assignment"
    )
    assert [p.section for p in passages].count("Summary") == 3
    sole = next(p for p in passages if "CMS is the sole authority" in p.text)
    assert sole.citation.endswith(", Summary")
    assert passages[-1].section == "Resources"


@pytest.mark.integration
def test_real_cfr_paragraphs(corpus_dir: Path) -> None:
    guidance = corpus_dir / "guidance"
    cfr = by_citation(
        parse_guidance(guidance / "42-cfr-414.40-coding-and-ancillary-policies.md", "g")
    )
    assert cfr["42 CFR 414.40(a)"].section == "(a) General rule"
    assert cfr["42 CFR 414.40(a)"].text == (
        "(a) *General rule.* CMS establishes uniform national definitions of services, codes to "
        "represent services, and payment modifiers to the codes."
    )
    assert cfr["42 CFR 414.40(b)(3)"].text.startswith("(3) Payment modifiers")
    codes = by_citation(parse_guidance(guidance / "45-cfr-162-1002-medical-data-code-sets.md", "g"))
    hcpcs = codes["45 CFR 162.1002(b)(3)"]
    assert "The Healthcare Common Procedure Coding System (HCPCS)" in hcpcs.text
    assert hcpcs.text.endswith("(iii) Durable medical equipment.")
    # The 2012 wording: paragraph (c) from October 1, 2014 (entity-escaped "(c)" in the file).
    assert codes["45 CFR 162.1002(c)(1)"].text.startswith(
        "(c) For the period on and after October 1, 2014:"
    )
    usc = parse_guidance(
        guidance / "42-usc-1320d-2-c-code-sets.md", "g", None, "42 U.S.C. 1320d-2(c)"
    )
    assert [p.citation for p in usc] == [
        "42 U.S.C. 1320d-2(c)(1)(A)",
        "42 U.S.C. 1320d-2(c)(1)(B)",
        "42 U.S.C. 1320d-2(c)(2)",
    ]
    terms = by_citation(parse_guidance(guidance / "45-cfr-162-103-definitions.md", "g"))
    assert terms['45 CFR 162.103, definition of "Descriptor"'].text == (
        "Descriptor means the text defining a code."
    )
    # A link is quoted as the file writes it, not reduced to its text.
    assert terms[
        '45 CFR 162.103, definition of "Designated standard maintenance organization (DSMO)"'
    ].text.endswith(
        "designated by the Secretary under [§ 162.910](/hipaa/regulations/162-910-standards/)(a)."
    )
    assert codes["45 CFR 162.1002(a)(3)"].text.splitlines()[1:] == [
        "> > > (i) Drugs",
        "> > > (ii) Biologics.",
    ]


@pytest.mark.integration
@pytest.mark.parametrize(
    ("archive", "member", "release"),
    [
        ("2020-01/2020-Alpha-Numeric-HCPCS-File.zip", "HCPC2020_README.txt", "2020"),
        ("2019-01/2019-Alpha-Numeric-HCPCS-File.zip", "HCPC2019_README.txt", "2019"),
    ],
)
def test_real_cms_readme(corpus_dir: Path, archive: str, member: str, release: str) -> None:
    with zipfile.ZipFile(corpus_dir / "cms-hcpcs" / archive) as zf:
        text = zf.read(member).decode("cp1252")
    passages = parse_cms_readme(text, f"hcpcs-{release}-readme", release)
    assert len(passages) == 9
    assert [p.section for p in passages[:5]] == ["Alpha-Numeric HCPCS File Content"] * 5
    notes = [p for p in passages if p.section == "Other HCPCS Notes"]
    assert [p.citation for p in notes] == [f"CMS HCPCS {release} README, Other HCPCS Notes"] * 2
    assert notes[0].text.startswith("-- Inclusion or exclusion of a procedure")
    assert "does not imply any health insurance coverage" in notes[0].text
    assert "included for indexing purposes only" in notes[1].text
    for passage in passages:
        assert quoted_in(passage.text, fold(text))
