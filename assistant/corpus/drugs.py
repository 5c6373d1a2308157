"""Parser for the CMS HCPCS Table of Drugs (PDF): drug name, unit, routes and codes.

The table is a Word document printed to PDF in four columns (drug name, unit per, route,
code). It is read in two stages so that the line logic can be tested without a PDF:

``extract_rows`` is geometry only. It takes each page's text chunks, placed by
``assistant.corpus.pdftext`` (the content-stream reader), groups them into visual rows by
baseline and into cells by the horizontal gaps between them, and renders each row as one
string:

- cells are separated by ``\\t``; the first field is the name column (empty when the row has
  no text there, e.g. ``"\\t10,000 units\\tIV, IM\\tJ9020"``);
- a name indented past the page's left margin starts with two spaces (sub-items such as
  ``"  (for esrd use)"`` or the brands listed under ``Immune globulin``);
- whitespace inside a cell is collapsed; the text is otherwise as printed.

``parse_rows`` is the line logic. It reads codes and routes from the right-hand cells, joins
names wrapped over several rows, gives a row without a name the name of the drug above it,
and splits ``see`` lines ("Adcetis, see Brentuximab Vedotin") from coded lines. A ``see``
entry carries the codes, unit and routes of the entries its target names.

The 2019 PDF has flaws that the parser handles on purpose, each by a general rule rather than
by naming the line: see lines reflowed so that one row ends with the next row's brand name
("Norflex, see Orphenadrine citrate Norzine," / "see Thiethylperazine maleate"); stray text
after a code that belongs to the next row ("J2353 25" / "mcg"); a unit printed flush against
the name ("concentrated form0.25 mg"); a code list continued on the next row; code ranges
("J0287-J0289", expanded to each code of the range). Text is kept as printed, so the
table's own misprints ("IVection" for "Injection", "Adcetis") stay.

The content-stream reader reads what this file uses (simple single-byte fonts drawn directly
in the page content); a table drawn otherwise would most likely give no coded rows, which
raises ParseError.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from pypdf import PdfReader

from assistant.corpus.pdftext import Chunk, page_chunks
from assistant.corpus.status import code_status
from assistant.errors import ParseError
from assistant.records import CODE_RE, CodeRecord, DrugEntry

# --- patterns -------------------------------------------------------------------------------

_CODE = CODE_RE
# One code, a range ("J0287-J0289", "J0287- J0289") or a run of them separated by commas.
_CODE_ITEM = rf"{_CODE}(?:\s*-\s*{_CODE})?"
_CODE_LIST = rf"{_CODE_ITEM}(?:\s*,\s*-?\s*{_CODE_ITEM})*\s*,?"
_CODE_CELL_RE = re.compile(rf"^(?P<pre>.*?)\s*(?P<codes>{_CODE_LIST})(?:\s+(?P<carry>\S.*))?$")
_CODE_ITEM_RE = re.compile(rf"({_CODE})(?:\s*-\s*({_CODE}))?")

# Routes as the table prints them; matched case-insensitively, kept as printed.
_ROUTE_WORDS = (
    "IV|IM|SC|SQ|IT|IA|INH|VAR|OTH|ORAL|epidural|intraocular|intravesical|intradermal"
    "|opthalmic|ophthalmic|topical|nasal|rectal|vaginal|transdermal|sublingual|buccal"
)
_ROUTES_RE = re.compile(rf"^(?:{_ROUTE_WORDS})(?:\s*,\s*(?:{_ROUTE_WORDS}))*,?$", re.IGNORECASE)
_ROUTES_TAIL_RE = re.compile(
    rf"^(?P<pre>.*?)\s+(?P<routes>(?:{_ROUTE_WORDS})(?:\s*,\s*(?:{_ROUTE_WORDS}))*)$",
    re.IGNORECASE,
)
_ROUTE_SPLIT_RE = re.compile(r"\s*,\s*")

# "Brand, see Generic"; the 2019 table also prints "Brand A10,@ see Generic" (lost quotes).
_SEE_RE = re.compile(r",\s*@?\s*see\s+", re.IGNORECASE)
_HEADING_RE = re.compile(r"^[A-Z]$")
_NOISE_RE = re.compile(r"^(?:\d+|(?:last\s+)?(?:updated|revised)\b.*)$", re.IGNORECASE)

# A unit printed at the end of a name cell that runs into the unit column.
_UNIT_TAIL_RE = re.compile(
    r"(?P<unit>(?:(?:per|up\s+to|each)\s+(?:[\d.,]+\s*)?|[\d.][\d.,]*\s*)"
    r"(?:mg|mcg|gm?|ml|cc|i\.?u\.?|units?|vials?|dose|microgram|millicurie|mci)\.?)\s*$",
    re.IGNORECASE,
)

# Text that makes a row the continuation of the row above.
_OPEN_END_RE = re.compile(r"(?:[,;/&-]|\b(?:see|and|or|of|with))$", re.IGNORECASE)

# Geometry, in PDF points (1/72 inch).
_ROW_TOLERANCE = 3.5  # baselines of one visual row differ by up to ~0.7 pt in this file
_CELL_GAP = 3.0  # words of a cell touch (their trailing space is part of the chunk)
_SPACE_GAP = 0.8  # chunks of one word touch within 0.3 pt; a gap this wide is a space
_NAME_COLUMN_END = 200.0  # a row whose first cell starts right of this has no name
_INDENT = 4.0  # first cell this far right of the page margin is indented
_UNIT_COLUMN_START = 308.0  # a name cell ending past this may hold the unit too
_MAX_RANGE = 50  # a printed code range longer than this is kept as its two ends


# --- rows and cells from placed text ------------------------------------------------------


def _rows_of_page(chunks: list[Chunk]) -> list[str]:
    """Group a page's chunks into rows and cells, and render each row as a tab-separated line."""
    visible = sorted((c for c in chunks if c.text.strip()), key=lambda c: (-c.y, c.x0))
    rows: list[list[Chunk]] = []
    for chunk in visible:
        if rows and abs(rows[-1][0].y - chunk.y) <= _ROW_TOLERANCE:
            rows[-1].append(chunk)
        else:
            rows.append([chunk])
    cell_rows: list[list[tuple[float, float, str]]] = []
    for row in rows:
        row.sort(key=lambda c: c.x0)
        cells: list[tuple[float, float, str]] = []
        for chunk in row:
            if cells and chunk.x0 - cells[-1][1] < _CELL_GAP:
                x0, x1, text = cells[-1]
                # Word draws most spaces as characters, but sometimes only as a gap between
                # two chunks ("sodium" | "succinate"); touching chunks join without one.
                spaced = text[-1:].isspace() or chunk.text[:1].isspace()
                joint = " " if chunk.x0 - x1 > _SPACE_GAP and not spaced else ""
                cells[-1] = (x0, max(x1, chunk.x1), text + joint + chunk.text)
            else:
                cells.append((chunk.x0, chunk.x1, chunk.text))
        cell_rows.append(cells)
    starts = [cells[0][0] for cells in cell_rows if cells[0][0] < _NAME_COLUMN_END]
    margin = min(starts) if starts else 0.0
    lines: list[str] = []
    for cells in cell_rows:
        texts = [" ".join(text.split()) for _, _, text in cells]
        if cells[0][0] >= _NAME_COLUMN_END:
            lines.append("\t" + "\t".join(texts))
            continue
        name, rest = texts[0], texts[1:]
        # A unit printed flush against a long name: split it off only when the name cell runs
        # into the unit column and the row has data, so names like "... tazobactam 25 mg"
        # that end well left of the column keep their text.
        if rest and cells[0][1] > _UNIT_COLUMN_START:
            match = _UNIT_TAIL_RE.search(name)
            if match and match.start() > 0:
                name = name[: match.start()].rstrip(" ,")
                rest = [match.group("unit"), *rest]
        indent = "  " if cells[0][0] - margin >= _INDENT else ""
        lines.append(indent + "\t".join([name, *rest]))
    return lines


