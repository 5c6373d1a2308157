"""The lightweight record store beside the index: every parsed record in one SQLite file.

Lookups read it directly: no embedding model, no Chroma, no torch on this path.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from assistant import serialize
from assistant.errors import NotFoundError, UsageError
from assistant.records import (
    CODE_PATTERN,
    MODIFIER_PATTERN,
    CodeRecord,
    CrosswalkEntry,
    DrugEntry,
    Passage,
)

_SCHEMA = """
CREATE TABLE releases (id TEXT PRIMARY KEY, effective TEXT, title TEXT, noc_list TEXT,
                       layout TEXT, codes INTEGER, modifiers INTEGER);
CREATE TABLE codes (release TEXT, kind TEXT, code TEXT, data TEXT,
                    PRIMARY KEY (code, kind, release));
CREATE TABLE drugs (id TEXT PRIMARY KEY, data TEXT);
CREATE TABLE crosswalk (id TEXT PRIMARY KEY, code TEXT, data TEXT);
CREATE TABLE passages (id TEXT PRIMARY KEY, source TEXT, data TEXT);
CREATE TABLE documents (id TEXT PRIMARY KEY, kind TEXT, ref TEXT, text TEXT, releases TEXT);
CREATE INDEX crosswalk_code ON crosswalk (code);
"""
# Derived at build from the parsed records (the second ranking stage reads them).
_DERIVED_SCHEMA = """
CREATE TABLE attributes (descriptor TEXT PRIMARY KEY, data TEXT);
CREATE TABLE successors (code TEXT, successor TEXT, basis TEXT, PRIMARY KEY (code, successor));
CREATE TABLE glossary (n INTEGER PRIMARY KEY, terms TEXT, means TEXT, basis TEXT, source TEXT,
                       matchcase INTEGER);
