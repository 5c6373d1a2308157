"""Property tests for the fixed-width release parser: records written by the fixture writer come
back field for field, and no input, however mangled, escapes as anything but a ParseError."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from assistant.corpus.release import (
    ENCODING,
    FIELDS,
    RECORD_LENGTH,
    Layout,
    parse_layout,
    parse_notes,
    parse_records,
)
from assistant.errors import HcpcsError, ParseError
from assistant.records import CodeRecord
from tests.fixture_corpus import NOTES, RECORDS, layout_text, record

LAYOUT = parse_layout(layout_text(), "layout.txt")
NOTE_TEXTS = parse_notes(NOTES)
RELEASE = "2099-01"

# No example database: nothing is written into the working tree, and every run is fresh.
PROPERTY = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Every character cp1252 can encode, and the visible ones among them (no space of any kind).
CP1252 = bytes(range(256)).decode(ENCODING, errors="ignore")
VISIBLE = "".join(c for c in CP1252 if c.isprintable() and not c.isspace())
# What a field mangled by hand or by a bad export may hold: digits and look-alikes (the
# superscripts pass str.isdigit() but not int()), signs, blanks, letters, a tab, a no-break
# space, a NUL, the odd non-ASCII character.
GARBAGE = "0123456789 +-_.,/*AZaz09¹²³\t\xa0\x00€™é½"
# Garbage that nearly passes for a number or a date: digits, their look-alikes and blanks.
number_like = st.text(st.sampled_from("0123456789 ¹²³½"), min_size=1, max_size=8)


# ------------------------------------------------------------------------------ strategies

UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
codes = st.builds("{}{:04d}".format, st.sampled_from(UPPER), st.integers(0, 9999))
modifiers = st.text(UPPER + "0123456789", min_size=2, max_size=2)
note_numbers = st.integers(0, 9999).map("{:04d}".format)

word = st.text(VISIBLE, min_size=1, max_size=12) | st.text(VISIBLE, min_size=13, max_size=80)


# Descriptor text as CMS writes it: words of visible characters between single spaces, long
# enough to need several continuation records.
def long_description(max_words: int) -> st.SearchStrategy[str]:
    return st.lists(word, min_size=1, max_size=max_words).map(" ".join)


short_description = st.text(VISIBLE + " ", min_size=1, max_size=28).map(str.strip).filter(bool)
# A date field: a real date, or blank / all zeros (both mean "no date").
date_field = st.one_of(
    st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)).map(
        lambda d: (d.isoformat().replace("-", ""), d)
    ),
    st.sampled_from([("", None), ("00000000", None), ("        ", None)]),
)


def coded(key: str, width: int = 1, blank: bool = True) -> st.SearchStrategy[str]:
    """A value of a coded field: one the layout defines, an unknown one, or blank."""
    known = sorted(LAYOUT.codes.get(key, {}))
    values = st.text(VISIBLE, min_size=1, max_size=width)
    if known:
        values = st.sampled_from(known) | values
    return values | st.just("") if blank else values


def plain(key: str, min_size: int = 0) -> st.SearchStrategy[str]:
    """A free-form field value: visible characters filling at most the field's width."""
    _name, beg, end, _occ = FIELDS[key]
    return st.text(VISIBLE, min_size=min_size, max_size=end - beg + 1)


def occurrences(key: str, values: st.SearchStrategy[str]) -> st.SearchStrategy[list[str]]:
    """One value per occurrence of a repeated field, blanks anywhere among them."""
    occurs = FIELDS[key][3]
    return st.lists(values | st.just(""), min_size=occurs, max_size=occurs)


# The fields the fixture writer sets itself; the round trip writes all the others over its line.
WRITER_FIELDS = {"code", "sequence", "record_id", "long_description", "short_description"} | {
    "coverage",
    "note",
    "add_date",
    "action_date",
    "termination_date",
    "action",
}
DATE_FIELDS = ("asc_date", "opps_date", "add_date", "action_date", "termination_date")


