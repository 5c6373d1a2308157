"""Fingerprints that verify a file by what it says rather than by its bytes.

A CMS file downloaded again may differ in bytes from the copy whose sha256 the manifest pins
(CRLF or LF, blanks trimmed at line ends, a trailing blank line) and still hold the same
records. Two fingerprints, each a versioned sha256:

- ``records-1:<hex>`` over the records of a fixed-width alpha-numeric HCPCS file, parsed
  without layout, notes or NOC list (so only the file's own fields count) and serialised in
  code order;
- ``text-1:<hex>`` over a text file's lines with line endings unified and trailing blanks and
  blank lines at the end removed (record layouts, processing notes, CSV files).
"""

from __future__ import annotations

import hashlib
import json

from assistant.errors import ParseError

RECORDS = "records-1"
TEXT = "text-1"
KINDS = (RECORDS, TEXT)


def records_fingerprint(data: bytes, name: str) -> str:
    """``records-1:<sha256>`` of the parsed records of an ANWEB file; ParseError if unparseable."""
    from assistant.corpus.release import parse_records
    from assistant.serialize import to_jsonable

    codes, modifiers, _header = parse_records(data, name, release="")
    digest = hashlib.sha256()
    for table in (codes, modifiers):
        for key in sorted(table):
            row = json.dumps(to_jsonable(table[key]), sort_keys=True, ensure_ascii=False)
            digest.update(row.encode("utf-8") + b"\n")
    return f"{RECORDS}:{digest.hexdigest()}"


def text_fingerprint(data: bytes) -> str:
    """``text-1:<sha256>`` of a text file, blind to line endings and trailing blanks."""
    lines = [
        line.rstrip() for line in data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    ]
    while lines and not lines[-1]:
        lines.pop()
    digest = hashlib.sha256(b"\n".join(lines)).hexdigest()
    return f"{TEXT}:{digest}"


def fingerprint(kind: str, data: bytes, name: str) -> str:
    """The fingerprint of ``data`` of the given kind (the part of a manifest value before ':')."""
    if kind == RECORDS:
        return records_fingerprint(data, name)
    if kind == TEXT:
        return text_fingerprint(data)
    raise ParseError(f"{name}: unknown fingerprint kind {kind!r} (known: {', '.join(KINDS)})")


def matches(expected: str, data: bytes, name: str) -> bool:
    """Whether ``data`` has the fingerprint ``expected`` (``kind:hex``); False if unparseable."""
    kind, _, _hex = expected.partition(":")
    try:
        return fingerprint(kind, data, name) == expected
    except ParseError:
        return False
