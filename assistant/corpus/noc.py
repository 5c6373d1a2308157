"""Parser for the CMS lists of NOC ("not otherwise classified") HCPCS codes.

CMS publishes the list with each release: a fixed-column ``.prn`` text file (2019: columns
HCPCS, LONG DESCRIPTION, ADD DATE, TERM DATE under a title line) and an ``.xlsx`` workbook
with the same columns (2019 through 2025). Both are read here, and so is a plain zip holding
one of them (the 2019 ``2019-HCPCS-NOC-Codes.zip``).

The result is the set of codes the list names, terminated ones included: a code that was
NOC stays NOC on the dates it was valid, and the release records say when it ended.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from assistant.errors import ParseError
from assistant.records import CODE_PATTERN

_MEMBER = re.compile(r"noc.*\.(prn|xlsx|txt)$", re.IGNORECASE)
# Control characters a DOS-era export leaves behind: Ctrl-Z (0x1A) as an end-of-file mark,
# which openpyxl shows escaped as ``_x001A_``.
_JUNK = re.compile(r"^(?:[\x00-\x1f\s]|_x00[0-1][0-9A-Fa-f]_)*$")


def parse_noc_list(source: Path | bytes, name: str | None = None) -> frozenset[str]:
    """The codes of a NOC list read from a path or from its bytes (``name`` for messages).

    The format is told from the content, not the name: an ``.xlsx`` workbook, a zip holding
    a NOC ``.prn``/``.xlsx``, or fixed-column text. Anything else raises ParseError.
    """
    if isinstance(source, Path):
        label = name or source.name
        try:
            data = source.read_bytes()
        except OSError as exc:
            raise ParseError(f"{label}: cannot read: {exc.strerror or exc}") from exc
        return parse_noc_bytes(data, label)
    return parse_noc_bytes(source, name or "NOC list")


def parse_noc_bytes(data: bytes, name: str) -> frozenset[str]:
    """The codes of a NOC list given as bytes: ``.xlsx``, a zip of one, or ``.prn`` text."""
    if data[:4] == b"PK\x03\x04":
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
            members = archive.namelist()
            if "[Content_Types].xml" in members:
                return _parse_xlsx(data, name)
            # A plain zip: the .prn is preferred, being the simpler of the two copies.
            candidates = sorted(
                (m for m in members if _MEMBER.search(m.rsplit("/", 1)[-1])),
                key=lambda m: (not m.lower().endswith(".prn"), m),
            )
            if not candidates:
                raise ParseError(f"{name}: zip archive without a NOC code list")
            member = candidates[0]
            return parse_noc_bytes(archive.read(member), f"{name}:{member}")
        except ParseError:
            raise
        except Exception as exc:  # zipfile and zlib raise many types on a damaged archive
            raise ParseError(f"{name}: corrupt zip archive: {type(exc).__name__}: {exc}") from exc
    return _parse_prn(data, name)


def _parse_prn(data: bytes, name: str) -> frozenset[str]:
    """Codes from the fixed-column text list: the code sits under the ``HCPCS`` heading."""
    if b"\x00" in data:
        raise ParseError(f"{name}: binary data, not a NOC code list")
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise ParseError(f"{name}: not a cp1252 text file (byte {exc.start})") from exc
    lines = text.splitlines()
    header = next((i for i, line in enumerate(lines) if _is_header(line.split())), None)
    if header is None:
        raise ParseError(f"{name}: no 'HCPCS  LONG DESCRIPTION' header: not a NOC code list")
    column = lines[header].upper().index("HCPCS")
    rows = []
    for lineno, line in enumerate(lines[header + 1 :], start=header + 2):
        if _JUNK.match(line):
            continue
        code = line[column : column + 5]
        # A continuation line of a long description repeats the code, so it is read alike.
        rows.append((lineno, code, line[column + 5 :]))
    return _codes(rows, name, "line")


def _parse_xlsx(data: bytes, name: str) -> frozenset[str]:
    """Codes from the workbook: the column headed ``HCPCS`` below the title rows."""
    import openpyxl  # imported here: only a NOC workbook needs it

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            for sheet in workbook.worksheets:
                rows = [tuple(row) for row in sheet.iter_rows(values_only=True)]
                found = _sheet_codes(rows, name)
                if found is not None:
                    return found
        finally:
            workbook.close()
    except ParseError:
        raise
    except Exception as exc:  # openpyxl raises many types (KeyError, ValueError, XML errors)
        raise ParseError(f"{name}: unreadable workbook: {type(exc).__name__}: {exc}") from exc
    raise ParseError(f"{name}: no sheet with an 'HCPCS' / 'LONG DESCRIPTION' header")


def _sheet_codes(rows: Sequence[Sequence[object]], name: str) -> frozenset[str] | None:
    """The codes of one sheet, or None when the sheet has no NOC header row."""
    for at, row in enumerate(rows):
        cells = [str(cell).strip() if cell is not None else "" for cell in row]
        if not _is_header(cells):
            continue
        column = [cell.upper() for cell in cells].index("HCPCS")
        data = []
        for rowno, values in enumerate(rows[at + 1 :], start=at + 2):
            code = values[column] if column < len(values) else None
            text = "" if code is None else str(code)
            rest = " ".join(str(v) for i, v in enumerate(values) if i != column and v is not None)
            if _JUNK.match(text) and not rest.strip():
                continue
            data.append((rowno, text, rest))
        return _codes(data, name, "row")
    return None


def _is_header(cells: Iterable[str]) -> bool:
    words = " ".join(cells).upper().split()
    return "HCPCS" in words and "LONG" in words and "DESCRIPTION" in words


def _codes(rows: Iterable[tuple[int, str, str]], name: str, unit: str) -> frozenset[str]:
    """Validate (position, code cell, rest of the row) triples into the set of codes."""
    codes = set()
    for position, cell, rest in rows:
        code = cell.strip()
        if CODE_PATTERN.match(code):
            codes.add(code)
        elif rest.strip() and not _JUNK.match(code):
            # A row with a description but no valid code is damage, not a footnote.
            raise ParseError(f"{name}: {unit} {position}: not a HCPCS code: {code!r}")
    if not codes:
        raise ParseError(f"{name}: no HCPCS codes listed: not a NOC code list")
    return frozenset(codes)
