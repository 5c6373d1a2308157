"""The CMS alpha-numeric release parser: on a fixture written here, then on the real mirror."""

from __future__ import annotations

import zipfile
from datetime import date
from pathlib import Path

import pytest

from assistant.corpus.loader import layout_passages
from assistant.corpus.quotes import fold, quoted_in
from assistant.corpus.release import (
    parse_layout,
    parse_notes,
    parse_records,
    parse_release,
)
from assistant.errors import ParseError
from tests.fixture_corpus import NOTES, RECORDS, layout_text, record, write_corpus

LAYOUT = parse_layout(layout_text(), "layout.txt")


def _parse(lines: list[str], header: str = ""):
    data = (header + "\r\n".join(lines) + "\r\n").encode("cp1252")
    return parse_records(data, "test.txt", "2099-01", LAYOUT, parse_notes(NOTES))


def test_records_continuations_and_modifiers():
    codes, modifiers, header = _parse(RECORDS)
    assert sorted(codes) == [
        "A4397",
        "E0194",
        "E0260",
        "E0261",
        "E0562",
        "E0601",
        "E1399",
        "G0999",
        "J1010",
        "J1030",
    ]
    assert list(modifiers) == ["KX"]
    assert header == ""
    assert codes["G0999"].long_description == (
        "Long test descriptor that needs more than one line of the fixed width record to hold "
        "its words, continued on a second record line"
    )
    assert modifiers["KX"].kind == "modifier"
    assert modifiers["KX"].short_description == "Documentation on file"


def test_fields_carry_their_layout_meanings():
    codes, _m, _h = _parse(RECORDS)
    cpap = codes["E0601"]
    assert cpap.long_description == "Continuous positive airway pressure (cpap) device"
    assert cpap.coverage_code == "D"
    assert cpap.coverage_meaning == "Special coverage instructions apply"
    assert cpap.pricing_indicators == ("36",)
    assert cpap.pricing_meanings == ("Capped rental DME (price subject to floors and ceilings)",)
    assert cpap.add_date == date(1988, 1, 1)
    assert cpap.action_meaning == "No maintenance for this code"
    assert cpap.termination_date is None


def test_terminated_code_keeps_its_date():
    codes, _m, _h = _parse(RECORDS)
    sleeve = codes["A4397"]
    assert sleeve.termination_date == date(2021, 12, 31)
    assert sleeve.terminated
    assert sleeve.active_on(date(2021, 12, 31))
    assert not sleeve.active_on(date(2022, 1, 1))
    assert sleeve.action_meaning == "Discontinue procedure or modifier code"


def test_processing_note_resolves_to_text():
    codes, _m, _h = _parse(RECORDS)
    assert codes["E0194"].processing_note_number == "0013"
    assert codes["E0194"].processing_note == (
        "THIS DEVICE (E0194) SHOULD NOT BE CONFUSED WITH E0193 POWERED FLOTATION THERAPY BED."
    )


# Notes as CMS has written them since about 2010: the head indented by a tab, continuation
# lines by tabs (or a tab and spaces), tab runs before the margin, margin-only lines of tabs.
TAB_NOTES = (
    "                                        PROCESSING NOTES\r\n\r\n"
    "\t  0199--SEE CR 8871, SERVICE IS APPROVED PER NCD COVERAGE; RESTRICTIVE\t\t   \r\n"
    "\t\tGUIDELINES.\t\t\t\t\t\t\t\t   *\r\n"
    "\r\n"
    "\t  0202--THE PATIENT PROTECTION AND AFFORDABLE CARE ACT MADE IT MANDATORY\t   \r\n"
    "\t \tFOR ALL HEALTHCARE INSURANCE PLANS TO COVER SOME PREVENTIVE SERVICES\r\n"
    "\t\tAND IMMUNIZATIONS AS PART OF ALL BENEFIT PLANS.  *\r\n"
    "\t\t\t\t\t\t\t\t\t\t\t   *\t\r\n"
    "\t  0214--SERVICES FOR RURAL HEALTH CLINIC OR FEDERALLY QUALIFIED\r\n"
    "\t            HEALTH CENTER (RHC/FQHC) ONLY. \t\t\t\t\t   *\r\n"
    "\t\r\n"
    "\t  0215--THE DEDUCTIBLE AND COINSURANCE ARE WAIVED FOR CODE 77067.\t   *\r\n"
)


def test_tab_continued_notes_are_read_whole():
    notes = parse_notes(TAB_NOTES)
    assert notes == {
        "0199": "SEE CR 8871, SERVICE IS APPROVED PER NCD COVERAGE; RESTRICTIVE GUIDELINES.",
        "0202": "THE PATIENT PROTECTION AND AFFORDABLE CARE ACT MADE IT MANDATORY FOR ALL "
        "HEALTHCARE INSURANCE PLANS TO COVER SOME PREVENTIVE SERVICES AND IMMUNIZATIONS AS "
        "PART OF ALL BENEFIT PLANS.",
        "0214": "SERVICES FOR RURAL HEALTH CLINIC OR FEDERALLY QUALIFIED HEALTH CENTER "
        "(RHC/FQHC) ONLY.",
        "0215": "THE DEDUCTIBLE AND COINSURANCE ARE WAIVED FOR CODE 77067.",
    }


