"""Parsers for the CMS ASP drug files: the NDC-HCPCS crosswalk and the Part B payment limits.

Both are quarterly CSV files (cp1252, CRLF) with banner lines above the header row and many
empty trailing columns. The header row is found by the column names it must carry, never by
its position or by the year that CMS writes into the first column name (``_2026_CODE``).

The crosswalk says which drug products (NDCs) CMS assigns to which HCPCS billing code for
ASP-based payment; it is neither a coverage list nor a statement that a product is covered.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path

from assistant.corpus.guidance import decode_text
from assistant.corpus.status import code_status
from assistant.errors import ParseError
from assistant.records import CodeRecord, CrosswalkEntry, CrosswalkRow

# A billing code in these files: HCPCS Level II (J9271) or a CPT vaccine code (90371).
_CODE = re.compile(r"^[A-Z0-9]\d{3}[A-Z0-9]$")
# The first crosswalk column is named after the year (``_2026_CODE``), or plainly ``HCPCS Code``.
_CODE_COLUMN = re.compile(r"^(_?\d{4}_)?(hcpcs[ _]?)?code$", re.IGNORECASE)
_MONTHS = (
    "january february march april may june july august september october november december"
).split()
_EFFECTIVE = re.compile(r"effective\s+([A-Za-z]+)\s+\d{1,2},\s+(\d{4})", re.IGNORECASE)

# Crosswalk fields -> the normalised header names that may carry them.
_CROSSWALK_COLUMNS = {
    "short_description": ("shortdescription",),
    "labeler": ("labelername",),
    "ndc": ("ndc2", "ndc"),
    "drug_name": ("drugname",),
    "dosage": ("hcpcsdosage",),
    "billing_units": ("billunits",),
    # Package columns: kept per NDC row for citing one row as printed; optional, so a file
    # without them still parses.
    "package_size": ("pkgsize",),
    "package_quantity": ("pkgqty",),
    "billing_units_package": ("billunitspkg",),
}
# Columns a header row may lack.
_OPTIONAL_COLUMNS = frozenset(
    {"notes", "package_size", "package_quantity", "billing_units_package"}
)
_PAYMENT_COLUMNS = {
    "code": ("hcpcscode",),
    "short_description": ("shortdescription",),
    "dosage": ("hcpcscodedosage", "hcpcsdosage"),
    "payment_limit": ("paymentlimit",),
    "notes": ("notes",),
}


@dataclass(frozen=True)
class PaymentLimit:
    """The Medicare Part B payment allowance limit for one HCPCS code in one quarter.

    Payment data only: CMS states that the presence or absence of a code and its limit in
    this file does not indicate whether Medicare covers a drug (the local contractor decides).
    ``payment_limit`` is kept as printed (dollars per ``dosage`` unit); ``quarter`` is
    ``YYYY-Qn`` from the file's "Effective ..." banner; ``notes`` is the file's note column.
    """

    code: str
    short_description: str
    dosage: str
    payment_limit: str
    quarter: str
    notes: str = ""


def parse_crosswalk(path: Path, source_id: str) -> list[CrosswalkEntry]:
    """Parse an ASP NDC-HCPCS crosswalk CSV into one entry per (drug name, code).

    NDC-level rows are folded: labelers, NDCs and billing units become sorted distinct tuples
    (labelers distinct up to case and spacing, billing units sorted by value); ``rows`` keeps
    each NDC's own row (labeler, dosage, package and billing units as printed), by NDC. Drug
    names are kept as printed with outer whitespace trimmed; names of one code that differ
    only by case or spacing ("Pregnyl"/"PREGNYL", "Polocaine-Mpf"/"Polocaine - Mpf") fold
    into one entry under the first spelling in file order. The dosage is the one most rows of
    the entry print (ties: the first). Sorted by code, then drug name.
    """
    rows = _read_rows(path)
    header_at, columns = _find_header(rows, path, _CROSSWALK_COLUMNS, code_first=True)
    groups: dict[tuple[str, str], _Group] = {}
    for lineno, code, cells in _data_rows(rows, header_at, columns, path):
        name = _clean(cells["drug_name"])
        if not name:
            raise ParseError(f"{path.name}: line {lineno}: no drug name for {code}")
        key = (code, _fold(name))
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group(name, _clean(cells["short_description"]))
        group.add(cells)
    if not groups:
        raise ParseError(f"{path.name}: no crosswalk rows below the header")
    entries = [group.entry(code, source_id) for (code, _), group in groups.items()]
    entries.sort(key=lambda e: (e.code, e.drug_name.casefold(), e.drug_name))
    return entries


def mark_codes(
    entries: Iterable[CrosswalkEntry], records: Mapping[str, CodeRecord]
) -> list[CrosswalkEntry]:
    """The entries with ``code_status`` set from one release (code -> record).

    Codes the release lacks (CPT vaccine codes, codes newer than the release) are kept and
    marked "absent", so an answer can say so instead of dropping the drug.
    """
    return [replace(entry, code_status=code_status(entry.code, records)) for entry in entries]


def parse_payment_limits(path: Path, quarter: str | None = None) -> dict[str, PaymentLimit]:
    """Parse a Medicare Part B payment limit CSV into code -> payment limit.

    These are payment allowance limits for one quarter, never coverage statements. The
    quarter comes from the "Effective <Month> <day>, <year> ..." banner unless given.
    """
    rows = _read_rows(path)
    header_at, columns = _find_header(rows, path, _PAYMENT_COLUMNS, code_first=False)
    if quarter is None:
        quarter = _quarter(rows[:header_at], path)
    limits: dict[str, PaymentLimit] = {}
    for lineno, code, cells in _data_rows(rows, header_at, columns, path):
        if code in limits:
            raise ParseError(f"{path.name}: line {lineno}: {code} listed twice")
        limits[code] = PaymentLimit(
            code=code,
            short_description=_clean(cells["short_description"]),
            dosage=_clean(cells["dosage"]),
            payment_limit=cells["payment_limit"].strip(),
            quarter=quarter,
            notes=_clean(cells.get("notes", "")),
        )
    if not limits:
        raise ParseError(f"{path.name}: no payment limit rows below the header")
    return limits


class _Group:
    """The NDC rows of one (code, folded drug name) as they accumulate."""

    def __init__(self, name: str, short_description: str) -> None:
        self.name = name
        self.short_description = short_description
        self.dosages: dict[str, int] = {}  # insertion-ordered, so ties go to the first seen
        # folded labeler name -> first spelling ("Hikma ... USA Inc." and "... Usa Inc." are one)
        self.labelers: dict[str, str] = {}
        self.ndcs: set[str] = set()
        self.units: set[str] = set()
        self.rows: dict[str, CrosswalkRow] = {}  # by NDC: the first row printed for it

    def add(self, cells: Mapping[str, str]) -> None:
        dosage = _clean(cells["dosage"])
        self.dosages[dosage] = self.dosages.get(dosage, 0) + 1
        labeler = _clean(cells["labeler"])
        if labeler:
            self.labelers.setdefault(_fold(labeler), labeler)
        ndc = _clean(cells["ndc"])
        if ndc:
            self.ndcs.add(ndc)
        units = cells["billing_units"].strip()
        if units:
            self.units.add(units)
        if ndc and ndc not in self.rows:
            self.rows[ndc] = CrosswalkRow(
                labeler=labeler,
                ndc=ndc,
                dosage=dosage,
                package_size=_clean(cells.get("package_size", "")),
                package_quantity=_clean(cells.get("package_quantity", "")),
                billing_units=units,
                billing_units_package=_clean(cells.get("billing_units_package", "")),
            )

    def entry(self, code: str, source_id: str) -> CrosswalkEntry:
        top = max(self.dosages.values())
        dosage = next(value for value, count in self.dosages.items() if count == top)
        return CrosswalkEntry(
            drug_name=self.name,
            code=code,
            short_description=self.short_description,
            dosage=dosage,
            labelers=tuple(sorted(self.labelers.values(), key=lambda s: (s.casefold(), s))),
            ndcs=tuple(sorted(self.ndcs)),
            billing_units=tuple(sorted(self.units, key=_number_key)),
            source=source_id,
            rows=tuple(self.rows[ndc] for ndc in sorted(self.rows)),
        )


def _data_rows(
    rows: list[list[str]], header_at: int, columns: dict[str, int], path: Path
) -> Iterable[tuple[int, str, dict[str, str]]]:
    """(line number, billing code, cells by column key) for each non-empty row below the header."""
    for lineno, row in enumerate(rows[header_at + 1 :], start=header_at + 2):
        if not any(cell.strip() for cell in row):
            continue
        cells = {key: _cell(row, index) for key, index in columns.items()}
        code = cells["code"].upper()
        if not _CODE.match(code):
            raise ParseError(f"{path.name}: line {lineno}: not a billing code: {code!r}")
        yield lineno, code, cells


def _read_rows(path: Path) -> list[list[str]]:
    """The CSV rows of a file, decoded (see ``guidance.decode_text``)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ParseError(f"{path.name}: cannot read: {exc.strerror or exc}") from exc
    text = decode_text(data, path.name, "CSV file")
    try:
        return list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise ParseError(f"{path.name}: malformed CSV: {exc}") from exc