CREATE TABLE families (key TEXT, code TEXT, PRIMARY KEY (key, code));
"""


@dataclass(frozen=True)
class ReleaseInfo:
    id: str
    effective: date
    title: str
    noc_list: str
    layout: str
    codes: int
    modifiers: int


def normalize_code(text: str) -> tuple[str, str]:
    """A typed code or modifier (``e0601``, ``-kx``) -> (``E0601``, kind); UsageError if bad."""
    value = text.strip().upper().lstrip("-")
    if CODE_PATTERN.match(value):
        return value, "code"
    if MODIFIER_PATTERN.match(value):
        return value, "modifier"
    raise UsageError(
        f"{text.strip()[:40]!r} is not a HCPCS Level II code "
        "(a letter and four digits, e.g. E0601) "
        "or modifier (two characters, e.g. KX)"
    )


def write_codebook(path: Path, corpus, documents: Iterable) -> None:
    """Write every record of ``corpus`` and the index documents to a new SQLite file."""
    con = sqlite3.connect(path)
    try:
        con.executescript(_SCHEMA)
        for rid in sorted(corpus.releases):
            rel = corpus.releases[rid]
            con.execute(
                "INSERT INTO releases VALUES (?,?,?,?,?,?,?)",
                (
                    rid,
                    rel.effective.isoformat(),
                    rel.title,
                    rel.noc_list,
                    rel.layout_name,
                    len(rel.codes),
                    len(rel.modifiers),
                ),
            )
            con.executemany(
                "INSERT INTO codes VALUES (?,?,?,?)",
                (
                    (rid, r.kind, r.code, serialize.dumps(r))
                    for r in (*rel.codes.values(), *rel.modifiers.values())
                ),
            )
        con.executemany(
            "INSERT INTO drugs VALUES (?,?)", ((d.id, serialize.dumps(d)) for d in corpus.drugs)
        )
        con.executemany(
            "INSERT INTO crosswalk VALUES (?,?,?)",
            ((c.id, c.code, serialize.dumps(c)) for c in corpus.crosswalk),
        )
        con.executemany(
            "INSERT INTO passages VALUES (?,?,?)",
            ((p.id, p.source, serialize.dumps(p)) for p in corpus.passages),
        )
        con.executemany(
            "INSERT INTO documents VALUES (?,?,?,?,?)",
            ((d.id, d.kind, d.ref, d.text, ",".join(d.releases)) for d in documents),
        )
        con.commit()
    finally:
        con.close()


def write_derived(
    path: Path,
    attributes: dict,
    successors: Iterable,
    glossary: Iterable,
    families: dict[str, list[str]],
) -> None:
    """Add what the build derives from the records: descriptor attributes (descriptor text ->
    ``Attributes.to_data()``), successors of terminated codes, the glossary, and the drug
    families (family key -> codes)."""
    import json

    con = sqlite3.connect(path)
    try:
        con.executescript(_DERIVED_SCHEMA)
        con.executemany(
            "INSERT INTO attributes VALUES (?,?)",
            ((text, json.dumps(data, separators=(",", ":"))) for text, data in attributes.items()),
        )
        con.executemany(
            "INSERT INTO successors VALUES (?,?,?)",
            ((s.code, s.successor, s.basis) for s in successors),
        )
        con.executemany(
            "INSERT INTO glossary VALUES (?,?,?,?,?,?)",
            (
                (n, json.dumps(list(e.terms)), e.means, e.basis, e.source, int(e.case))
                for n, e in enumerate(glossary)
            ),
        )
        con.executemany(
            "INSERT INTO families VALUES (?,?)",
            ((key, code) for key, codes in families.items() for code in codes),
        )
        con.commit()
    finally:
        con.close()


class Codebook:
    """Read access to the record store of a built index."""

    def __init__(self, path: Path):
        self.path = path
        # Read-only and immutable: the file never changes once its build is swapped in.
        self._con = sqlite3.connect(
            f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False
        )
        self._lock = threading.Lock()  # one connection, shared by the app's threads

    def close(self) -> None:
        self._con.close()

    def releases(self) -> list[ReleaseInfo]:
        rows = self._rows("SELECT * FROM releases ORDER BY id")
        return [
            ReleaseInfo(r[0], date.fromisoformat(r[1]), r[2], r[3], r[4], r[5], r[6]) for r in rows
        ]

    def check_release(self, release: str | None) -> str:
        """The release id to use: ``release`` if loaded, else the newest; UsageError if unknown."""
        known = [r.id for r in self.releases()]
        if release is None:
            return known[-1]
        if release not in known:
            raise UsageError(f"unknown release {release!r} (loaded: {', '.join(known)})")
        return release

    def _rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._lock:
            try:
                return self._con.execute(sql, params).fetchall()
            except sqlite3.DatabaseError as exc:
                from assistant.errors import IndexDamagedError

                raise IndexDamagedError(
                    f"the record store {self.path} is damaged ({exc}); run `hcpcs index build`"
                ) from None

    def code_keys(self) -> frozenset[tuple[str, str]]:
        """Every (kind, code) of every loaded release."""
        return frozenset(self._rows("SELECT DISTINCT kind, code FROM codes"))

    def history(self, code: str, kind: str) -> list[CodeRecord]:
        """The record of a code or modifier in every loaded release that has it, oldest first."""
        rows = self._rows(
            "SELECT data FROM codes WHERE code=? AND kind=? ORDER BY release", (code, kind)
        )
        return [serialize.loads(CodeRecord, r[0]) for r in rows]

    def latest(self, code: str, kind: str, release: str) -> CodeRecord | None:
        """The record of a code in ``release``, else in the latest release before it."""
        rows = self._rows(
            "SELECT data FROM codes WHERE code=? AND kind=? AND release<=? "
            "ORDER BY release DESC LIMIT 1",
            (code, kind, release),
        )
        return serialize.loads(CodeRecord, rows[0][0]) if rows else None

    def lookup(self, text: str, release: str | None = None) -> list[CodeRecord]:
        """Records of a typed code in every release (or one); errors for malformed or unknown."""
        code, kind = normalize_code(text)
        records = self.history(code, kind)
        if release is not None:
            release = self.check_release(release)
            records = [r for r in records if r.release == release]
            if not records:
                raise NotFoundError(f"{kind} {code} is not in the CMS HCPCS {release} release")
        if not records:
            raise NotFoundError(f"{kind} {code} is not in any loaded CMS HCPCS release")
        return records

    def all_codes(self) -> list[CodeRecord]:
        """Every record of every release, ordered by code then release."""
        rows = self._rows("SELECT data FROM codes ORDER BY code, kind, release")
        return [serialize.loads(CodeRecord, r[0]) for r in rows]

    def records_of(self, release: str) -> dict[tuple[str, str], CodeRecord]:
        """Every record of one release, by (kind, code)."""
        rows = self._rows("SELECT data FROM codes WHERE release=?", (release,))
        records = (serialize.loads(CodeRecord, r[0]) for r in rows)
        return {(r.kind, r.code): r for r in records}

    def get(self, code: str, kind: str, release: str) -> CodeRecord | None:
        rows = self._rows(
            "SELECT data FROM codes WHERE code=? AND kind=? AND release=?", (code, kind, release)
        )
        return serialize.loads(CodeRecord, rows[0][0]) if rows else None

    def drugs(self) -> list[DrugEntry]:
        rows = self._rows("SELECT data FROM drugs ORDER BY rowid")
        return [serialize.loads(DrugEntry, r[0]) for r in rows]

    def crosswalk(self, code: str | None = None) -> list[CrosswalkEntry]:
        if code is None:
            rows = self._rows("SELECT data FROM crosswalk ORDER BY rowid")
        else:
            rows = self._rows("SELECT data FROM crosswalk WHERE code=?", (code,))
        return [serialize.loads(CrosswalkEntry, r[0]) for r in rows]

    def passages(self) -> list[Passage]:
        rows = self._rows("SELECT data FROM passages ORDER BY rowid")
        return [serialize.loads(Passage, r[0]) for r in rows]

    def attributes(self, descriptors: Iterable[str]) -> dict[str, dict]:
        """Descriptor text -> its parsed attributes (as stored), for the texts asked about."""
        import json

        wanted = list(dict.fromkeys(descriptors))
        out: dict[str, dict] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._rows(
                f"SELECT descriptor, data FROM attributes WHERE descriptor IN ({marks})",
                tuple(chunk),
            )
            out.update((text, json.loads(data)) for text, data in rows)
        return out

    def negated_features(self) -> frozenset[str]:
        """Every feature some descriptor negates ("without mattress" -> mattress)."""
        import json

        rows = self._rows("SELECT data FROM attributes")
        return frozenset(f for (data,) in rows for f in json.loads(data)["n"])

    def successors(self) -> dict[str, list[tuple[str, str]]]:
        """Terminated code -> [(successor, basis)]."""
        out: dict[str, list[tuple[str, str]]] = {}
        for code, successor, basis in self._rows(
            "SELECT code, successor, basis FROM successors ORDER BY code, successor"
        ):
            out.setdefault(code, []).append((successor, basis))
        return out

    def family(self, key: str) -> list[str]:
        """The drug codes of a family (assistant.drug_units.family_key), as the build found."""
        return [
            r[0] for r in self._rows("SELECT code FROM families WHERE key=? ORDER BY code", (key,))
        ]

    def glossary(self):
        """The glossary entries the index was built with."""
        import json

        from assistant.glossary import Entry

        rows = self._rows("SELECT terms, means, basis, source, matchcase FROM glossary ORDER BY n")
        return [Entry(tuple(json.loads(t)), m, b, s, bool(c)) for t, m, b, s, c in rows]

    def documents(self) -> list[tuple[str, str, str, str, tuple[str, ...]]]:
        rows = self._rows("SELECT id, kind, ref, text, releases FROM documents ORDER BY rowid")
        return [(r[0], r[1], r[2], r[3], tuple(filter(None, r[4].split(",")))) for r in rows]