def test_disclaimer_header_is_skipped_and_kept():
    header = "Note regarding coverage\r\n\r\nThis is neither an indicator of coverage.\r\n\r\n"
    codes, _m, text = _parse(RECORDS, header=header)
    assert len(codes) == 10
    assert "neither an indicator of coverage" in text


def test_right_trimmed_continuation_lines_read_the_same():
    trimmed = [ln.rstrip() if ln[10] in "48" else ln for ln in RECORDS]
    assert _parse(trimmed)[0] == _parse(RECORDS)[0]


def test_trailing_blank_columns_and_blank_last_line_are_tolerated():
    lines = list(RECORDS)
    lines[0] = lines[0] + " " * 226
    lines.append(" " * 296)
    assert _parse(lines)[0]["E0601"].long_description.startswith("Continuous positive")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda ls: [ls[0][:200], *ls[1:]], "truncated record"),
        (lambda ls: [*ls[:2], "garbage in the middle of the file", *ls[2:]], "not a HCPCS record"),
        (
            lambda ls: [ls[-1].replace("   KX00100", "   KX00200").replace("7", "8", 1), *ls],
            "continues no record",
        ),
        (lambda ls: [*ls, ls[0]], "repeats code E0601"),
        (lambda ls: [ls[0][:268] + "20231399" + ls[0][276:], *ls[1:]], "bad date"),
    ],
)
def test_bad_records_give_one_line_errors(mutate, message):
    with pytest.raises(ParseError, match=message) as err:
        _parse(mutate(list(RECORDS)))
    assert "test.txt" in str(err.value) and "\n" not in str(err.value)


def test_not_cp1252_text_is_refused():
    with pytest.raises(ParseError, match="cp1252"):
        parse_records(b"\x81" * 400, "test.txt", "2099-01", LAYOUT)


def test_unknown_layout_is_refused():
    moved = layout_text().replace("   1    293", "   1    294", 1)
    assert moved != layout_text()
    with pytest.raises(ParseError, match="unknown record layout"):
        parse_layout(moved, "moved.txt")
    with pytest.raises(ParseError, match="unknown record layout"):
        parse_layout("  1.   Something else entirely\n     5      1      5    CHAR\n", "other.txt")


def test_release_from_zip_with_noc_list(tmp_path: Path):
    mirror, _manifest = write_corpus(tmp_path)
    release, layout = parse_release(
        [mirror / "cms-hcpcs/2099-01/hcpcs-2099.zip"], "2099-01", date(2099, 1, 1)
    )
    assert release.codes["E1399"].noc and not release.codes["E0601"].noc
    assert release.noc_list == "NOC_Codes_2099.prn"
    assert layout.meaning("coverage", "C") == "Carrier judgment"


def test_layout_passages_quote_the_code_tables(tmp_path: Path):
    """One passage per code table: an entry a line (its wrapped lines joined), sub-headings
    kept, rulers dropped, the field name only in the section: the layout's words in order."""
    assert LAYOUT.tables["pricing"] == (
        "00 = Service not separately priced by part B",
        "Clinical Lab Fee Schedule",
        "36 = Capped rental DME (price subject to floors and ceilings)",
    )
    mirror, _manifest = write_corpus(tmp_path)
    release, _layout = parse_release(
        [mirror / "cms-hcpcs/2099-01/hcpcs-2099.zip"], "2099-01", date(2099, 1, 1)
    )
    passages = {p.section: p for p in layout_passages(release)}
    assert set(passages) == {
        "HCPCS Pricing Indicator Code",
        "HCPCS Coverage Code",
        "HCPCS Action Code",
    }
    action = passages["HCPCS Action Code"]
    assert action.kind == "record-layout" and action.source == "hcpcs-2099-01-layout"
    assert action.citation == "CMS HCPCS 2099-01 record layout, HCPCS Action Code"
    assert action.text.splitlines() == [
        "A = Add procedure or modifier code",
        "D = Discontinue procedure or modifier code",
        "N = No maintenance for this code",
    ]
    raw = fold(layout_text())
    for passage in passages.values():
        assert not passage.text.startswith("HCPCS")  # the field name is not the layout's text
        assert quoted_in(passage.text, raw), passage.text


def test_release_without_layout_uses_fallback(tmp_path: Path):
    path = tmp_path / "bare.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("HCPC2100_ANWEB.txt", ("\r\n".join(RECORDS) + "\r\n").encode("cp1252"))
    with pytest.raises(ParseError, match="no record layout"):
        parse_release([path], "2100-01", date(2100, 1, 1))
    release, _layout = parse_release(
        [path],
        "2100-01",
        date(2100, 1, 1),
        fallback_layout=(LAYOUT, layout_text()),
        fallback_noc=(frozenset({"E1399"}), "older.xlsx"),
    )
    assert release.codes["E0601"].coverage_meaning == "Special coverage instructions apply"
    assert release.codes["E1399"].noc and release.noc_list == "older.xlsx"