def _read_pdf(path: Path) -> PdfReader:
    try:
        with path.open("rb") as handle:
            head = handle.read(1024)
    except OSError as exc:
        raise ParseError(f"cannot read Table of Drugs {path}: {exc.strerror or exc}") from exc
    if b"%PDF-" not in head:
        raise ParseError(f"Table of Drugs {path} is not a PDF file")
    try:
        return PdfReader(str(path))
    except Exception as exc:  # pypdf raises many types for damaged files
        raise ParseError(f"Table of Drugs {path} is a damaged PDF: {_one_line(exc)}") from exc


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]


def extract_rows(path: Path) -> list[str]:
    """Text rows of the Table of Drugs PDF, in reading order, as tab-separated cells.

    See the module docstring for the row format. Raises ParseError for a missing, non-PDF or
    damaged file; no pypdf exception escapes.
    """
    path = Path(path)
    reader = _read_pdf(path)
    rows: list[str] = []
    try:
        for page in reader.pages:
            rows.extend(_rows_of_page(page_chunks(page, reader)))
    except Exception as exc:  # a damaged stream can fail in pypdf or in our operand reads
        raise ParseError(f"Table of Drugs {path} is a damaged PDF: {_one_line(exc)}") from exc
    return rows


# --- row logic ------------------------------------------------------------------------------


