"""Tests for the NOC code list parser (.prn text, .xlsx workbook, zip of either)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import openpyxl
import pytest

from assistant.corpus.noc import parse_noc_bytes, parse_noc_list
from assistant.errors import ParseError

PRN = (
    "                                     NOC CODES - HCPCS 2031\r\n"
    "\r\n"
    "\r\n"
    "  HCPCS  LONG DESCRIPTION                                      ADD DATE  TERM DATE\r\n"
    "\r\n"
    "  A0999  Unlisted ambulance service                            19870101\r\n"
    "  E1399  Durable medical equipment, miscellaneous              19840101\r\n"
    # A long description wraps onto a line that repeats the code.
    "  L8608  Miscellaneous external component, supply or accessory 20190101\r\n"
    "  L8608  for use with the retinal prosthesis system\r\n"
    # Terminated codes stay NOC for the dates they were valid.
    "  Q9977  Compounded drug, not otherwise classified             20150701  20151231\r\n"
    "    \x1a\r\n"  # the DOS end-of-file mark CMS leaves in the file
).encode("cp1252")
PRN_CODES = frozenset({"A0999", "E1399", "L8608", "Q9977"})


def xlsx_bytes(rows: list[tuple[object, ...]]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "NOC_codes_JAN2031"
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


XLSX_ROWS: list[tuple[object, ...]] = [
    (None, "NOC CODES - HCPCS 2031", None, None),
    (None, None, None, None),
    ("HCPCS", "LONG DESCRIPTION", "ADD DATE", "TERM DATE"),
    (None, None, None, None),
    ("A0999", "Unlisted ambulance service", 19870101, None),
    ("J3490", "Unclassified drugs", 19860101, None),
    (" J9999 ", "Not otherwise classified, antineoplastic drugs", 19900101, None),
    ("G6043", "Barbiturates, not elsewhere specified", 20150101, 20151231),
    (None, None, None, None),
]


def test_prn_bytes() -> None:
    assert parse_noc_bytes(PRN, "NOC_Codes_2031.prn") == PRN_CODES


def test_prn_path(tmp_path: Path) -> None:
    path = tmp_path / "NOC_Codes_2031.prn"
    path.write_bytes(PRN)
    assert parse_noc_list(path) == PRN_CODES
    assert parse_noc_list(PRN, "from bytes") == PRN_CODES


def test_xlsx(tmp_path: Path) -> None:
    path = tmp_path / "NOC codes_JAN2031.xlsx"
    path.write_bytes(xlsx_bytes(XLSX_ROWS))
    assert parse_noc_list(path, "NOC codes_JAN2031.xlsx") == {"A0999", "J3490", "J9999", "G6043"}


def test_zip_holding_the_list(tmp_path: Path) -> None:
    path = tmp_path / "2031-HCPCS-NOC-Codes.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("NOC_Codes_2031.prn", PRN)
        archive.writestr("NOC_Codes_2031.xlsx", xlsx_bytes(XLSX_ROWS))
    # The .prn copy is read when both are there.
    assert parse_noc_list(path) == PRN_CODES


def test_notes_below_the_list_are_not_codes() -> None:
    rows = [*XLSX_ROWS, ("Codes in this list are reviewed each quarter.", None, None, None)]
    assert "Codes" not in parse_noc_bytes(xlsx_bytes(rows), "noted.xlsx")


def test_text_that_is_not_a_noc_list(tmp_path: Path) -> None:
    path = tmp_path / "README.txt"
    path.write_text("This file contains the Level II codes.\r\n", encoding="cp1252")
    with pytest.raises(ParseError, match="README.txt"):
        parse_noc_list(path)


def test_workbook_without_noc_header() -> None:
    data = xlsx_bytes([("CODE", "SHORT"), ("A0999", "Ambulance")])
    with pytest.raises(ParseError, match="corrections.xlsx"):
        parse_noc_bytes(data, "corrections.xlsx")


def test_corrupt_workbook_and_zip() -> None:
    with pytest.raises(ParseError, match="broken.xlsx"):
        parse_noc_bytes(b"PK\x03\x04" + b"\x00not really a zip" * 10, "broken.xlsx")
    truncated = xlsx_bytes(XLSX_ROWS)[:400]
    with pytest.raises(ParseError, match="truncated.xlsx"):
        parse_noc_bytes(truncated, "truncated.xlsx")


def test_zip_without_a_noc_member() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("HCPC2031_README.txt", "nothing here")
    with pytest.raises(ParseError, match="release.zip"):
        parse_noc_bytes(buffer.getvalue(), "release.zip")


def test_damaged_record_raises() -> None:
    damaged = PRN.replace(b"  E1399  Durable", b"  E13 9  Durable")
    with pytest.raises(ParseError, match=r"damaged.prn: line 7"):
        parse_noc_bytes(damaged, "damaged.prn")
    rows = [*XLSX_ROWS[:5], ("J34", "Unclassified drugs", 19860101, None)]
    with pytest.raises(ParseError, match=r"damaged.xlsx: row 6"):
        parse_noc_bytes(xlsx_bytes(rows), "damaged.xlsx")


def test_binary_undecodable_and_missing(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="blob.prn"):
        parse_noc_bytes(b"\x00\x01\x02HCPCS LONG DESCRIPTION", "blob.prn")
    with pytest.raises(ParseError, match="odd.prn"):
        parse_noc_bytes(b"  HCPCS  LONG DESCRIPTION\r\n  A0999  \x81\r\n", "odd.prn")
    with pytest.raises(ParseError, match="absent.xlsx"):
        parse_noc_list(tmp_path / "absent.xlsx")


def test_header_without_codes() -> None:
    with pytest.raises(ParseError, match="empty.prn"):
        parse_noc_bytes(b"  HCPCS  LONG DESCRIPTION  ADD DATE  TERM DATE\r\n\r\n", "empty.prn")


# --- the real CMS lists ---------------------------------------------------------------------


@pytest.mark.integration
def test_real_2019_prn(corpus_dir: Path) -> None:
    path = corpus_dir / "cms-hcpcs/2019-01/2019-HCPCS-NOC-Codes.zip"
    with zipfile.ZipFile(path) as archive:
        prn = parse_noc_bytes(archive.read("NOC_Codes_2019.prn"), "NOC_Codes_2019.prn")
        xlsx = parse_noc_bytes(archive.read("NOC_Codes_2019.xlsx"), "NOC_Codes_2019.xlsx")
    # 141 lines, two of them continuation lines (L8608, L8698); six terminated codes included.
    assert len(prn) == 139
    assert xlsx == prn
    assert parse_noc_list(path) == prn
    assert {"A0999", "J3490", "E1399", "L8608", "Q9977"} <= prn


@pytest.mark.integration
def test_real_2025_lists(corpus_dir: Path) -> None:
    with zipfile.ZipFile(corpus_dir / "cms-hcpcs/2025-01/hcpcs-2025.zip") as archive:
        january = parse_noc_bytes(archive.read("NOC codes_JAN2025.xlsx"), "NOC codes_JAN2025.xlsx")
    july = parse_noc_list(corpus_dir / "cms-hcpcs/2025-07/NOC codes_JUL2025.xlsx")
    assert len(january) == 159
    assert len(july) == 163
    assert july - january == {"A6519", "J0165", "J2312", "J9342"}
    assert january <= july
    assert {"A4100", "J3490", "J9044"} <= july  # J9044: terminated 2022-12-31, still listed
