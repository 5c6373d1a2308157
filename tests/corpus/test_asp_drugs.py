"""Tests for the ASP NDC-HCPCS crosswalk and Part B payment limit parsers."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from assistant.corpus.asp_drugs import (
    PaymentLimit,
    mark_codes,
    parse_crosswalk,
    parse_payment_limits,
)
from assistant.errors import ParseError
from assistant.records import CodeRecord, CodeStatus, CrosswalkRow

HEADER = (
    "_2031_CODE,Short Description,LABELER NAME,NDC2,Drug Name,HCPCS dosage,"
    "PKG SIZE,PKG QTY,BILLUNITS,BILLUNITSPKG,,,,"
)
BANNER = [
    "July 2031 ASP NDC - HCPCS Crosswalk for Medicare Part B Drugs,,,,,,,,,,,,,",
    '"     Effective July 1, 2031 through September 30, 2031",,,,,,,,,,,,,',
    ",,,,,,,,,,,,,",
    "The ASP crosswalks are maintained to support ASP-based payments only.,,,,,,,,,,,,,",
    ",,,,,,,,,,,,,",
]
ROWS = [
    # Three NDC rows of one drug, its name printed three ways (trailing space, capitals).
    "J9999,Inj examplumab 1 mg,Acme Pharma LLC,11111-0001-01,Examplo ,1 MG,1,1,10,10,,,,",
    "J9999,Inj examplumab 1 mg,ACME PHARMA LLC,11111-0001-02,EXAMPLO,1 MG,2,1,2,2,,,,",
    "J9999,Inj examplumab 1 mg,Beta Labs Inc,22222-0002-01,Examplo,1  MG,0.5,1,0.5,0.5,,,,",
    # A second name under the same code, and a name spaced two ways.
    "J9999,Inj examplumab 1 mg,Beta Labs Inc,22222-0003-01,Examplumab,1 MG,1,1,100,100,,,,",
    "A9000,Widget drug,Gamma Inc,33333-0001-01,Widget - Pf,1 ML,1,1,1,1,,,,",
    "A9000,Widget drug,Gamma Inc,33333-0002-01,Widget-PF,1 ML,1,1,1,1,,,,",
    # cp1252 bytes: a registered sign and a non-breaking space after the name.
    "90999,Vaccine im,Delta Biologics,44444-0001-01,Vaccinex\u00ae\u00a0,0.5 ML,1,1,1,1,,,,",
]


def write_csv(path: Path, lines: list[str]) -> Path:
    path.write_bytes("\r\n".join(lines).encode("cp1252") + b"\r\n")
    return path


@pytest.fixture
def crosswalk_csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "crosswalk.csv", [*BANNER, HEADER, *ROWS, ",,,,,,,,,,,,,"])


def test_header_found_by_shape_whatever_the_year(crosswalk_csv: Path) -> None:
    entries = parse_crosswalk(crosswalk_csv, "asp-test")
    assert {e.code for e in entries} == {"J9999", "A9000", "90999"}
    assert all(e.source == "asp-test" for e in entries)


def test_ndc_rows_fold_into_one_entry_per_name_and_code(crosswalk_csv: Path) -> None:
    entries = parse_crosswalk(crosswalk_csv, "asp-test")
    examplo = next(e for e in entries if e.drug_name == "Examplo")
    # First spelling kept, trimmed; the capitalised row folded into it.
    assert examplo.code == "J9999"
    assert examplo.short_description == "Inj examplumab 1 mg"
    assert examplo.ndcs == ("11111-0001-01", "11111-0001-02", "22222-0002-01")
    # Labelers distinct up to case (first spelling kept); billing units sorted by value.
    assert examplo.labelers == ("Acme Pharma LLC", "Beta Labs Inc")
    assert examplo.billing_units == ("0.5", "2", "10")
    assert examplo.dosage == "1 MG"  # "1  MG" is the same dosage once spacing is normalised


def test_names_differing_only_by_case_or_spacing_fold(crosswalk_csv: Path) -> None:
    entries = parse_crosswalk(crosswalk_csv, "asp-test")
    names = [(e.code, e.drug_name) for e in entries]
    assert names == [
        ("90999", "Vaccinex\u00ae"),
        ("A9000", "Widget - Pf"),
        ("J9999", "Examplo"),
        ("J9999", "Examplumab"),
    ]
    widget = entries[1]
    assert widget.ndcs == ("33333-0001-01", "33333-0002-01")


def test_each_ndc_row_is_kept_as_printed(crosswalk_csv: Path) -> None:
    entries = parse_crosswalk(crosswalk_csv, "asp-test")
    examplo = next(e for e in entries if e.drug_name == "Examplo")
    # One row per NDC, in NDC order, each with its own labeler, package and billing units:
    # the folded tuples cannot say which NDC holds 10 billing units, the rows can.
    assert examplo.rows == (
        CrosswalkRow("Acme Pharma LLC", "11111-0001-01", "1 MG", "1", "1", "10", "10"),
        CrosswalkRow("ACME PHARMA LLC", "11111-0001-02", "1 MG", "2", "1", "2", "2"),
        CrosswalkRow("Beta Labs Inc", "22222-0002-01", "1 MG", "0.5", "1", "0.5", "0.5"),
    )


def test_package_columns_are_optional(tmp_path: Path) -> None:
    header = "_2031_CODE,Short Description,LABELER NAME,NDC2,Drug Name,HCPCS dosage,BILLUNITS"
    path = write_csv(tmp_path / "narrow.csv", [header, "J9999,Inj,Acme,1-1-1,Examplo,1 MG,10"])
    (entry,) = parse_crosswalk(path, "asp-test")
    assert entry.rows == (CrosswalkRow("Acme", "1-1-1", "1 MG", "", "", "10", ""),)


def test_order_and_ids_are_deterministic(crosswalk_csv: Path) -> None:
    first = parse_crosswalk(crosswalk_csv, "asp-test")
    second = parse_crosswalk(crosswalk_csv, "asp-test")
    assert first == second
    assert len({e.id for e in first}) == len(first)


def test_mark_codes_sets_status_and_keeps_absent_codes(crosswalk_csv: Path) -> None:
    entries = parse_crosswalk(crosswalk_csv, "asp-test")
    records = {
        "J9999": CodeRecord("J9999", "code", "2031-07", "Injection, examplumab, 1 mg", "Inj ex"),
        "A9000": CodeRecord(
            "A9000", "code", "2031-07", "Widget", "Widget", termination_date=date(2030, 12, 31)
        ),
    }
    marked = {(e.code, e.drug_name): e.code_status for e in mark_codes(entries, records)}
    assert marked[("J9999", "Examplo")] == CodeStatus("J9999", "active")
    assert marked[("A9000", "Widget - Pf")] == CodeStatus("A9000", "terminated", date(2030, 12, 31))
    assert marked[("90999", "Vaccinex\u00ae")] == CodeStatus("90999", "absent")
    assert all(e.code_status is None for e in entries)  # the input is left as it was


def test_missing_header_raises_parse_error_naming_the_file(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "no-header.csv", [*BANNER, *ROWS])
    with pytest.raises(ParseError, match="no-header.csv"):
        parse_crosswalk(path, "asp-test")


def test_undecodable_bytes_raise_parse_error(tmp_path: Path) -> None:
    path = tmp_path / "bad-bytes.csv"
    # 0x81 is undefined in cp1252 and invalid as the start of UTF-8.
    path.write_bytes(HEADER.encode() + b"\r\nJ9999,Inj \x81,Acme,1-1-1,X,1 MG,1,1,1,1\r\n")
    with pytest.raises(ParseError, match="bad-bytes.csv"):
        parse_crosswalk(path, "asp-test")


def test_binary_file_raises_parse_error(tmp_path: Path) -> None:
    path = tmp_path / "binary.csv"
    path.write_bytes(b"PK\x03\x04\x00\x00\x00garbage")
    with pytest.raises(ParseError, match="binary.csv"):
        parse_crosswalk(path, "asp-test")


def test_malformed_code_raises_parse_error_with_line(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "bad-code.csv", [HEADER, "J99,Inj,Acme,1-1-1,X,1 MG,1,1,1,1"])
    with pytest.raises(ParseError, match=r"bad-code.csv: line 2"):
        parse_crosswalk(path, "asp-test")


def test_header_without_rows_raises_parse_error(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "empty.csv", [*BANNER, HEADER, ",,,,"])
    with pytest.raises(ParseError, match="empty.csv"):
        parse_crosswalk(path, "asp-test")


def test_missing_file_raises_parse_error(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="absent.csv"):
        parse_crosswalk(tmp_path / "absent.csv", "asp-test")


PAYMENT_LINES = [
    "Payment Allowance Limits for Medicare Part B Drugs,,,,,,,,,,,",
    ",,,,,,,,,,,",
    '"Effective April 1, 2031 through June 30, 2031",,,,,,,,,,,',
    "Note 2: The absence or presence of a HCPCS code does not indicate coverage.,,,,,,,,,,,",
    ",,,,,,,,,,,",
    "HCPCS Code,Short Description,HCPCS Code Dosage,Payment Limit,Co-insurance Percentage,"
    "Vaccine AWP%,Vaccine Limit,Blood AWP%,Blood limit,Clotting Factor,Notes,",
    "90999,Vaccine im,0.5 ML,137.828,20.000,,,,,,,",
    "J9999,Inj examplumab 1 mg,1 MG ,59.726,20.000,,,,,,Added July 2031,",
]


def test_payment_limits(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "limits.csv", PAYMENT_LINES)
    limits = parse_payment_limits(path)
    assert limits == {
        "90999": PaymentLimit("90999", "Vaccine im", "0.5 ML", "137.828", "2031-Q2"),
        "J9999": PaymentLimit(
            "J9999", "Inj examplumab 1 mg", "1 MG", "59.726", "2031-Q2", "Added July 2031"
        ),
    }


def test_payment_limits_quarter_given_or_missing(tmp_path: Path) -> None:
    lines = [line for line in PAYMENT_LINES if "Effective" not in line]
    path = write_csv(tmp_path / "undated.csv", lines)
    assert parse_payment_limits(path, quarter="2031-Q3")["J9999"].quarter == "2031-Q3"
    with pytest.raises(ParseError, match="undated.csv"):
        parse_payment_limits(path)


def test_payment_limits_bad_input(tmp_path: Path) -> None:
    crosswalk = write_csv(tmp_path / "crosswalk.csv", [*BANNER, HEADER, *ROWS])
    with pytest.raises(ParseError, match="crosswalk.csv"):
        parse_payment_limits(crosswalk)  # a crosswalk is not a payment limit file
    twice = write_csv(tmp_path / "twice.csv", [*PAYMENT_LINES, PAYMENT_LINES[-1]])
    with pytest.raises(ParseError, match="J9999 listed twice"):
        parse_payment_limits(twice)


# --- the real January 2026 files ------------------------------------------------------------

CROSSWALK = "drug-crosswalk/2026-01/January 2026 ASP NDC-HCPCS Crosswalk 121725.csv"
LIMITS = "drug-crosswalk/2026-01/January 2026 Medicare Part B Payment Limit File 121725.csv"


@pytest.mark.integration
def test_real_crosswalk_counts(corpus_dir: Path) -> None:
    entries = parse_crosswalk(corpus_dir / CROSSWALK, "asp-crosswalk-2026-01")
    # 7,125 NDC rows, each NDC once within its entry.
    assert sum(len(e.ndcs) for e in entries) == 7125
    assert len({e.code for e in entries}) == 843
    # 1,133 (drug name, code) entries; 1,035 names once case and spacing are folded (the
    # corpus README counts 1,036: it keeps "Polocaine - Mpf" and "Polocaine-Mpf" apart).
    assert len(entries) == 1133
    assert len({"".join(e.drug_name.split()).casefold() for e in entries}) == 1035
    assert all(e.drug_name == e.drug_name.strip() and e.drug_name for e in entries)
    assert entries == sorted(entries, key=lambda e: (e.code, e.drug_name.casefold(), e.drug_name))


@pytest.mark.integration
def test_real_crosswalk_brand_names(corpus_dir: Path) -> None:
    entries = parse_crosswalk(corpus_dir / CROSSWALK, "asp-crosswalk-2026-01")
    by_name: dict[str, list[str]] = {}
    for entry in entries:
        by_name.setdefault(entry.drug_name, []).append(entry.code)
    assert by_name["Keytruda"] == ["J9271"]
    keytruda = next(e for e in entries if e.drug_name == "Keytruda")
    assert keytruda.short_description == "Inj pembrolizumab"
    assert keytruda.ndcs == ("00006-3026-02", "00006-3026-04")
    # "HyperHepB " and "HyperHepB" are one entry with its three NDCs.
    hyperhepb = next(e for e in entries if e.drug_name == "HyperHepB")
    assert (hyperhepb.code, len(hyperhepb.ndcs)) == ("90371", 3)
    assert by_name["Otulfi"] == ["Q9999"]


@pytest.mark.integration
def test_real_payment_limits(corpus_dir: Path) -> None:
    limits = parse_payment_limits(corpus_dir / LIMITS)
    assert len(limits) == 877
    assert limits["J9271"] == PaymentLimit(
        "J9271", "Inj pembrolizumab", "1 MG", "59.726", "2026-Q1"
    )
    assert limits["90371"].payment_limit == "137.828"
    assert {limit.quarter for limit in limits.values()} == {"2026-Q1"}