@dataclass
class _Row:
    name: str
    indented: bool
    unit: str = ""
    routes: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()
    open_codes: bool = False  # the code list ends with a comma: it goes on in the next row

    @property
    def has_data(self) -> bool:
        return bool(self.unit or self.routes or self.codes)


@dataclass
class _Line:
    """One logical line of the table before see lines are split: coded or text only."""

    name: str
    unit: str = ""
    routes: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)
    open_codes: bool = False
    coded: bool = False  # printed with data columns (a drug line, even if no code)
    header: bool = False  # a text line whose children carry its name; not emitted itself


def _expand_codes(text: str) -> list[str]:
    """Codes of a printed code list, ranges expanded ("J0287-J0289" gives three codes)."""
    codes: list[str] = []
    for first, last in _CODE_ITEM_RE.findall(text):
        if last and first[0] == last[0] and 0 < int(last[1:]) - int(first[1:]) <= _MAX_RANGE:
            codes.extend(f"{first[0]}{n:04d}" for n in range(int(first[1:]), int(last[1:]) + 1))
        else:
            codes.extend(c for c in (first, last) if c)
    return list(dict.fromkeys(codes))


def _split_row(row: str) -> tuple[_Row, str]:
    """Read one row string into name and data columns; also return text left after the codes.

    Codes are read from the last cell, routes from the cell before (or the end of the code
    cell, where the PDF glued them), and the rest of the data cells make the unit.
    """
    fields = row.rstrip("\r\n").split("\t")
    first = fields[0]
    name = " ".join(first.split())
    indented = bool(name) and first[:1].isspace()
    cells = [" ".join(f.split()) for f in fields[1:]]
    cells = [c for c in cells if c]
    parsed = _Row(name=name, indented=indented)
    carry = ""
    codes_cell = -1
    if cells:
        match = _CODE_CELL_RE.match(cells[-1])
        if match:
            parsed.codes = tuple(_expand_codes(match.group("codes")))
            parsed.open_codes = match.group("codes").rstrip().endswith(",")
            carry = match.group("carry") or ""
            codes_cell = len(cells) - 1
            cells[-1] = match.group("pre").strip()
            if not cells[-1]:
                cells.pop()
                codes_cell = -1
    if cells:
        if _ROUTES_RE.match(cells[-1]):
            parsed.routes = _routes(cells.pop())
        elif codes_cell == len(cells) - 1:
            # The PDF glued unit, route and code into one cell ("0.1 mg IV J2326").
            match = _ROUTES_TAIL_RE.match(cells[-1])
            if match:
                parsed.routes = _routes(match.group("routes"))
                cells[-1] = match.group("pre").strip()
    parsed.unit = " ".join(c for c in cells if c)
    return parsed, carry


