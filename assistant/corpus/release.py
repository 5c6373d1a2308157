"""Parser for a CMS alpha-numeric HCPCS release: the fixed-width ANWEB file and its companions.

A release is read straight from its zip(s) or from an unpacked folder. Its record layout file
gives the field positions (checked against the layout this parser knows; anything else is an
unknown layout and refused) and the meanings of coverage, action, pricing and other codes. The
processing-notes file resolves note numbers to their text. NOC codes are flagged from the
release's own NOC list, or else from the newest list not later than the release.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from assistant.errors import ParseError
from assistant.records import (
    CODE_PATTERN,
    CODE_RE,
    MODIFIER_PATTERN,
    MODIFIER_RE,
    CodeRecord,
    release_label,
)

PARSER_VERSION = "release-2"
RECORD_LENGTH = 320
ENCODING = "cp1252"
# The fixed-width alpha-numeric file's name in every release (suffixes drift: _v2, dates).
RECORDS_MEMBER = r"^HCPC\d{4}.*ANWEB.*\.txt$"

# The 320-byte record as the CMS record layout (2019 through 2026) defines it:
# key -> (layout field name, first column, last column, occurrences). Columns are 1-based.
FIELDS: dict[str, tuple[str, int, int, int]] = {
    "code": ("Healthcare Common Procedure Coding System Code", 1, 5, 1),
    "sequence": ("HCPCS Sequence Number", 6, 10, 1),
    "record_id": ("HCPCS Record Identification Code", 11, 11, 1),
    "long_description": ("HCPCS Long Description", 12, 91, 1),
    "short_description": ("HCPCS Short Description", 92, 119, 1),
    "pricing": ("HCPCS Pricing Indicator Code", 120, 121, 4),
    "multiple_pricing": ("HCPCS Multiple Pricing Indicator Code", 128, 128, 1),
    "cim": ("HCPCS Coverage Issues Manual Reference Section Number", 129, 134, 3),
    "mcm": ("HCPCS Medicare Carriers Manual Reference Section Number", 147, 154, 3),
    "statute": ("HCPCS Statute Number", 171, 180, 1),
    "lab_cert": ("HCPCS Lab Certification Code", 181, 183, 8),
    "xref": ("HCPCS Cross Reference Code", 205, 209, 5),
    "coverage": ("HCPCS Coverage Code", 230, 230, 1),
    "asc_group": ("HCPCS ASC Payment Group Code", 231, 232, 1),
    "asc_date": ("HCPCS ASC Payment Group Effective Date", 233, 240, 1),
    "opps_group": ("HCPCS MOG Payment Group Code", 241, 243, 1),
    "opps_indicator": ("HCPCS MOG Payment Policy Indicator", 244, 244, 1),
    "opps_date": ("HCPCS MOG Effective Date", 245, 252, 1),
    "note": ("HCPCS Processing Note Number", 253, 256, 1),
    "betos": ("HCPCS Berenson-Eggers Type Of Service Code", 257, 259, 1),
    "tos": ("HCPCS Type Of Service Code", 261, 261, 5),
    "anesthesia": ("HCPCS Anesthesia Base Unit Quantity", 266, 268, 1),
    "add_date": ("HCPCS Code Added Date", 269, 276, 1),
    "action_date": ("HCPCS Action Effective Date", 277, 284, 1),
    "termination_date": ("HCPCS Termination Date", 285, 292, 1),
    "action": ("HCPCS Action Code", 293, 293, 1),
}
# Code tables the layout defines, by field key.
CODED_FIELDS = ("pricing", "multiple_pricing", "lab_cert", "coverage", "opps_indicator", "action")
# A record line: code (or 3 blanks + modifier), 5-digit sequence, record id 3/4/7/8.
_RECORD = re.compile(rf"^(?:{CODE_RE}|   {MODIFIER_RE})\d{{5}}[3478]")
_FIELD_HEAD = re.compile(r"^\s{1,4}(\d+)\.\s+(.+?)\s*$")
_POSITIONS = re.compile(r"^\s+(\d+)\s+(\d+)\s+(\d+)(?:\s+(CHAR|NUM|GRP))?\s*$")
_CODE_LINE = re.compile(r"^(\s*)([A-Za-z0-9]{1,3})\s+=\s+(.*?)\s*$")
_NOTE = re.compile(r"^\s*(\d{4})--(.*)$")


@dataclass(frozen=True)
class Layout:
    """Field positions and code meanings read from a release's record layout file.

    ``tables`` holds each code table as the file writes it, one line per entry (its wrapped
    lines joined) or sub-heading ("Clinical Lab Fee Schedule"), whitespace folded: the units a
    citation of the layout quotes. Rulers under sub-headings ("-----") are not text.
    """

    name: str
    positions: dict[str, tuple[int, int]]
    codes: dict[str, dict[str, str]]
    tables: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def meaning(self, key: str, value: str) -> str:
        return self.codes.get(key, {}).get(value, "")


@dataclass(frozen=True)
class Release:
    """One parsed CMS release: its codes and modifiers, and what was used to read them."""

    id: str  # "2025-01"
    effective: date
    title: str
    codes: dict[str, CodeRecord]
    modifiers: dict[str, CodeRecord]
    layout_name: str
    noc_list: str
    noc_codes: frozenset[str] = frozenset()
    notes: dict[str, str] = field(default_factory=dict)
    readme: str = ""  # the release README text, when the release has one
    layout_text: str = ""


class ReleaseFiles:
    """The files of one release: members of its zips and/or plain files, by name."""

    def __init__(self, paths: Iterable[Path]):
        self._members: dict[str, tuple[Path, str | None]] = {}
        for path in paths:
            if path.is_dir():
                for sub in sorted(path.iterdir()):
                    if sub.is_file():
                        self._members[sub.name] = (sub, None)
            elif path.suffix.lower() == ".zip" or (path.is_file() and zipfile.is_zipfile(path)):
                try:
                    with zipfile.ZipFile(path) as zf:
                        for name in zf.namelist():
                            if not name.endswith("/"):
                                self._members[Path(name).name] = (path, name)
                except (zipfile.BadZipFile, OSError) as exc:
                    raise ParseError(f"{path.name}: not a readable zip archive ({exc})") from None
            elif path.is_file():
                self._members[path.name] = (path, None)
            else:
                raise ParseError(f"{path}: release file not found")

    def find(self, pattern: str) -> str | None:
        """The first member whose name matches ``pattern`` (case-insensitive regex)."""
        rx = re.compile(pattern, re.IGNORECASE)
        for name in sorted(self._members):
            if rx.search(name):
                return name
        return None

    def read(self, name: str) -> bytes:
        path, member = self._members[name]
        try:
            if member is None:
                return path.read_bytes()
            with zipfile.ZipFile(path) as zf:
                return zf.read(member)
        except (zipfile.BadZipFile, OSError, KeyError, EOFError, zlib.error) as exc:
            raise ParseError(f"{path.name}: cannot read {name} ({exc})") from None


def parse_layout(text: str, name: str) -> Layout:
    """Read field positions and code tables from a CMS record layout text; refuse others."""
    lines = [ln.expandtabs(8) for ln in text.replace("\r", "").split("\n")]
    by_name = {v[0].casefold(): k for k, v in FIELDS.items()}
    positions: dict[str, tuple[int, int]] = {}
    codes: dict[str, dict[str, str]] = {}
    tables: dict[str, list[str]] = {}
    current: str | None = None
    in_codes = False
    code_indent = 0
    last: str | None = None
    for i, line in enumerate(lines):
        head = _FIELD_HEAD.match(line)
        if head and len(line) - len(line.lstrip()) <= 4:
            current = by_name.get(head.group(2).casefold())
            in_codes = False
            last = None
            if current and current not in positions:
                for nxt in lines[i + 1 : i + 3]:
                    pos = _POSITIONS.match(nxt)
                    if pos:
                        positions[current] = (int(pos.group(2)), int(pos.group(3)))
                        break
            continue
        if current is None:
            continue
        stripped = line.strip()
        if stripped.startswith("CODES") and stripped.rstrip(": ").endswith("CODES"):
            in_codes = True
            code_indent = 0
            last = None
            continue
        if not in_codes:
            continue
        if re.match(
            r"^(DB2|SAS|STANDARD|TITLE|OCCURS|LENGTH|EDIT|COMMENTS|CODE TABLE)\b", stripped
        ):
            in_codes = False
            continue
        if not stripped or set(stripped) <= {"-", "*"}:
            continue
        m = _CODE_LINE.match(line)
        units = tables.setdefault(current, [])
        if m:
            if not code_indent:
                code_indent = len(m.group(1))
            last = m.group(2)
            codes.setdefault(current, {})[last] = m.group(3)
            units.append(stripped)
        elif last is not None and len(line) - len(line.lstrip()) > code_indent:
            table = codes[current]
            table[last] = f"{table[last]} {stripped}"
            units[-1] = f"{units[-1]} {stripped}"
        else:
            last = None  # a sub-heading inside a code table (e.g. "Clinical Lab Fee Schedule")
            units.append(stripped)
    for key, (field_name, beg, end, _occ) in FIELDS.items():
        got = positions.get(key)
        if got is None:
            raise ParseError(f"{name}: unknown record layout (no field {field_name!r})")
        if got != (beg, end):
            raise ParseError(
                f"{name}: unknown record layout ({field_name} at {got[0]}-{got[1]}, "
                f"expected {beg}-{end})"
            )
    folded = {
        key: tuple(" ".join(unit.split()) for unit in units)
        for key, units in tables.items()
        if key in CODED_FIELDS and key in codes
    }
    return Layout(name=name, positions=positions, codes=codes, tables=folded)


def parse_notes(text: str) -> dict[str, str]:
    """Processing notes: note number ("0013") -> note text, margins removed.

    A note is its ``NNNN--`` line and every indented line after it up to a blank one; its
    lines are joined with one space. Since about 2010 CMS indents continuation lines with tabs
    (``\t\tGUIDELINES.``) as often as with spaces, so any leading whitespace continues a note.
    The right margin's ``*`` is not text; a line holding only the margin is blank.
    """
    notes: dict[str, str] = {}
    current: str | None = None
    for raw in text.replace("\r", "").split("\n"):
        line = raw.rstrip()
        if line.endswith("*"):
            line = line[:-1].rstrip()
        m = _NOTE.match(line)
        if m:
            current = m.group(1)
            notes[current] = m.group(2).strip()
        elif not line.strip():
            current = None
        elif current is not None and line[0].isspace():
            notes[current] = f"{notes[current]} {line.strip()}"
    return notes


def _date(value: str, where: str) -> date | None:
    value = value.strip()
    if not value or set(value) == {"0"}:
        return None
    if len(value) != 8 or not (value.isascii() and value.isdigit()):
        raise ParseError(f"{where}: bad date {value!r}")
    try:
        return date(int(value[0:4]), int(value[4:6]), int(value[6:8]))
    except ValueError:
        raise ParseError(f"{where}: bad date {value!r}") from None


def _slice(line: str, key: str) -> list[str]:
    _name, beg, end, occurs = FIELDS[key]
    width = end - beg + 1
    out = []
    for n in range(occurs):
        start = beg - 1 + n * width
        out.append(line[start : start + width].strip())
    return out


def parse_records(
    data: bytes,
    name: str,
    release: str,
    layout: Layout | None = None,
    notes: Mapping[str, str] | None = None,
    noc: frozenset[str] = frozenset(),
) -> tuple[dict[str, CodeRecord], dict[str, CodeRecord], str]:
    """Parse the fixed-width file. Returns (codes, modifiers, header text before the records).

    Lines before the first record are a disclaimer header (2019, 2020) and returned as text.
    Continuation records (4, 8) extend the long description of the record they follow; the
    2020 file's right-trimmed continuation lines are read the same way.
    """
    try:
        text = data.decode(ENCODING)
    except UnicodeDecodeError as exc:
        raise ParseError(f"{name}: not a {ENCODING} text file ({exc})") from None
    notes = notes or {}
    header: list[str] = []
    starts: list[tuple[str, list[str], int]] = []  # (first line, description parts, line no)
    for lineno, raw in enumerate(text.split("\n"), 1):
        line = raw.rstrip("\r")
        if len(line) > RECORD_LENGTH and not line[RECORD_LENGTH:].strip():
            line = line[:RECORD_LENGTH]
        if not _RECORD.match(line):
            if not line.strip():
                continue
            if not starts:
                header.append(line.strip())
                continue
            raise ParseError(f"{name}: line {lineno} is not a HCPCS record: {line[:40]!r}")
        if len(line) > RECORD_LENGTH:
            raise ParseError(f"{name}: line {lineno} is longer than {RECORD_LENGTH} characters")
        rid = line[10]
        if rid in "37":
            if len(line.rstrip()) < FIELDS["action"][2] and len(line) < RECORD_LENGTH:
                raise ParseError(
                    f"{name}: line {lineno} is a truncated record ({len(line)} of "
                    f"{RECORD_LENGTH} characters)"
                )
            starts.append((line, [line[11:91].rstrip()], lineno))
        else:
            if not starts or starts[-1][0][:5] != line[:5]:
                raise ParseError(f"{name}: line {lineno} continues no record ({line[:11]!r})")
            if (starts[-1][0][10] == "3") != (rid == "4"):
                raise ParseError(f"{name}: line {lineno} mixes code and modifier records")
            starts[-1][1].append(line[11:91].rstrip())
    if not starts:
        raise ParseError(f"{name}: no HCPCS records found")
    codes: dict[str, CodeRecord] = {}
    modifiers: dict[str, CodeRecord] = {}
    for line, parts, lineno in starts:
        record = _record(line, parts, f"{name}: line {lineno}", release, layout, notes, noc)
        target = codes if record.kind == "code" else modifiers
        if record.code in target:
            raise ParseError(f"{name}: line {lineno} repeats {record.kind} {record.code}")
        target[record.code] = record
    return codes, modifiers, "\n".join(header)


def _record(
    line: str,
    parts: list[str],
    where: str,
    release: str,
    layout: Layout | None,
    notes: Mapping[str, str],
    noc: frozenset[str],
) -> CodeRecord:
    line = line.ljust(RECORD_LENGTH)
    is_code = line[10] == "3"
    code = line[0:5].strip()
    if not (CODE_PATTERN if is_code else MODIFIER_PATTERN).match(code):
        raise ParseError(f"{where}: malformed {'code' if is_code else 'modifier'} {code!r}")

    def one(key: str) -> str:
        return _slice(line, key)[0]

    def many(key: str) -> tuple[str, ...]:
        return tuple(v for v in _slice(line, key) if v)

    def meaning(key: str, value: str) -> str:
        return layout.meaning(key, value) if layout and value else ""

    pricing = many("pricing")
    labs = many("lab_cert")
    note = one("note")
    anesthesia = one("anesthesia")
    return CodeRecord(
        code=code,
        kind="code" if is_code else "modifier",
        release=release,
        long_description=" ".join(p for p in parts if p.strip()).strip(),
        short_description=one("short_description"),
        pricing_indicators=pricing,
        pricing_meanings=tuple(meaning("pricing", p) for p in pricing),
        multiple_pricing_indicator=one("multiple_pricing"),
        multiple_pricing_meaning=meaning("multiple_pricing", one("multiple_pricing")),
        cim_references=many("cim"),
        mcm_references=many("mcm"),
        statute=one("statute"),
        lab_certifications=labs,
        lab_certification_meanings=tuple(meaning("lab_cert", v) for v in labs),
        cross_references=many("xref"),
        coverage_code=one("coverage"),
        coverage_meaning=meaning("coverage", one("coverage")),
        asc_group=one("asc_group"),
        asc_effective_date=_date(one("asc_date"), where),
        opps_payment_group=one("opps_group"),
        opps_policy_indicator=one("opps_indicator"),
        opps_policy_meaning=meaning("opps_indicator", one("opps_indicator")),
        opps_effective_date=_date(one("opps_date"), where),
        processing_note_number=note,
        processing_note=notes.get(note, "") if note else "",
        betos=one("betos"),
        types_of_service=many("tos"),
        anesthesia_base_units=int(anesthesia)
        if anesthesia.isascii() and anesthesia.isdigit()
        else None,
        add_date=_date(one("add_date"), where),
        action_effective_date=_date(one("action_date"), where),
        termination_date=_date(one("termination_date"), where),
        action_code=one("action"),
        action_meaning=meaning("action", one("action")),
        noc=is_code and code in noc,
    )


def _text(files: ReleaseFiles, name: str) -> str:
    try:
        return files.read(name).decode(ENCODING)
    except UnicodeDecodeError as exc:
        raise ParseError(f"{name}: not a {ENCODING} text file ({exc})") from None


def read_release_parts(files: ReleaseFiles) -> dict[str, str | None]:
    """Locate the members of a release by name: records, layout, notes, NOC list, README."""
    return {
        "records": files.find(RECORDS_MEMBER),
        "layout": files.find(r"record_?layout.*\.txt$"),
        "notes": files.find(r"^proc_notes.*\.txt$"),
        "noc": files.find(r"^noc.*\.(xlsx|prn)$"),
        "readme": files.find(r"readme.*\.txt$"),
    }


def parse_release(
    paths: Iterable[Path],
    release: str,
    effective: date,
    title: str = "",
    fallback_layout: tuple[Layout, str] | None = None,
    fallback_noc: tuple[frozenset[str], str] | None = None,
    fallback_notes: Mapping[str, str] | None = None,
) -> tuple[Release, Layout]:
    """Parse one release from its files; returns it with the layout it was read with.

    ``fallback_layout`` serves a release without a layout file (2020 ships none);
    ``fallback_noc`` one without a NOC list (2026-01), as (codes, list name);
    ``fallback_notes`` one without processing notes (an ANWEB file added on its own).
    """
    from assistant.corpus.noc import parse_noc_bytes

    files = ReleaseFiles(paths)
    parts = read_release_parts(files)
    if parts["records"] is None:
        raise ParseError(f"release {release}: no alpha-numeric HCPCS file (HCPC*ANWEB*.txt) found")
    layout_text = ""
    if parts["layout"] is not None:
        layout_text = _text(files, parts["layout"])
        layout = parse_layout(layout_text, parts["layout"])
    elif fallback_layout is not None:
        layout, layout_text = fallback_layout
    else:
        raise ParseError(f"release {release}: no record layout file and none to fall back on")
    if parts["notes"]:
        notes = parse_notes(_text(files, parts["notes"]))
    else:
        notes = dict(fallback_notes or {})
    if parts["noc"] is not None:
        noc = parse_noc_bytes(files.read(parts["noc"]), parts["noc"])
        noc_name = parts["noc"]
    elif fallback_noc is not None:
        noc, noc_name = fallback_noc
    else:
        noc, noc_name = frozenset(), ""
    data = files.read(parts["records"])
    codes, modifiers, _disclaimer = parse_records(
        data, parts["records"], release, layout, notes, noc
    )
    readme = _text(files, parts["readme"]) if parts["readme"] else ""
    return Release(
        id=release,
        effective=effective,
        title=title or release_label(release),
        codes=codes,
        modifiers=modifiers,
        layout_name=layout.name,
        noc_list=noc_name,
        noc_codes=noc,
        notes=notes,
        readme=readme,
        layout_text=layout_text,
    ), layout