def test_corrupt_zip_and_missing_records_file(tmp_path: Path):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(ParseError, match="bad.zip"):
        parse_release([bad], "2099-01", date(2099, 1, 1))
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w") as zf:
        zf.writestr("readme.txt", "nothing here")
    with pytest.raises(ParseError, match="no alpha-numeric HCPCS file"):
        parse_release([empty], "2099-01", date(2099, 1, 1))


def test_fixture_record_writer_round_trips():
    lines = record("J9999", "word " * 40, "short")
    assert len(lines) == 3 and all(len(ln) == 320 for ln in lines)


# ----------------------------------------------------------------- the real CMS releases


@pytest.fixture(scope="module")
def releases(corpus_dir: Path):
    from assistant.config import Settings
    from assistant.corpus.loader import load_releases, source_files
    from assistant.corpus.noc import parse_noc_list
    from assistant.corpus.sources import load_sources

    settings = Settings.from_env({"HCPCS_CORPUS_DIR": str(corpus_dir)})
    sources = load_sources(settings.manifest)
    paths = source_files(sources, corpus_dir)
    return load_releases(sources, paths, parse_noc_list, lambda _m: None)


@pytest.mark.integration
@pytest.mark.parametrize(
    ("release", "codes", "modifiers"),
    [
        ("2026-01", 8623, 383),
        ("2025-01", 8259, 383),
        ("2020-01", 6710, 369),
        ("2019-01", 6440, 360),
    ],
)
def test_real_release_counts(releases, release, codes, modifiers):
    assert len(releases[release].codes) == codes
    assert len(releases[release].modifiers) == modifiers


@pytest.mark.integration
def test_real_active_counts_2025(releases):
    rel = releases["2025-01"]
    assert sum(1 for r in rel.codes.values() if r.termination_date is None) == 7114
    assert sum(1 for r in rel.modifiers.values() if r.termination_date is None) == 363


@pytest.mark.integration
def test_real_spot_checks(releases):
    for rid in releases:
        cpap = releases[rid].codes["E0601"]
        assert cpap.long_description == "Continuous positive airway pressure (cpap) device"
    cpap = releases["2026-01"].codes["E0601"]
    assert cpap.short_description == "Cont airway pressure device"
    assert cpap.coverage_meaning == "Special coverage instructions apply"
    assert cpap.pricing_meanings == ("Capped rental DME (price subject to floors and ceilings)",)
    assert releases["2026-01"].codes["A4397"].termination_date == date(2021, 12, 31)
    assert releases["2025-01"].codes["A4397"].termination_date == date(2021, 12, 31)
    assert releases["2020-01"].codes["A4397"].termination_date is None
    am = releases["2025-01"].modifiers["AM"]
    assert am.processing_note_number == "0069"
    assert am.processing_note.startswith("FOR ASSISTANT SURGEON SERVICES")


@pytest.mark.integration
def test_real_tab_continued_notes_are_whole(releases):
    """The notes whose continuation lines start with a tab, e.g. the one on G0472."""
    for rid in ("2025-01", "2026-01"):
        g0472 = releases[rid].codes["G0472"]
        assert g0472.processing_note_number == "0199"
        assert g0472.processing_note == (
            "SEE CR 8871, SERVICE IS APPROVED PER NCD COVERAGE; RESTRICTIVE GUIDELINES."
        )
    notes = releases["2026-01"].notes
    assert notes["0202"].endswith("AS THEY ARE STATUTORILY ADMINISTERED.")
    assert notes["0229"].endswith("COMPLEXITY-ADJUSTED C-APCs FOR MORE INFORMATION.")
    assert notes["0190"].endswith("SEE CODES G0461 AND G0462.")
    # Every note ends its sentence in every release; only 0063 ends without a full stop in the
    # source itself ("...AB-97-9.60 TO INTERMEDIARIES/CARRIERS").
    for rid, release in releases.items():
        open_ended = {n for n, text in release.notes.items() if not text.endswith((".", ")"))}
        assert open_ended == {"0063"}, (rid, {n: release.notes[n] for n in open_ended})


@pytest.mark.integration
def test_real_noc_flags_come_from_the_right_list(releases):
    assert releases["2026-01"].noc_list == "NOC codes_JUL2025.xlsx"
    assert releases["2025-01"].noc_list == "NOC codes_JAN2025.xlsx"
    assert releases["2020-01"].noc_list == "NOC_Codes_2019.prn"
    for rid in releases:
        assert releases[rid].codes["E1399"].noc
        assert not releases[rid].codes["E0601"].noc


@pytest.mark.integration
def test_real_2020_readme_and_fallback_layout(releases):
    rel = releases["2020-01"]
    assert "does not imply any health insurance coverage" in rel.readme
    assert rel.layout_name == "HCPCS2019_recordlayout.txt"
    assert rel.codes["E0601"].coverage_meaning == "Special coverage instructions apply"