def _routes(text: str) -> tuple[str, ...]:
    return tuple(r for r in _ROUTE_SPLIT_RE.split(text.strip().rstrip(",")) if r)


def _parse_row_strings(rows: Iterable[str]) -> list[_Row]:
    """Rows read into columns, with stray text after a code moved to the start of the next row.

    The 2019 table prints "J2353 25" over "mcg" and "J9999 Not" over "otherwise classified
    drugs, ...": the text after the code is the beginning of the next row's first cell.
    """
    parsed: list[_Row] = []
    carry = ""
    for row in rows:
        if carry:
            fields = row.split("\t")
            for i, text in enumerate(fields):
                if text.strip():
                    lead = "  " if i == 0 and text[:1].isspace() else ""
                    fields[i] = f"{lead}{carry} {text.strip()}"
                    break
            else:
                fields[0] = carry
            row = "\t".join(fields)
        one, carry = _split_row(row)
        parsed.append(one)
    return parsed


def _continues_start(text: str) -> bool:
    """Whether a name starts like the rest of the line above it (lowercase, '&', '(', 'see')."""
    if not text:
        return False
    return text[0].islower() or text[0] in "&()" or text.lower().startswith("see ")


def _join(left: str, right: str) -> str:
    """Join wrapped text; a line ending in a hyphen ("Testoject-" / "50") joins without space."""
    if not left:
        return right
    if left.endswith("-") and not left.endswith(" -"):
        return left + right
    return f"{left} {right}"


def _sub_name(parent: str, child: str) -> str:
    """Name of an indented sub-item printed under a coded line ("(for esrd use)")."""
    # "Argatroban (for non-esrd use)" over "(for esrd use)": the child's qualifier replaces
    # the parent's, rather than stacking two contradictory ones.
    if child.startswith("(") and parent.endswith(")") and "(" in parent:
        return f"{parent[: parent.rfind('(')].rstrip()} {child}"
    return f"{parent} {child}"


def _group_lines(rows: list[_Row]) -> list[_Line]:
    """Turn rows into logical lines: wrapped names joined, sub-rows named, headers applied."""
    if any(_HEADING_RE.match(r.name) and not r.has_data for r in rows):
        # Skip the title page text (route legend, notes) before the first letter heading.
        first = next(i for i, r in enumerate(rows) if _HEADING_RE.match(r.name) and not r.has_data)
        rows = rows[first:]
    lines: list[_Line] = []
    prev: _Line | None = None  # the line the previous row went into
    parent: _Line | None = None  # the last coded line that is not a sub-row
    header: _Line | None = None  # a name-only line whose indented rows carry its name
    for row in rows:
        if not row.has_data:
            if not row.name or _NOISE_RE.match(row.name):
                continue
            if _HEADING_RE.match(row.name):
                prev = parent = header = None
                continue
            if prev is not None and (
                _OPEN_END_RE.search(prev.name) or _continues_start(row.name) or row.indented
            ):
                prev.name = _join(prev.name, row.name)
                continue
            prev = _Line(name=row.name)
            lines.append(prev)
            header = None if _SEE_RE.search(row.name) else prev
            continue

        if not row.name:
            if prev is not None and prev.coded and row.codes and not (row.unit or row.routes):
                if prev.open_codes or not prev.codes:
                    # "J7182, J7185, J7192," over "J7188": one code list on two rows.
                    prev.codes.extend(c for c in row.codes if c not in prev.codes)
                    prev.open_codes = row.open_codes
                    continue
            if not row.codes:
                if not row.routes and row.unit.isdigit():
                    continue  # a page number
                # Unit text wrapped onto a row of its own ("per vial" / "instillation").
                if prev is not None and prev.coded:
                    prev.unit = _join(prev.unit, row.unit) if row.unit else prev.unit
                    prev.routes.extend(r for r in row.routes if r not in prev.routes)
                continue
            if prev is not None and not prev.coded and prev is header and lines[-1] is prev:
                # A name printed alone above its data row ("Penicillin G benzathine and
                # penicillin G procaine" / "100,000 units IM J0558").
                lines.pop()
                name = prev.name
                header = None
            elif parent is not None:
                name = parent.name  # another unit or route of the drug above
            else:
                name = ""
            prev = _coded(name, row)
            lines.append(prev)
            continue

        if header is not None and (
            row.indented
            or _continues_start(row.name)
            # a header ending in "," wraps onto the row right below it, and only that one
            or (prev is header and _OPEN_END_RE.search(header.name))
        ):
            # The rows under a name-only line carry its name ("Immune globulin" / "Bivigam").
            header.header = True
            prev = _coded(_join(header.name, row.name), row)
            parent = prev
        elif parent is not None and row.indented and _continues_start(row.name):
            prev = _coded(_sub_name(parent.name, row.name), row)
        else:
            prev = parent = _coded(row.name, row)
            header = None
        lines.append(prev)
    return [line for line in lines if not line.header]


