"""A next-quarter CMS file made from a release's own record lines, for the rebuild benchmark
and the tests of `hcpcs corpus add`.

CMS publishes a quarter as the whole fixed-width file again with some records changed: codes
added (action A), terminated (D, termination date the day before the quarter), reinstated
(R), descriptors revised (C), each with the quarter's first day as its action-effective date.
``next_quarter`` applies such a plan to the lines of an existing ANWEB file; every other line
is kept byte for byte.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from datetime import date, timedelta

from assistant.corpus.release import ENCODING, FIELDS, RECORD_LENGTH

MONTHS = {1: "JAN", 4: "APR", 7: "JUL", 10: "OCT"}
_WORDS = {1: "january", 4: "april", 7: "july", 10: "october"}


@dataclass(frozen=True)
class QuarterPlan:
    """What the next quarter changes. ``added``: (code, long descriptor, short descriptor);
    ``revised``: (code, new long descriptor); ``short_revised``: (code, new short descriptor);
    ``coverage``: (code, new coverage code)."""

    release: str  # "2026-04"
    added: tuple[tuple[str, str, str], ...] = ()
    terminated: tuple[str, ...] = ()
    reinstated: tuple[str, ...] = ()
    revised: tuple[tuple[str, str], ...] = ()
    short_revised: tuple[tuple[str, str], ...] = ()
    coverage: tuple[tuple[str, str], ...] = ()

    @property
    def start(self) -> date:
        return date(int(self.release[:4]), int(self.release[5:7]), 1)

    @property
    def records_name(self) -> str:
        """An inner name as CMS drifts them: a ``_v2`` and a posting date after ANWEB."""
        posted = self.start - timedelta(days=20)
        return f"HCPC{self.start.year}_{MONTHS[self.start.month]}_ANWEB_v2_{posted:%m%d%Y}.txt"

    @property
    def zip_name(self) -> str:
        return f"{_WORDS[self.start.month]}-{self.start.year}-alpha-numeric-hcpcs-file.zip"


def _put(line: list[str], key: str, value: str) -> None:
    _name, beg, end, _occ = FIELDS[key]
    width = end - beg + 1
    line[beg - 1 : end] = list(value[:width].ljust(width))


def _wrap(text: str, width: int = 80) -> list[str]:
    chunks: list[str] = []
    current = ""
    for word in text.split():
        if current and len(current) + 1 + len(word) > width:
            chunks.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    chunks.append(current)
    return chunks


def _group(lines: list[str]) -> tuple[list[str], list[list[str]]]:
    """Header lines, then each record's lines (first line and its continuation lines)."""
    header: list[str] = []
    groups: list[list[str]] = []
    record = re.compile(r"^(?:[A-Z][0-9]{4}|   [A-Z0-9]{2})\d{5}[3478]")
    for line in lines:
        if not line.strip():
            continue
        if not record.match(line):
            if groups:
                raise ValueError(f"not a record line: {line[:40]!r}")
            header.append(line)
            continue
        if line[10] in "37":
            groups.append([line])
        else:
            groups[-1].append(line)
    return header, groups


def _lines(first: str, long: str, key: str, ids: str) -> list[str]:
    """A record's first line with ``long`` in it, and continuation lines for the rest."""
    chunks = _wrap(long)
    line = list(first.ljust(RECORD_LENGTH)[:RECORD_LENGTH])
    _put(line, "long_description", chunks[0])
    out = ["".join(line)]
    for n, chunk in enumerate(chunks[1:], 2):
        out.append(f"{key}{n:03d}00{ids[1]}{chunk.ljust(80)}".ljust(RECORD_LENGTH))
    return out