@dataclass(frozen=True)
class Spec:
    """One record to write, and the dates its date fields must parse back to."""

    code: str
    modifier: bool
    seq: int
    long: str
    short: str
    fields: dict[str, str | list[str]]  # field key -> value (one per occurrence if repeated)
    dates: dict[str, date | None]  # date field key -> the date it holds

    def lines(self) -> list[str]:
        """The record's lines: the fixture writer's, with the fields it does not write added."""
        f = self.fields
        lines = record(
            self.code,
            self.long,
            self.short,
            modifier=self.modifier,
            seq=self.seq,
            coverage=f["coverage"],
            note=f["note"],
            add=f["add_date"],
            action_date=f["action_date"],
            term=f["termination_date"],
            action=f["action"],
        )
        first = lines[0]
        for key, value in f.items():
            if key not in WRITER_FIELDS:
                first = _put(first, key, [value] if isinstance(value, str) else value)
        return [first, *lines[1:]]

    def expected(self, noc: frozenset[str]) -> CodeRecord:
        """The record the parser must return, spelled out field by field."""
        f = {k: v.strip() if isinstance(v, str) else v for k, v in self.fields.items()}

        def many(key: str) -> tuple[str, ...]:
            return tuple(v for v in f[key] if v)

        def meaning(key: str, value: str) -> str:
            return LAYOUT.meaning(key, value) if value else ""

        return CodeRecord(
            code=self.code,
            kind="modifier" if self.modifier else "code",
            release=RELEASE,
            long_description=self.long,
            short_description=self.short,
            pricing_indicators=many("pricing"),
            pricing_meanings=tuple(meaning("pricing", p) for p in many("pricing")),
            multiple_pricing_indicator=f["multiple_pricing"],
            multiple_pricing_meaning=meaning("multiple_pricing", f["multiple_pricing"]),
            cim_references=many("cim"),
            mcm_references=many("mcm"),
            statute=f["statute"],
            lab_certifications=many("lab_cert"),
            lab_certification_meanings=tuple(meaning("lab_cert", v) for v in many("lab_cert")),
            cross_references=many("xref"),
            coverage_code=f["coverage"],
            coverage_meaning=meaning("coverage", f["coverage"]),
            asc_group=f["asc_group"],
            asc_effective_date=self.dates["asc_date"],
            opps_payment_group=f["opps_group"],
            opps_policy_indicator=f["opps_indicator"],
            opps_policy_meaning=meaning("opps_indicator", f["opps_indicator"]),
            opps_effective_date=self.dates["opps_date"],
            processing_note_number=f["note"],
            processing_note=NOTE_TEXTS.get(f["note"], ""),
            betos=f["betos"],
            types_of_service=many("tos"),
            anesthesia_base_units=int(f["anesthesia"]) if f["anesthesia"] else None,
            add_date=self.dates["add_date"],
            action_effective_date=self.dates["action_date"],
            termination_date=self.dates["termination_date"],
            action_code=f["action"],
            action_meaning=meaning("action", f["action"]),
            noc=not self.modifier and self.code in noc,
        )


def _put(line: str, key: str, values: list[str]) -> str:
    """``line`` with ``values`` written into the columns of field ``key``, one per occurrence."""
    _name, beg, end, occurs = FIELDS[key]
    width = end - beg + 1
    line = line.ljust(beg - 1 + width * occurs)
    for n, value in enumerate(values[:occurs]):
        start = beg - 1 + n * width
        line = line[:start] + value[:width].ljust(width) + line[start + width :]
    return line


# Built once: strategies made inside a composite are rebuilt (and re-validated) on every draw.
FIELD_VALUES = st.fixed_dictionaries(
    {
        "coverage": coded("coverage"),
        "note": st.sampled_from(["", "0013"]) | note_numbers,
        "action": coded("action"),
        "pricing": occurrences("pricing", coded("pricing", 2, blank=False)),
        "multiple_pricing": coded("multiple_pricing"),
        "cim": occurrences("cim", plain("cim", 1)),
        "mcm": occurrences("mcm", plain("mcm", 1)),
        "statute": plain("statute"),
        "lab_cert": occurrences("lab_cert", coded("lab_cert", 3, blank=False)),
        "xref": occurrences("xref", codes),
        "asc_group": plain("asc_group"),
        "opps_group": plain("opps_group"),
        "opps_indicator": coded("opps_indicator"),
        "betos": plain("betos"),
        "tos": occurrences("tos", plain("tos", 1)),
        "anesthesia": st.integers(0, 999).map(str) | st.just(""),
    }
)
DATE_VALUES = st.fixed_dictionaries({key: date_field for key in DATE_FIELDS})
DESCRIPTIONS = {n: long_description(n) for n in (3, 15, 40)}
SEQUENCES = st.integers(1, 999)