def _coded(name: str, row: _Row) -> _Line:
    return _Line(
        name=name,
        unit=row.unit,
        routes=list(row.routes),
        codes=list(row.codes),
        open_codes=row.open_codes,
        coded=True,
    )


# --- see lines ------------------------------------------------------------------------------


def _norm(text: str) -> str:
    """Matching key: case, punctuation and spacing ignored; codes in parentheses dropped.

    "&" reads "and"; "hydrochloride" and the misprint "HCI" read "HCl". Nothing
    looser: near-spellings are often other drugs ("Betamethasone" and "Dexamethasone sodium
    phosphate", "Methicillin" and "Ampicillin sodium"), so a misspelt target stays unresolved.
    """
    text = re.sub(rf"\(\s*{_CODE}\s*\)", " ", text)
    text = re.sub(r"\betc\b\.?", " ", text, flags=re.IGNORECASE)
    text = text.replace("&", " and ").casefold()
    text = re.sub(r"\b(?:hydrochloride|hci)\b", "hcl", text)
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text).split())


def _and_parts(key: str) -> frozenset[str]:
    """The parts of a normalised combination name ("a and b" gives {"a", "b"})."""
    return frozenset(p.strip() for p in key.split(" and ") if p.strip())


class _Index:
    """Coded lines by normalised name, for resolving see targets."""

    def __init__(self) -> None:
        self._by_key: dict[str, list[_Line]] = {}
        # The same without spaces: "Dimethylsulfoxide" is the table's "Dimethyl sulfoxide".
        self._by_solid: dict[str, list[_Line]] = {}
        # Combinations by their parts in any order: "Penicillin G procaine and penicillin G
        # benzathine" is the table's "Penicillin G benzathine and penicillin G procaine".
        self._by_parts: dict[frozenset[str], list[_Line]] = {}

    def add(self, line: _Line) -> None:
        key = _norm(line.name)
        if key:
            self._by_key.setdefault(key, []).append(line)
            self._by_solid.setdefault(key.replace(" ", ""), []).append(line)
            parts = _and_parts(key)
            if len(parts) > 1:
                self._by_parts.setdefault(parts, []).append(line)

    def exact(self, target: str) -> list[_Line]:
        key = _norm(target)
        found = self._by_key.get(key) or self._by_solid.get(key.replace(" ", "")) or []
        return list(found)

    def family(self, target: str) -> list[_Line]:
        """Lines whose name begins with the target ("Metaproterenol sulfate, unit dose form")."""
        key = _norm(target)
        if not key:
            return []
        return [ln for k, lines in self._by_key.items() if k.startswith(key + " ") for ln in lines]

    def resolve(self, target: str) -> list[_Line]:
        """The coded lines a see target names; [] when none.

        In order: the exact name; every line whose name begins with the target (a see to a
        drug printed in several forms, "Metaproterenol sulfate" for its concentrated and unit
        dose forms); then the alternatives of "A or B" and "A; B", any of which may resolve.
        "A and B" counts as two targets only when both resolve: "Testosterone enanthate and
        estradiol valerate" is one combined product, and must not take the codes of one part.
        """
        found = self.exact(target) or self.family(target)
        if found:
            return found
        parts_key = _and_parts(_norm(target))
        if len(parts_key) > 1 and parts_key in self._by_parts:
            return list(self._by_parts[parts_key])
        parts = [p for p in re.split(r";|,?\s+or\s+", target) if p.strip()]
        found = []
        for part in parts:
            part = re.sub(r"^\s*(?:and|or)\s+", "", part)
            lines = self.exact(part) or self.family(part)
            if not lines:
                pieces = [p for p in re.split(r",?\s+and\s+", part) if p.strip()]
                if len(pieces) > 1:
                    each = [self.exact(p) or self.family(p) for p in pieces]
                    lines = [ln for group in each for ln in group] if all(each) else []
            found.extend(lines)
        return _unique(found)