def _find_header(
    rows: Sequence[Sequence[str]],
    path: Path,
    wanted: Mapping[str, tuple[str, ...]],
    *,
    code_first: bool,
) -> tuple[int, dict[str, int]]:
    """The index of the header row and field -> column, found by the names the row carries."""
    for at, row in enumerate(rows):
        names = [_header_key(cell) for cell in row]
        columns: dict[str, int] = {}
        if code_first:
            if not row or not _CODE_COLUMN.match(row[0].strip()):
                continue
            columns["code"] = 0
        for key, aliases in wanted.items():
            index = next((i for i, name in enumerate(names) if name in aliases), None)
            if index is not None:
                columns[key] = index
        required = [key for key in wanted if key not in _OPTIONAL_COLUMNS]
        if all(key in columns for key in required):
            return at, columns
    raise ParseError(f"{path.name}: no header row with the expected columns found")


def _quarter(banner: Iterable[Sequence[str]], path: Path) -> str:
    """``YYYY-Qn`` from the "Effective January 1, 2026 through ..." banner line."""
    for row in banner:
        for cell in row:
            match = _EFFECTIVE.search(cell)
            if match and match.group(1).lower() in _MONTHS:
                month = _MONTHS.index(match.group(1).lower()) + 1
                return f"{match.group(2)}-Q{(month - 1) // 3 + 1}"
    raise ParseError(f"{path.name}: no 'Effective <date>' banner line to date the quarter")


def _header_key(cell: str) -> str:
    return re.sub(r"[^a-z0-9]", "", cell.casefold())


def _cell(row: Sequence[str], index: int) -> str:
    return row[index] if index < len(row) else ""


def _clean(value: str) -> str:
    """Outer whitespace trimmed and inner runs (tabs, newlines, doubled spaces) made one space."""
    return " ".join(value.split())


def _fold(name: str) -> str:
    # Spacing is dropped entirely, so "Polocaine - Mpf" and "Polocaine-Mpf" are one drug.
    return "".join(name.split()).casefold()


def _number_key(value: str) -> tuple[int, Decimal, str]:
    """Sort billing units by value ("0.5" < "2" < "10"); anything non-numeric after them."""
    try:
        number = Decimal(value)
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        return (1, Decimal(0), value)
    return (0, number, value)