@st.composite
def specs(draw, modifier: bool, code: str, max_words: int = 40) -> Spec:
    fields: dict[str, str | list[str]] = draw(FIELD_VALUES)
    dates = {}
    for key, (written, value) in draw(DATE_VALUES).items():
        fields[key], dates[key] = written, value
    return Spec(
        code=code,
        modifier=modifier,
        seq=draw(SEQUENCES),
        long=draw(DESCRIPTIONS[max_words]),
        short=draw(short_description),
        fields=fields,
        dates=dates,
    )


@st.composite
def release_files(draw, max_records: int = 5, max_words: int = 40):
    """Records with unique codes (modifiers apart), in any order, and the file's lines."""
    code_list = draw(st.lists(codes, max_size=max_records, unique=True))
    modifier_list = draw(st.lists(modifiers, max_size=min(2, max_records), unique=True))
    keys = [(c, False) for c in code_list] + [(m, True) for m in modifier_list]
    if not keys:
        keys = [(draw(codes), False)]
    keys = draw(st.permutations(keys))
    spec_list = [draw(specs(modifier, code, max_words)) for code, modifier in keys]
    return spec_list, [ln for s in spec_list for ln in s.lines()]


def _parse(lines: list[str], header=(), newline: str = "\r\n", noc=frozenset()):
    data = newline.join([*header, *lines, ""]).encode(ENCODING)
    return parse_records(data, "test.txt", RELEASE, LAYOUT, NOTE_TEXTS, noc)


# ------------------------------------------------------------------------------ round trip

# A disclaimer line before the records: no digits (so never a record), blanks around it.
header_line = st.builds(
    "{}{}{}".format,
    st.text(" ", max_size=3),
    st.text(st.characters(codec=ENCODING, exclude_categories=["Cc", "Nd"]), max_size=120),
    st.text(" ", max_size=3),
)


@PROPERTY
@given(
    release_files(),
    st.lists(header_line, max_size=3),
    st.sampled_from(["\r\n", "\n"]),
    st.booleans(),
    st.integers(0, 40),
    st.data(),
)
def test_written_records_parse_back_field_for_field(
    files, header, newline, trim_continuations, pad, data
):
    spec_list, lines = files
    # The 2020 file right-trims its continuation lines; some files pad lines past column 320.
    if trim_continuations:
        lines = [ln.rstrip() if ln[10] in "48" else ln for ln in lines]
    lines = [ln + " " * pad for ln in lines]
    # A NOC list naming some of the codes (and never a modifier).
    code_list = [s.code for s in spec_list if not s.modifier]
    noc = frozenset(data.draw(st.sets(st.sampled_from(code_list)))) if code_list else frozenset()

    got_codes, got_modifiers, got_header = _parse(lines, header, newline, noc)

    want = {(s.modifier, s.code): s.expected(noc) for s in spec_list}
    got = {(False, c): r for c, r in got_codes.items()} | {
        (True, m): r for m, r in got_modifiers.items()
    }
    assert got.keys() == want.keys()
    for key, expected in want.items():
        assert got[key] == expected
    assert got_header == "\n".join(h.strip() for h in header if h.strip())


@settings(max_examples=10, deadline=None, database=None)
@given(specs(False, "E0601"))
def test_the_round_trip_writes_every_field(spec):
    """The round trip is only as strong as its writer: every field of the layout is written."""
    assert set(spec.fields) | WRITER_FIELDS == set(FIELDS)
    assert all(len(ln) == RECORD_LENGTH for ln in spec.lines())


note_line = (
    st.lists(st.text(VISIBLE, min_size=1, max_size=15), min_size=1, max_size=6)
    .map(" ".join)
    .filter(lambda s: not (s[:4].isdigit() and s[4:6] == "--"))
    # A "*" closing a line is the right margin (some lines have none), never text.
    .filter(lambda s: not s.endswith("*"))
)


@PROPERTY
@given(
    st.dictionaries(
        note_numbers,
        st.lists(note_line, min_size=1, max_size=4),
        max_size=5,
    ),
    # How CMS indents a continuation line: spaces in the older notes, tabs in the newer.
    st.sampled_from([" " * 16, "\t\t", "\t \t", "\t" + " " * 12, "\t    \t"]),
    st.sampled_from(["*", "\t   *", "\t\t", ""]),
)
def test_processing_notes_parse_back(notes, indent, margin):
    out = ["                                        PROCESSING NOTES", ""]
    for number, lines in notes.items():
        out.append(f"          {number}--{lines[0]}".ljust(84) + margin)
        out += [f"{indent}{ln}".ljust(84) + margin for ln in lines[1:]]
        out.append(" " * 84 + "*")
    parsed = parse_notes("\r\n".join(out))
    assert parsed == {n: " ".join(lines) for n, lines in notes.items()}