def _unique(lines: Iterable[_Line]) -> list[_Line]:
    seen: set[int] = set()
    out: list[_Line] = []
    for line in lines:
        if id(line) not in seen:
            seen.add(id(line))
            out.append(line)
    return out


def _split_target(text: str, index: _Index) -> tuple[str, str] | None:
    """Split "Orphenadrine citrate Norzine" into a target named exactly and the text after it.

    Only exact names count here: a looser match ("Testosterone" as the start of several
    names) would cut "Testosterone propionate Testoject-50" in the wrong place.
    """
    words = text.split()
    for cut in range(len(words) - 1, 0, -1):
        target = " ".join(words[:cut])
        if index.exact(target):
            return target, " ".join(words[cut:])
    return None


def _guess_split(text: str) -> tuple[str, str]:
    """Split target and following brand when the target is not in the table.

    The brand starts at the last capitalised word that follows a lowercase one
    ("Testosterone propionate Testoject-50"); failing that, it is the last word.
    """
    words = text.split()
    if len(words) < 2:
        return text, ""
    for i in range(len(words) - 1, 0, -1):
        if words[i][:1].isupper() and words[i - 1][:1].islower():
            return " ".join(words[:i]), " ".join(words[i:])
    return " ".join(words[:-1]), words[-1]


@dataclass
class _See:
    name: str
    target: str


def _split_see_text(text: str, index: _Index, trailing: bool) -> tuple[list[_See], str]:
    """See entries of a line holding one or more "Brand, see Target" runs.

    Reflowed lines hold several runs in one text ("Nplate, see Romiplostim Nubain, see
    Nalbuphine HCl ..."): each middle part is a target followed by the next brand. When
    ``trailing`` the line's own data row follows the last target (a coded line printed on the
    same row), and the text after the last target is returned as that line's name. Otherwise
    it is returned only when it looks like the start of the next line's brand.
    """
    parts = _SEE_RE.split(text)
    names = [parts[0].strip()]
    targets: list[str] = []
    for middle in parts[1:-1]:
        split = _split_target(middle, index) or _guess_split(middle)
        targets.append(split[0])
        names.append(split[1])
    last = parts[-1].strip()
    target, rest = last, ""
    if index.resolve(last):
        # The whole text is the target. Data printed on a see line's row is a misprint and
        # is dropped (the 2019 table has "Cimzia, see Certolizumab pegol  ORAL  Q4079").
        pass
    elif trailing:
        target, rest = _split_target(last, index) or _guess_split(last)
    else:
        split = _split_target(last, index)
        if split and split[1][:1].isupper():
            target, rest = split
    targets.append(target)
    return [_See(n, t) for n, t in zip(names, targets, strict=True)], rest