def next_quarter(data: bytes, plan: QuarterPlan) -> bytes:
    """The records of ``data`` (an ANWEB file) with ``plan`` applied, as CMS would ship them."""
    header, groups = _group(data.decode(ENCODING).replace("\r\n", "\n").split("\n"))
    start = plan.start.strftime("%Y%m%d")
    end = (plan.start - timedelta(days=1)).strftime("%Y%m%d")
    terminated, reinstated = set(plan.terminated), set(plan.reinstated)
    revised, short, coverage = dict(plan.revised), dict(plan.short_revised), dict(plan.coverage)
    by_code = {g[0][:5].strip(): g for g in groups if g[0][10] == "3"}
    for code in (*terminated, *reinstated, *revised, *short, *coverage):
        if code not in by_code:
            raise ValueError(f"{code} is not in the file")
    out: dict[str, list[str]] = {}
    for group in groups:
        code = group[0][:5].strip()
        key = group[0][:5]
        if group[0][10] != "3":
            out[key] = group
            continue
        first = list(group[0].ljust(RECORD_LENGTH)[:RECORD_LENGTH])
        action = ""
        if code in terminated:
            _put(first, "termination_date", end)
            action = "D"
        elif code in reinstated:
            _put(first, "termination_date", "")
            action = "R"
        if code in short:
            _put(first, "short_description", short[code])
            action = action or "S"
        if code in coverage:
            _put(first, "coverage", coverage[code])
            action = action or "F"
        if code in revised:
            action = action or "C"
            lines = _lines("".join(first), revised[code], key, "34")
        else:
            lines = ["".join(first), *group[1:]]
        if action:
            line = list(lines[0])
            _put(line, "action", action)
            _put(line, "action_date", start)
            lines[0] = "".join(line)
        out[key] = lines
    template = next(g[0] for g in groups if g[0][10] == "3")
    for code, long, short in plan.added:
        if code in by_code:
            raise ValueError(f"{code} is already in the file")
        line = [" "] * RECORD_LENGTH
        line[:11] = list(f"{code}00100" + "3")
        for field in ("pricing", "coverage", "betos", "tos"):
            _name, beg, end_col, occ = FIELDS[field]
            span = (end_col - beg + 1) * occ
            line[beg - 1 : beg - 1 + span] = list(template[beg - 1 : beg - 1 + span])
        _put(line, "short_description", short)
        _put(line, "add_date", start)
        _put(line, "action_date", start)
        _put(line, "action", "A")
        out[code] = _lines("".join(line), long, code, "34")
    records = [ln for key in sorted(out, key=lambda k: (k.startswith(" "), k)) for ln in out[key]]
    return ("\r\n".join([*header, *records]) + "\r\n").encode(ENCODING)


def quarter_zip(records: bytes, plan: QuarterPlan, extra: dict[str, bytes] | None = None) -> bytes:
    """A zip shaped like CMS's quarterly one: the records under ``plan.records_name``, plus
    ``extra`` members (layout, notes)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(plan.records_name, records)
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return buf.getvalue()


def pick_plan(codes: dict, release: str, size: int = 40) -> QuarterPlan:
    """A plan of about the size of a real quarter, chosen deterministically from a release's
    records (code -> CodeRecord): ``size`` codes added to section J, ``size // 2`` terminated
    and as many descriptors revised, one code reinstated."""
    active = sorted(c for c, r in codes.items() if r.termination_date is None and c[0] == "J")
    ended = sorted(c for c, r in codes.items() if r.termination_date is not None)
    free = [f"J{n:04d}" for n in range(9999, 0, -1) if f"J{n:04d}" not in codes][:size]
    added = tuple(
        (code, f"Injection, benchmark drug {n}, 1 mg", f"Inj bench drug {n} 1 mg")
        for n, code in enumerate(sorted(free), 1)
    )
    step = max(1, len(active) // (size + 1))
    chosen = active[::step]
    half = size // 2
    terminated = tuple(chosen[:half])
    revised = tuple(
        (code, f"{codes[code].long_description}, revised this quarter")
        for code in chosen[half : 2 * half]
    )
    return QuarterPlan(release, added, terminated, tuple(ended[:1]), revised)