# ------------------------------------------------------------------------------ never crash


def _parses_or_refuses(data: bytes) -> None:
    """parse_records either returns well-formed records or raises ParseError: nothing else."""
    try:
        got_codes, got_modifiers, header = parse_records(
            data, "test.txt", RELEASE, LAYOUT, NOTE_TEXTS
        )
    except ParseError as exc:
        assert isinstance(exc, HcpcsError)
        assert str(exc).startswith("test.txt") and "\n" not in str(exc)
        return
    assert got_codes or got_modifiers
    assert isinstance(header, str)
    for code, rec in got_codes.items():
        assert rec.code == code and rec.kind == "code" and len(code) == 5
    for code, rec in got_modifiers.items():
        assert rec.code == code and rec.kind == "modifier" and len(code) == 2


@PROPERTY
@given(st.binary(max_size=3000))
def test_random_bytes_parse_or_raise_parse_error(data):
    _parses_or_refuses(data)


@PROPERTY
@given(
    st.lists(
        st.text(st.sampled_from(CP1252), max_size=400)
        | st.builds(
            lambda code, rest: code + rest,
            st.from_regex(r"(?:[A-Z][0-9]{4}|   [A-Z0-9]{2})[0-9]{5}[3478]", fullmatch=True),
            st.text(st.sampled_from(CP1252), max_size=330),
        ),
        max_size=8,
    ),
    st.sampled_from(["\r\n", "\n", "\r"]),
)
def test_random_lines_parse_or_raise_parse_error(lines, newline):
    _parses_or_refuses(newline.join(lines).encode(ENCODING))


mutation = st.one_of(
    # (line, field, garbage): overwrite one field of one line with garbage of its width
    st.tuples(
        st.just("field"),
        st.integers(0, 50),
        st.sampled_from(sorted(FIELDS)),
        st.text(st.sampled_from(GARBAGE), max_size=10),
    ),
    st.tuples(st.just("truncate"), st.integers(0, 50), st.integers(0, RECORD_LENGTH + 5)),
    st.tuples(st.just("delete"), st.integers(0, 50)),
    st.tuples(st.just("duplicate"), st.integers(0, 50)),
    st.tuples(st.just("record_id"), st.integers(0, 50), st.sampled_from("012345678 X")),
    st.tuples(st.just("insert"), st.integers(0, 50), st.text(st.sampled_from(CP1252))),
)


def _mutate(lines: list[str], step: tuple) -> list[str]:
    if not lines:
        return lines
    lines = list(lines)
    kind, n = step[0], step[1] % len(lines)
    if kind == "field":  # fields are read from a record's first line: mangle one of those
        firsts = [i for i, ln in enumerate(lines) if ln[10:11] in ("3", "7")] or [n]
        n = firsts[step[1] % len(firsts)]
    line = lines[n]
    if kind == "field":
        lines[n] = _put(line, step[2], [step[3]] * FIELDS[step[2]][3])
    elif kind == "truncate":
        lines[n] = line[: step[2]]
    elif kind == "delete":
        del lines[n]
    elif kind == "duplicate":
        lines.insert(n, line)
    elif kind == "record_id":
        lines[n] = line[:10] + step[2] + line[11:]
    elif kind == "insert":
        lines.insert(n, step[2])
    return lines


@PROPERTY
@given(release_files(max_records=3, max_words=15), st.lists(mutation, min_size=1, max_size=4))
def test_mangled_records_parse_or_raise_parse_error(files, steps):
    _spec_list, lines = files
    for step in steps:
        lines = _mutate(lines, step)
    _parses_or_refuses("\r\n".join(lines).encode(ENCODING))