def parse_rows(rows: list[str], source_id: str) -> list[DrugEntry]:
    """Drug entries (coded lines and see lines) from text rows, in table order.

    ``rows`` are tab-separated as ``extract_rows`` gives them. A see entry's codes, unit and
    routes are those of every coded line its target names (see ``_Index.resolve``); a target
    that names none leaves the see entry with empty codes.
    """
    lines = _group_lines(_parse_row_strings(rows))
    index = _Index()
    for line in lines:
        if line.coded and not _SEE_RE.search(line.name):
            index.add(line)

    # Split see text into entries, in table order: coded lines, text-only lines and sees.
    items: list[_Line | _See] = []
    pending = ""  # brand text that a reflowed see line pushed onto the next line
    for line in lines:
        name = _join(pending, line.name) if pending else line.name
        pending = ""
        if not _SEE_RE.search(name):
            line.name = name
            items.append(line)
            continue
        sees, rest = _split_see_text(name, index, trailing=line.coded)
        items.extend(sees)
        if line.coded and rest:
            line.name = rest
            index.add(line)
            items.append(line)
        elif not line.coded:
            pending = rest

    sees_by_name: dict[str, list[_See]] = {}
    for item in items:
        if isinstance(item, _See):
            sees_by_name.setdefault(_norm(item.name), []).append(item)

    entries: list[DrugEntry] = []
    for item in items:
        number = len(entries) + 1
        if isinstance(item, _See):
            targets = _resolve_see(item.target, index, sees_by_name, set())
            entries.append(_see_entry(item, targets, source_id, number))
        else:
            entries.append(
                DrugEntry(
                    name=item.name,
                    unit=item.unit,
                    routes=tuple(item.routes),
                    codes=tuple(item.codes),
                    source=source_id,
                    line=number,
                )
            )
    return entries


def _resolve_see(
    target: str, index: _Index, sees_by_name: dict[str, list[_See]], seen: set[str]
) -> list[_Line]:
    """Coded lines for a see target, following a see to another see line.

    ("Chealamide, see Endrate ethylenediamine-tetra-acetic acid", which is itself
    "Endrate ..., see Edetate disodium").
    """
    found = index.resolve(target)
    key = _norm(target)
    if found or key in seen:
        return found
    seen.add(key)
    for see in sees_by_name.get(key, []):
        found.extend(_resolve_see(see.target, index, sees_by_name, seen))
    return _unique(found)


def _see_entry(see: _See, targets: list[_Line], source_id: str, number: int) -> DrugEntry:
    codes = list(dict.fromkeys(c for t in targets for c in t.codes))
    routes = list(dict.fromkeys(r for t in targets for r in t.routes))
    units = list(dict.fromkeys(t.unit for t in targets if t.unit))
    return DrugEntry(
        name=see.name,
        unit="; ".join(units),
        routes=tuple(routes),
        codes=tuple(codes),
        source=source_id,
        line=number,
        see=see.target,
    )


def parse_table_of_drugs(path: Path, source_id: str) -> list[DrugEntry]:
    """Parse the CMS Table of Drugs PDF into drug entries, see lines resolved.

    Raises ParseError for a file that is not a readable PDF or holds no table rows.
    """
    path = Path(path)
    entries = parse_rows(extract_rows(path), source_id)
    if not any(e.codes and not e.see for e in entries):
        raise ParseError(f"Table of Drugs {path} has no recognisable table rows")
    return entries


def mark_codes(entries: Iterable[DrugEntry], records: Mapping[str, CodeRecord]) -> list[DrugEntry]:
    """Entries with ``code_status`` set for each code against one release's records.

    Entries whose codes are absent from the release or terminated in it are kept, marked so.
    """
    return [
        replace(e, code_status=tuple(code_status(c, records) for c in e.codes)) for e in entries
    ]