@settings(PROPERTY, max_examples=100)
@given(release_files(max_records=2, max_words=3), st.integers(0, 50), st.integers(11, 292))
def test_a_truncated_record_is_refused(files, which, keep):
    """A first line cut short of the action code is a ParseError, never a record of blanks."""
    _spec_list, lines = files
    firsts = [i for i, ln in enumerate(lines) if ln[10] in "37"]
    n = firsts[which % len(firsts)]
    lines = [*lines[:n], lines[n][:keep], *lines[n + 1 :]]
    with pytest.raises(ParseError, match=f"line {n + 1} is a truncated record"):
        _parse(lines)


DATE_ATTRIBUTES = {
    "asc_date": "asc_effective_date",
    "opps_date": "opps_effective_date",
    "add_date": "add_date",
    "action_date": "action_effective_date",
    "termination_date": "termination_date",
}

TEXT_ATTRIBUTES = {
    "long_description": "long_description",
    "short_description": "short_description",
    "pricing": "pricing_indicators",
    "multiple_pricing": "multiple_pricing_indicator",
    "cim": "cim_references",
    "mcm": "mcm_references",
    "statute": "statute",
    "lab_cert": "lab_certifications",
    "xref": "cross_references",
    "coverage": "coverage_code",
    "asc_group": "asc_group",
    "opps_group": "opps_payment_group",
    "opps_indicator": "opps_policy_indicator",
    "note": "processing_note_number",
    "betos": "betos",
    "tos": "types_of_service",
    "action": "action_code",
}


@pytest.mark.parametrize("key", sorted(FIELDS))
@settings(PROPERTY, max_examples=40)
@given(garbage=st.text(st.sampled_from(GARBAGE), max_size=10) | number_like)
@example(garbage="20231399")
def test_garbage_in_any_field_is_read_or_refused(key, garbage):
    """Garbage in one field of a record: a ParseError, or that field read sensibly."""
    lines = _mutate(RECORDS, ("field", 0, key, garbage))
    try:
        codes, modifiers, _h = _parse(lines)
    except ParseError as exc:
        assert str(exc).startswith("test.txt") and "\n" not in str(exc)
        if key in DATE_FIELDS:
            assert "bad date" in str(exc) and "test.txt: line 1:" in str(exc)
        return
    assert codes or modifiers
    if key in ("code", "sequence", "record_id"):
        return  # the line may now be a header line or another kind of record
    rec = (codes if lines[0][10] == "3" else modifiers)[lines[0][:5].strip()]
    width = FIELDS[key][2] - FIELDS[key][1] + 1
    written = garbage[:width].strip()
    if key in DATE_FIELDS:
        value = getattr(rec, DATE_ATTRIBUTES[key])
        assert value is None or isinstance(value, date)
        if len(written) == 8 and written.isascii() and written.isdigit() and set(written) != {"0"}:
            assert value == date(int(written[:4]), int(written[4:6]), int(written[6:]))
    elif key == "anesthesia":
        plain_number = written.isascii() and written.isdigit()
        assert rec.anesthesia_base_units == (int(written) if plain_number else None)
    elif FIELDS[key][3] > 1:  # written into every occurrence: read back once per occurrence
        assert getattr(rec, TEXT_ATTRIBUTES[key]) == (
            (written,) * FIELDS[key][3] if written else ()
        )
    else:
        assert getattr(rec, TEXT_ATTRIBUTES[key]) == written


@PROPERTY
@given(
    st.lists(
        st.tuples(st.integers(0, 10_000), st.integers(0, 40), st.text(max_size=40)),
        min_size=1,
        max_size=6,
    )
)
def test_mangled_layout_is_read_or_refused(edits):
    """A damaged record layout file gives a Layout or a ParseError, never another exception."""
    text = layout_text()
    for at, drop, insert in edits:
        at %= len(text)
        text = text[:at] + insert + text[at + drop :]
    try:
        layout = parse_layout(text, "mangled.txt")
    except ParseError as exc:
        assert "mangled.txt" in str(exc)
        return
    assert isinstance(layout, Layout)
    assert layout.positions == {k: (v[1], v[2]) for k, v in FIELDS.items()}


@pytest.mark.parametrize("units", ["²", "1²", "³  ", "¹00", "½"])
def test_superscript_digits_in_anesthesia_units_are_not_a_number(units):
    """Found by the garbage property: "²".isdigit() is true, yet int("²") raises ValueError."""
    lines = record("E0601", "Continuous positive airway pressure (cpap) device")
    codes, _m, _h = _parse(_mutate(lines, ("field", 0, "anesthesia", units)))
    assert codes["E0601"].anesthesia_base_units is None
